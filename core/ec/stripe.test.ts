import { describe, expect, it } from 'vitest';
import { DaosError } from '../common/errors.js';
import type { Recx } from '../wire/obj-types.js';
import { seededRandom } from '../wire/seeded-random.js';
import { EcCodec } from './codec.js';
import { EC_CELL_BYTES_DEFAULT } from './limits.js';
import {
  assembleStripe,
  cellExtent,
  cellRecordsFor,
  cellsToReadBack,
  degradedReadPlan,
  locateRecord,
  parityIndex,
  rangesOfShard,
  recordShard,
  splitExtent,
  stripeExtent,
  stripesTouched,
  untagParity,
} from './stripe.js';

/** Brute force: the (stripe, data shard) of one record, straight from the layout's definition. */
function place(r: bigint, k: number, cr: number): { stripe: bigint; shard: number } {
  const K = BigInt(k);
  const C = BigInt(cr);
  return { stripe: r / (K * C), shard: Number((r / C) % K) };
}

function randInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

function daosCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof DaosError) return e.code;
    throw e;
  }
  return undefined;
}

const SHAPES: Array<[number, number]> = [
  [1, 1],
  [2, 1],
  [2, 3],
  [4, 2],
  [4, 7],
  [3, 5],
];

describe('cell size', () => {
  it('is max(1, floor(cellBytes / rsize)) with a 128 KiB default', () => {
    expect(EC_CELL_BYTES_DEFAULT).toBe(131072);
    expect(cellRecordsFor(1)).toBe(131072);
    expect(cellRecordsFor(3)).toBe(43690);
    expect(cellRecordsFor(200_000)).toBe(1);
    expect(cellRecordsFor(8, 64)).toBe(8);
    expect(daosCode(() => cellRecordsFor(0))).toBe('DER_INVAL');
  });
});

