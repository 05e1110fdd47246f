/**
 * What the crash-test writer (a child process) and its parent agree on: the config file, the
 * line protocol of its log, and how every key, offset and value is derived from (seed, round, n), so
 * that the parent can recompute exactly what an acknowledged (or begun) write must have stored.
 *
 * Lines the writer appends to its round's log (one per event, written before the next write starts):
 *   begin <kind> <n> [keys...]   about to issue op n (kind kv | arr | tx | hot)
 *   ack <kind> <n> [key]         op n's promise resolved (the write is acknowledged)
 */

/** Written by the parent once, read by every writer round. */
export interface CrashConfig {
  dir: string;
  pool: string;
  cont: string;
  /** KV objects (oids as "hi.lo"), of striped classes so that a transaction spans several targets. */
  kv: string[];
  /** A byte array (cell 1, chunk ARRAY_CHUNK_BYTES), oid as "hi.lo". */
  array: string;
  seed: number;
}

export type OpKind = 'kv' | 'arr' | 'tx' | 'hot';

/** Concurrent op loops in the writer (plus one sequential loop for the hot key). */
export const WRITER_LOOPS = 4;
export const ARRAY_CHUNK_BYTES = 1 << 20;
export const ARRAY_WRITE_BYTES = 64 * 1024;
/** Each round writes its array ops in its own region, so rounds never overwrite one another. */
export const ARRAY_ROUND_STRIDE_BYTES = 1n << 36n;
/** The key every round overwrites, always from one sequential loop. */
export const HOT_KEY = 'hot';

/** A 32-bit hash of numbers (a murmur3 finaliser over each), stable across processes. */
export function mix(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** `len` bytes: a readable tag, then a xorshift stream seeded by the tag's hash. */
export function patternBytes(tag: string, seed: number, len: number): Buffer {
  const out = Buffer.alloc(len);
  const head = Buffer.from(`${tag}|`);
  head.copy(out, 0, 0, Math.min(head.length, len));
  let x = mix(seed, ...[...head].map((c) => c)) || 1;
  for (let i = head.length; i + 4 <= len; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

export function opKind(seed: number, round: number, n: number): Exclude<OpKind, 'hot'> {
  const r = mix(seed, round, n, 1) % 10;
  return r < 5 ? 'kv' : r < 7 ? 'arr' : 'tx';
}

/** Sizes mix small inline values and values of 4 KiB and more (the data-file path). */
function valueSize(h: number): number {
  switch (h % 4) {
    case 0:
      return 16 + (h % 200);
    case 1:
      return 1000 + (h % 3000);
    case 2:
      return 4096;
    default:
      return 4096 + (h % 16384);
  }
}

export function kvKey(round: number, n: number): string {
  return `r${round}-${n}`;
}

export function kvObject(seed: number, round: number, n: number, kvCount: number): number {
  return mix(seed, round, n, 2) % kvCount;
}

export function kvValue(seed: number, round: number, n: number): Buffer {
  return patternBytes(kvKey(round, n), seed, valueSize(mix(seed, round, n, 3)));
}

/** Long array writes start this far into their round's region, past every short one. */
const ARRAY_LONG_REGION_BYTES = 1n << 35n;

/**
 * Bytes of array op n: one in four writes a whole chunk (a long data-file write, which the engine
 * copies on the thread pool or splits over a target's member files), the rest ARRAY_WRITE_BYTES.
 */
export function arrayBytes(seed: number, round: number, n: number): number {
  return mix(seed, round, n, 6) % 4 === 0 ? ARRAY_CHUNK_BYTES : ARRAY_WRITE_BYTES;
}

/**
 * Byte offset of array op n: a multiple of its size, so a write never straddles a chunk (one
 * atomic update); long writes in a region of their own.
 */
export function arrayOffset(seed: number, round: number, n: number): bigint {
  const len = arrayBytes(seed, round, n);
  const base = BigInt(round) * ARRAY_ROUND_STRIDE_BYTES;
  return len === ARRAY_CHUNK_BYTES
    ? base + ARRAY_LONG_REGION_BYTES + BigInt(n) * BigInt(len)
    : base + BigInt(n) * BigInt(len);
}

export function arrayData(seed: number, round: number, n: number): Buffer {
  return patternBytes(`a${round}-${n}`, seed, arrayBytes(seed, round, n));
}

export interface TxEntry {
  obj: number;
  key: string;
  value: Buffer;
}

/** A transaction's 3–5 writes, over at least two KV objects; every value carries the tx id. */
export function txPlan(seed: number, round: number, n: number, kvCount: number): TxEntry[] {
  const count = 3 + (mix(seed, round, n, 4) % 3);
  const first = mix(seed, round, n, 5) % kvCount;
  const out: TxEntry[] = [];
  for (let i = 0; i < count; i++) {
    const key = `t${round}-${n}-${i}`;
    const size = i === 0 ? 4096 + (mix(seed, round, n, 6) % 8192) : valueSize(mix(seed, round, n, 7, i));
    out.push({ obj: (first + i) % kvCount, key, value: patternBytes(`tx ${round}-${n} ${key}`, seed, size) });
  }
  return out;
}

export function hotValue(seed: number, round: number, n: number): Buffer {
  const size = mix(seed, round, n, 8) % 2 === 0 ? 64 : 6000;
  return patternBytes(`hot r${round}-${n}`, seed, size);
}
