import * as A from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { copyBits } from './encode.js';
import { schemaNodes } from './nodes.js';

describe('copyBits', () => {
  it('gives bits [bit, bit + n) from bit 0, for every bit offset and length', () => {
    const src = Uint8Array.from({ length: 9 }, (_, i) => (i * 73 + 29) & 0xff);
    const bitAt = (b: Uint8Array, i: number) => (b[i >> 3]! >> (i & 7)) & 1;
    for (let bit = 0; bit < 17; bit++)
      for (let n = 0; bit + n <= 72; n += 5) {
        const out = copyBits(src, bit, n);
        expect(out.byteLength).toBe((n + 7) >> 3);
        for (let i = 0; i < n; i++) expect(bitAt(out, i), `bit ${bit} + ${i}`).toBe(bitAt(src, bit + i));
      }
  });
});

describe('schemaNodes', () => {
  it('numbers fields, children and dictionary values depth first, with their kinds and widths', () => {
    const schema = new A.Schema([
      new A.Field('a', new A.Int16()),
      new A.Field('s', new A.Struct([new A.Field('l', new A.LargeList(new A.Field('x', new A.Utf8View())))])),
      new A.Field('d', new A.Dictionary(new A.LargeUtf8(), new A.Uint8(), 3)),
      new A.Field('dec', new A.Decimal(2, 30, 128)),
    ]);
    const { roots, all } = schemaNodes(schema);
    expect(all.map((n) => [n.id, n.kind, n.width])).toEqual([
      [0, 'fixed', 2],
      [1, 'struct', 0],
      [2, 'list', 8],
      [3, 'view', 0],
      [4, 'dict', 1],
      [5, 'varbin', 8],
      [6, 'fixed', 16],
    ]);
    expect(roots.map((r) => r.id)).toEqual([0, 1, 4, 6]);
    expect(roots[2]!.dict!.id).toBe(5);
  });

  it('refuses unions, naming the column', () => {
    const u = new A.DenseUnion([0], [new A.Field('n', new A.Int32())]);
    const schema = new A.Schema([new A.Field('s', new A.Struct([new A.Field('u', u)]))]);
    expect(() => schemaNodes(schema)).toThrow(/DER_NOTSUPPORTED.*column "s\.u".*union/);
  });
});
