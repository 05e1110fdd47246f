import { DaosError } from './errors.js';

const SUFFIX_SHIFT: Record<string, bigint> = { '': 0n, k: 10n, m: 20n, g: 30n, t: 40n, p: 50n };

/**
 * Parse a size the way dmg and IOR take it: a number with an optional binary suffix
 * (k, m, g, t, p; an optional trailing 'b' or 'ib' is accepted), e.g. "4G", "512k", "1MiB".
 */
export function parseBytes(input: string | number | bigint, what = 'size'): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0)
      throw new DaosError('DER_INVAL', `${what}: ${input} is not a byte count`);
    return input;
  }
  if (typeof input === 'bigint') return parseBytes(Number(input), what);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(input);
  if (!m)
    throw new DaosError('DER_INVAL', `${what}: cannot parse "${input}" (expected e.g. 4G, 512k, 1048576)`);
  const value = Number(m[1]) * 2 ** Number(SUFFIX_SHIFT[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(Math.round(value)))
    throw new DaosError('DER_INVAL', `${what}: "${input}" is too large`);
  return Math.round(value);
}

/**
 * The first value of a field that counts bytes and may pass 2^31: zero, as a number V8 keeps as a
 * double from the start (-0 is not a small integer). A field that first holds small integers and
 * later a larger number changes the layout of every object of its class once, and V8 then throws
 * away the optimized code of everything that used that layout: in bench:vos, `writePiece` and
 * `Engine.updateOnce` (and what they had inlined) went back to the interpreter at the first timed
 * write and were compiled again ~700 writes later (bench/README.md, "Closures made per call").
 * Where such a value leaves its object, `+ 0` makes it 0.
 */
export const BYTES_ZERO = -0;

/** Format bytes with a binary suffix for humans: 1536 -> "1.50 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(2)} ${units[i]}`;
}
