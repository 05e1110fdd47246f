import { describe, expect, it } from 'vitest';
import { type AllocatorStore, type Extent, ExtentAllocator, verifyTiling } from './allocator.js';

function memStore() {
  const free = new Map<number, number>();
  const store: AllocatorStore = {
    putFree: (off, len) => free.set(off, len),
    removeFree: (off) => free.delete(off),
  };
  return { store, free };
}

describe('ExtentAllocator', () => {
  it('bumps the high-water mark, reuses and coalesces freed space', () => {
    const a = new ExtentAllocator(0, []);
    expect(a.reserve(100)).toBe(0);
    expect(a.reserve(50)).toBe(100);
    expect(a.reserve(10)).toBe(150);
    a.release(0, 100);
    a.release(150, 10);
    expect(a.freeBytes).toBe(110);
    a.release(100, 50);
    expect(a.freeExtents).toEqual([{ off: 0, len: 160 }]);
    expect(a.reserve(60)).toBe(0);
    expect(a.freeExtents).toEqual([{ off: 60, len: 100 }]);
    expect(a.usedBytes).toBe(60);
  });

  it('persists exactly the in-memory free list', () => {
    const a = new ExtentAllocator(0, []);
    const m = memStore();
    const offs = Array.from({ length: 20 }, (_, i) => a.reserve(10 + i));
    a.persist(m.store);
    for (const [i, off] of offs.entries()) if (i % 3 !== 0) a.release(off, 10 + i);
    a.reserve(15);
    a.persist(m.store);
    const persisted = [...m.free.entries()].map(([off, len]) => ({ off, len })).sort((x, y) => x.off - y.off);
    expect(persisted).toEqual(a.freeExtents);
  });

  it('refuses a double free', () => {
    const a = new ExtentAllocator(0, []);
    a.reserve(100);
    a.release(10, 20);
    expect(() => a.release(15, 5)).toThrow(/double free/);
  });
});

describe('verifyTiling', () => {
  const refs: Extent[] = [
    { off: 0, len: 10 },
    { off: 30, len: 10 },
  ];
  it('accepts free + referenced tiling [0, highWater)', () => {
    expect(
      verifyTiling(
        50,
        [
          { off: 10, len: 20 },
          { off: 40, len: 10 },
        ],
        refs,
      ),
    ).toBeUndefined();
  });
  it('rebuilds the free list around the referenced extents', () => {
    expect(verifyTiling(60, [{ off: 10, len: 20 }], refs)).toEqual([
      { off: 10, len: 20 },
      { off: 40, len: 20 },
    ]);
  });
});