describe.each(SHAPES)('geometry k=%i cellRecords=%i against a per-record brute force', (k, cr) => {
  it('splitExtent: ordered, gap-free pieces, each inside one cell of the right shard and stripe', () => {
    const rand = seededRandom(k * 100 + cr);
    for (let round = 0; round < 300; round++) {
      const idx = BigInt(randInt(rand, 0, 200));
      const nr = BigInt(randInt(rand, 1, 60));
      const pieces = splitExtent(idx, nr, k, cr);
      let next = idx;
      for (let n = 0; n < pieces.length; n++) {
        const pc = pieces[n]!;
        expect(pc.idx).toBe(next);
        expect(pc.offsetInExtent).toBe(pc.idx - idx);
        expect(pc.nr).toBeGreaterThan(0n);
        for (let r = pc.idx; r < pc.idx + pc.nr; r++)
          expect(place(r, k, cr)).toEqual({ stripe: pc.stripe, shard: pc.shard });
        // maximal: the record after a piece (if in the extent) is in another cell
        if (n + 1 < pieces.length) expect((pc.idx + pc.nr) % BigInt(cr)).toBe(0n);
        next = pc.idx + pc.nr;
      }
      expect(next).toBe(idx + nr);
      const r = idx + BigInt(randInt(rand, 0, Number(nr) - 1));
      const loc = locateRecord(r, k, cr);
      expect({ stripe: loc.stripe, shard: loc.shard }).toEqual(place(r, k, cr));
      expect(loc.offsetInCell).toBe(Number(r % BigInt(cr)));
    }
  });

  it('stripesTouched: stripes, cell coverage and fullness match counting records one by one', () => {
    const rand = seededRandom(k * 7 + cr * 13);
    for (let round = 0; round < 200; round++) {
      const extents: Recx[] = [];
      const n = randInt(rand, 1, 4);
      for (let i = 0; i < n; i++)
        extents.push({ idx: BigInt(randInt(rand, 0, 120)), nr: BigInt(randInt(rand, 1, 40)) });
      const covered = new Set<bigint>();
      for (const e of extents) for (let r = e.idx; r < e.idx + e.nr; r++) covered.add(r);
      const perCell = new Map<bigint, number[]>();
      for (const r of covered) {
        const { stripe, shard } = place(r, k, cr);
        const cells = perCell.get(stripe) ?? new Array<number>(k).fill(0);
        cells[shard]!++;
        perCell.set(stripe, cells);
      }
      const expected = [...perCell.keys()]
        .sort((a, b) => (a < b ? -1 : 1))
        .map((stripe) => {
          const cells = perCell.get(stripe)!.map((c) => (c === cr ? 'full' : c === 0 ? 'none' : 'partial'));
          return { stripe, full: cells.every((c) => c === 'full'), cells };
        });
      expect(stripesTouched(extents, k, cr)).toEqual(expected);
    }
  });

  it('cell, stripe and parity extents follow the layout', () => {
    const p = 3;
    for (let s = 0n; s < 5n; s++) {
      const st = stripeExtent(s, k, cr);
      expect(st).toEqual({ idx: s * BigInt(k * cr), nr: BigInt(k * cr) });
      for (let c = 0; c < k; c++) {
        const ce = cellExtent(s, c, k, cr);
        expect(ce.nr).toBe(BigInt(cr));
        for (let r = ce.idx; r < ce.idx + ce.nr; r++)
          expect(place(r, k, cr)).toEqual({ stripe: s, shard: c });
      }
      for (let j = 0; j < p; j++) {
        // Bit 63 marks parity, bits 60..62 the parity cell, the rest is the stripe's cell.
        const idx = (1n << 63n) + (BigInt(j) << 60n) + s * BigInt(cr);
        expect(parityIndex(s, cr, j)).toEqual({ idx, nr: BigInt(cr) });
        expect(recordShard(idx, k, cr)).toBe(k + j);
      }
    }
  });

  it('rangesOfShard keeps one role of a target holding several', () => {
    const kb = BigInt(k);
    const crb = BigInt(cr);
    // A target holding cells of every data shard for stripes 0..2 (one range), and parity cells 0
    // and 1 of stripes 1..2.
    const all = [
      { idx: 0n, nr: 3n * kb * crb, epoch: 5n },
      { ...parityIndex(1n, cr, 0), nr: 2n * crb, epoch: 6n },
      { ...parityIndex(1n, cr, 1), nr: 2n * crb, epoch: 7n },
    ];
    for (let shard = 0; shard < k; shard++) {
      const got = rangesOfShard(all, shard, k, cr);
      expect(got).toEqual([0n, 1n, 2n].map((s) => ({ ...cellExtent(s, shard, k, cr), epoch: 5n })));
      for (const r of got) expect(recordShard(r.idx, k, cr)).toBe(shard);
    }
    expect(rangesOfShard(all, k, k, cr)).toEqual([
      { idx: parityIndex(1n, cr, 0).idx, nr: 2n * crb, epoch: 6n },
    ]);
    expect(untagParity(parityIndex(1n, cr, 0).idx)).toBe(crb);
    expect(rangesOfShard(all, k + 1, k, cr)).toEqual([
      { idx: parityIndex(1n, cr, 1).idx, nr: 2n * crb, epoch: 7n },
    ]);
    // Ranges starting and ending anywhere: record by record, against the brute force.
    const rand = seededRandom(k * 31 + cr);
    for (let n = 0; n < 20; n++) {
      const r = {
        idx: BigInt(Math.floor(rand() * 4 * k * cr)),
        nr: BigInt(1 + Math.floor(rand() * 3 * k * cr)),
      };
      for (let shard = 0; shard < k; shard++) {
        const got = new Set<bigint>();
        for (const g of rangesOfShard([r], shard, k, cr))
          for (let i = g.idx; i < g.idx + g.nr; i++) got.add(i);
        const want = new Set<bigint>();
        for (let i = r.idx; i < r.idx + r.nr; i++) if (place(i, k, cr).shard === shard) want.add(i);
        expect(got).toEqual(want);
      }
    }
  });

  it('erasure-coded arrays end at 2^60 records (the tag bits of parity indexes)', () => {
    expect(() => splitExtent((1n << 60n) - 1n, 2n, k, cr)).toThrow(/EC_RECORD_INDEX_LIMIT/);
    expect(splitExtent((1n << 60n) - 1n, 1n, k, cr)).toHaveLength(1);
  });

  it('assembleStripe overlays extents on the old cells record by record', () => {
    const rsize = 3;
    const rand = seededRandom(k + cr * 5);
    for (let round = 0; round < 50; round++) {
      const array = new Map<bigint, number>(); // record -> first byte value (all rsize bytes the same)
      const stripe = BigInt(randInt(rand, 0, 3));
      const base = Array.from({ length: k }, () =>
        Uint8Array.from({ length: cr * rsize }, () => randInt(rand, 0, 255)),
      );
      const extents: Array<Recx & { data: Uint8Array }> = [];
      for (let i = 0; i < 3; i++) {
        const idx = BigInt(randInt(rand, 0, 4 * k * cr));
        const nr = BigInt(randInt(rand, 1, 2 * k * cr));
        const data = new Uint8Array(Number(nr) * rsize);
        for (let r = 0; r < Number(nr); r++) {
          const v = randInt(rand, 0, 255);
          data.fill(v, r * rsize, (r + 1) * rsize);
          array.set(idx + BigInt(r), v);
        }
        extents.push({ idx, nr, data });
      }
      const cells = assembleStripe(stripe, k, cr, rsize, extents, base);
      const lo = stripe * BigInt(k * cr);
      for (let c = 0; c < k; c++) {
        for (let o = 0; o < cr; o++) {
          const r = lo + BigInt(c * cr + o);
          for (let b = 0; b < rsize; b++) {
            const want = array.has(r) ? array.get(r)! : base[c]![o * rsize + b]!;
            expect(cells[c]![o * rsize + b]).toBe(want);
          }
        }
      }
      const zero = assembleStripe(stripe, k, cr, rsize, []);
      expect(zero.every((c) => c.length === cr * rsize && c.every((b) => b === 0))).toBe(true);
    }
  });
});

