import { describe, expect, it } from 'vitest';
import { DaosError } from '../common/errors.js';
import { seededRandom } from '../wire/seeded-random.js';
import { EcCodec } from './codec.js';
import { gfEncode, gfMul, gfReconstruct } from './gf256.js';

function randomCells(rand: () => number, n: number, len: number): Uint8Array[] {
  const cells: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = new Uint8Array(len);
    for (let b = 0; b < len; b++) c[b] = Math.floor(rand() * 256);
    cells.push(c);
  }
  return cells;
}

/** Every subset of 0..n-1 with at most `max` members. */
function subsets(n: number, max: number): number[][] {
  const out: number[][] = [];
  for (let mask = 0; mask < 1 << n; mask++) {
    const s: number[] = [];
    for (let i = 0; i < n; i++) if (mask & (1 << i)) s.push(i);
    if (s.length <= max) out.push(s);
  }
  return out;
}

async function expectDaos(p: Promise<unknown> | (() => unknown), code: string, text?: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DaosError);
  expect((err as DaosError).code).toBe(code);
  if (text) expect((err as DaosError).message).toMatch(text);
}

const SIZES = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 63, 64, 100, 1000, 4097, 65536 + 3];

describe.each([
  [2, 1],
  [4, 2],
])('EcCodec %i+%i', (k, p) => {
  const codec = new EcCodec(k, p);

  it.each(SIZES)('rebuilds every combination of up to p missing cells, cell length %i', async (len) => {
    const rand = seededRandom(len * 31 + k);
    const data = randomCells(rand, k, len);
    const parity = await codec.encode(data);
    expect(parity).toHaveLength(p);
    for (const c of parity) expect(c.length).toBe(len);
    const all = [...data, ...parity];
    for (const lost of subsets(k + p, p)) {
      const slots = all.map((c, i) => (lost.includes(i) ? undefined : Uint8Array.from(c)));
      const out = await codec.reconstruct(slots);
      expect(out).toHaveLength(k + p);
      for (let i = 0; i < k + p; i++)
        expect(Buffer.from(out[i]!).equals(Buffer.from(all[i]!)), `cell ${i} lost ${lost}`).toBe(true);
    }
  });

  it('random lengths and contents round-trip with p cells lost', async () => {
    const rand = seededRandom(99 + k);
    for (let round = 0; round < 40; round++) {
      const len = 1 + Math.floor(rand() * 3000);
      const data = randomCells(rand, k, len);
      const parity = await codec.encode(data);
      const all = [...data, ...parity];
      const lost = new Set<number>();
      while (lost.size < p) lost.add(Math.floor(rand() * (k + p)));
      const out = await codec.reconstruct(all.map((c, i) => (lost.has(i) ? undefined : c)));
      for (let i = 0; i < k + p; i++) expect(Buffer.from(out[i]!).equals(Buffer.from(all[i]!))).toBe(true);
    }
  });

  it('parity changes when one data byte changes (the code is not a no-op)', async () => {
    for (const len of [5, 64, 67]) {
      const data = randomCells(seededRandom(len), k, len);
      const before = await codec.encode(data);
      data[k - 1]![len - 1]! ^= 1;
      const after = await codec.encode(data);
      for (let j = 0; j < p; j++) expect(Buffer.from(before[j]!).equals(Buffer.from(after[j]!))).toBe(false);
    }
  });

  it('a wrong surviving cell gives wrong data back (reconstruct really uses the cells)', async () => {
    const data = randomCells(seededRandom(5), k, 40);
    const parity = await codec.encode(data);
    const slots: Array<Uint8Array | undefined> = [...data, ...parity].map((c) => Uint8Array.from(c));
    slots[0] = undefined;
    slots[k]![3]! ^= 0xff;
    const out = await codec.reconstruct(slots);
    expect(Buffer.from(out[0]!).equals(Buffer.from(data[0]!))).toBe(false);
  });

  it('refuses more than p missing cells with DER_DATA_LOSS', async () => {
    const data = randomCells(seededRandom(1), k, 24);
    const all = [...data, ...(await codec.encode(data))];
    for (const lost of subsets(k + p, k + p).filter((s) => s.length > p)) {
      await expectDaos(
        codec.reconstruct(all.map((c, i) => (lost.includes(i) ? undefined : c))),
        'DER_DATA_LOSS',
        /at most/,
      );
    }
  });

  it('refuses zero-length and mismatched cells with DER_INVAL, before the native library sees them', async () => {
    const empty = Array.from({ length: k }, () => new Uint8Array(0));
    await expectDaos(codec.encode(empty), 'DER_INVAL', /data cell 0 is empty/);
    const one = Array.from({ length: k }, () => new Uint8Array(8));
    one[k - 1] = new Uint8Array(0);
    await expectDaos(codec.encode(one), 'DER_INVAL', new RegExp(`data cell ${k - 1} is empty`));
    await expectDaos(
      codec.reconstruct([...Array.from({ length: k + p - 1 }, () => new Uint8Array(0)), undefined]),
      'DER_INVAL',
      /empty/,
    );
    const uneven = Array.from({ length: k }, (_, i) => new Uint8Array(8 + i));
    await expectDaos(codec.encode(uneven), 'DER_INVAL', /share one length/);
    await expectDaos(
      codec.encode(Array.from({ length: k + 1 }, () => new Uint8Array(8))),
      'DER_INVAL',
      /takes/,
    );
    await expectDaos(
      codec.reconstruct(Array.from({ length: k }, () => new Uint8Array(8))),
      'DER_INVAL',
      /slots/,
    );
    await expectDaos(
      codec.reconstruct([
        new Uint8Array(8),
        ...Array.from({ length: k + p - 2 }, () => new Uint8Array(16)),
        undefined,
      ]),
      'DER_INVAL',
      /cell 1 is 16 bytes/,
    );
    // still alive and working afterwards
    const data = randomCells(seededRandom(2), k, 8);
    expect(await codec.encode(data)).toHaveLength(p);
  });

  it('runs concurrent calls independently', async () => {
    const rand = seededRandom(7);
    const stripes = Array.from({ length: 16 }, (_, i) => randomCells(rand, k, 1024 + i * 8));
    const parities = await Promise.all(stripes.map((d) => codec.encode(d)));
    const outs = await Promise.all(
      stripes.map((d, s) => codec.reconstruct([undefined, ...d.slice(1), ...parities[s]!])),
    );
    for (let s = 0; s < outs.length; s++)
      expect(Buffer.from(outs[s]![0]!).equals(Buffer.from(stripes[s]![0]!))).toBe(true);
  });
});

describe('EcCodec shapes', () => {
  it('refuses bad k and p', async () => {
    await expectDaos(() => new EcCodec(0, 1), 'DER_INVAL', /data cells/);
    await expectDaos(() => new EcCodec(25, 1), 'DER_INVAL', /data cells/);
    await expectDaos(() => new EcCodec(2, 0), 'DER_INVAL', /parity cells/);
    await expectDaos(() => new EcCodec(2, 7), 'DER_INVAL', /parity cells/);
    await expectDaos(() => new EcCodec(2.5, 1), 'DER_INVAL', /data cells/);
  });
  it('returns present cells untouched when nothing is missing', async () => {
    const codec = new EcCodec(2, 1);
    const data = randomCells(seededRandom(3), 2, 9);
    const all = [...data, ...(await codec.encode(data))];
    const out = await codec.reconstruct(all);
    for (let i = 0; i < 3; i++) expect(out[i]).toBe(all[i]);
  });
});

describe('GF(256) tail code', () => {
  it('multiplies as the field 0x11d', () => {
    expect(gfMul(2, 0x80)).toBe(0x1d);
    expect(gfMul(3, 7)).toBe(9);
    for (let a = 1; a < 256; a++) expect(gfMul(a, 1)).toBe(a);
  });
  it('is MDS for 6+3 byte-wise', () => {
    const rand = seededRandom(11);
    const data = randomCells(rand, 6, 5);
    const all = [...data, ...gfEncode(6, 3, data, 5)];
    for (const lost of subsets(9, 3)) {
      const out = gfReconstruct(
        6,
        3,
        all.map((c, i) => (lost.includes(i) ? undefined : c)),
        5,
      );
      for (let i = 0; i < 9; i++) expect(Array.from(out[i]!)).toEqual(Array.from(all[i]!));
    }
  });
});