describe('geometry edges', () => {
  it('works near 2^60, where erasure-coded arrays end', () => {
    const top = 1n << 60n;
    const pieces = splitExtent(top - 10n, 10n, 4, 4);
    expect(pieces.map((p) => p.nr)).toEqual([2n, 4n, 4n]);
    expect(pieces[2]!.idx + pieces[2]!.nr).toBe(top);
    expect(pieces[0]!.stripe).toBe((top - 10n) / 16n);
    expect(stripesTouched([{ idx: top - 16n, nr: 16n }], 4, 4)).toEqual([
      { stripe: top / 16n - 1n, full: true, cells: ['full', 'full', 'full', 'full'] },
    ]);
    expect(daosCode(() => splitExtent(top - 1n, 2n, 4, 4))).toBe('DER_INVAL');
  });
  it('refuses bad shapes and runaway splits', () => {
    expect(daosCode(() => splitExtent(0n, 0n, 2, 4))).toBe('DER_INVAL');
    expect(daosCode(() => splitExtent(-1n, 1n, 2, 4))).toBe('DER_INVAL');
    expect(daosCode(() => splitExtent(0n, 1n, 0, 4))).toBe('DER_INVAL');
    expect(daosCode(() => splitExtent(0n, 1n, 2, 0))).toBe('DER_INVAL');
    expect(daosCode(() => splitExtent(0n, 1n << 40n, 2, 1))).toBe('DER_INVAL');
    expect(daosCode(() => stripesTouched([{ idx: 0n, nr: 1n << 40n }], 2, 1))).toBe('DER_INVAL');
    expect(daosCode(() => assembleStripe(0n, 2, 2, 4, [{ idx: 0n, nr: 2n, data: new Uint8Array(7) }]))).toBe(
      'DER_INVAL',
    );
    expect(daosCode(() => assembleStripe(0n, 2, 2, 4, [], [new Uint8Array(8)]))).toBe('DER_INVAL');
    expect(daosCode(() => degradedReadPlan(0n, 4, 2, 8, [0, 1, 5]))).toBe('DER_DATA_LOSS');
    expect(daosCode(() => degradedReadPlan(0n, 4, 2, 8, [6]))).toBe('DER_INVAL');
  });
  it('lists the cells a partial-stripe write reads back', () => {
    const [cover] = stripesTouched([{ idx: 7n, nr: 9n }], 4, 4);
    expect(cover!.cells).toEqual(['none', 'partial', 'full', 'full']);
    expect(cellsToReadBack(cover!, 4, 4)).toEqual([
      { shard: 0, recx: { idx: 0n, nr: 4n } },
      { shard: 1, recx: { idx: 4n, nr: 4n } },
    ]);
  });
});

/** A toy EC array: per-shard record stores filled the way an engine would, then read degraded. */
describe.each([
  [2, 1],
  [4, 2],
])('EC %i+%i array: write by stripes, read back with shards out', (k, p) => {
  it('rebuilds every lost data cell from the planned fetches', async () => {
    const codec = new EcCodec(k, p);
    const rsize = 5;
    const cr = 3;
    const stripes = 3n;
    const total = Number(stripes) * k * cr;
    const rand = seededRandom(k * 1000 + p);
    const data = Uint8Array.from({ length: total * rsize }, () => randInt(rand, 0, 255));
    // shard -> record index -> rsize bytes
    const shards = Array.from({ length: k + p }, () => new Map<bigint, Uint8Array>());
    const write = { idx: 0n, nr: BigInt(total), data };
    for (const cover of stripesTouched([write], k, cr)) {
      expect(cover.full).toBe(true);
      const cells = assembleStripe(cover.stripe, k, cr, rsize, [write]);
      const parity = await codec.encode(cells);
      for (let c = 0; c < k; c++) {
        const at = cellExtent(cover.stripe, c, k, cr);
        for (let o = 0; o < cr; o++)
          shards[c]!.set(at.idx + BigInt(o), cells[c]!.subarray(o * rsize, (o + 1) * rsize));
      }
      for (let j = 0; j < p; j++) {
        const pAt = parityIndex(cover.stripe, cr, j);
        for (let o = 0; o < cr; o++)
          shards[k + j]!.set(pAt.idx + BigInt(o), parity[j]!.subarray(o * rsize, (o + 1) * rsize));
      }
    }
    const fetchCell = (shard: number, recx: Recx): Uint8Array => {
      const out = new Uint8Array(Number(recx.nr) * rsize);
      for (let o = 0n; o < recx.nr; o++) out.set(shards[shard]!.get(recx.idx + o)!, Number(o) * rsize);
      return out;
    };
    const lossSets: number[][] = [];
    for (let mask = 1; mask < 1 << (k + p); mask++) {
      const s = [...Array(k + p).keys()].filter((i) => mask & (1 << i));
      if (s.length <= p) lossSets.push(s);
    }
    for (const lost of lossSets) {
      for (let s = 0n; s < stripes; s++) {
        const plan = degradedReadPlan(s, k, p, cr, lost);
        expect(plan.rebuild).toEqual(lost.filter((x) => x < k));
        if (plan.rebuild.length === 0) {
          expect(plan.fetch).toEqual([]);
          continue;
        }
        expect(plan.fetch).toHaveLength(k);
        const slots: Array<Uint8Array | undefined> = new Array(k + p).fill(undefined);
        for (const f of plan.fetch) {
          expect(lost).not.toContain(f.shard);
          slots[f.shard] = fetchCell(f.shard, f.recx);
        }
        const cells = await codec.reconstruct(slots);
        for (const c of plan.rebuild) {
          const at = cellExtent(s, c, k, cr);
          const want = data.subarray(Number(at.idx) * rsize, Number(at.idx + at.nr) * rsize);
          expect(Buffer.from(cells[c]!).equals(Buffer.from(want))).toBe(true);
        }
      }
    }
  });
});
