import { describe, expect, it } from 'vitest';
import {
  BUFFER_POOL_IDLE_BYTES_MAX,
  BUFFER_POOL_MAX_BYTES,
  BUFFER_POOL_MIN_BYTES,
  BufferPool,
} from './buffer-pool.js';

describe('BufferPool', () => {
  it('hands out power-of-two buffers, reuses given-back ones, and keeps a bounded idle set', () => {
    const pool = new BufferPool();
    expect(pool.take(BUFFER_POOL_MIN_BYTES - 1)).toBeUndefined();
    expect(pool.take(BUFFER_POOL_MAX_BYTES + 1)).toBeUndefined();
    const a = pool.take(300 * 1024)!;
    expect(a.byteLength).toBe(512 * 1024);
    pool.give(a);
    expect(pool.idle).toBe(512 * 1024);
    expect(pool.take(400 * 1024)).toBe(a);
    expect(pool.idle).toBe(0);
    const many = Array.from(
      { length: BUFFER_POOL_IDLE_BYTES_MAX / BUFFER_POOL_MAX_BYTES + 2 },
      () => pool.take(BUFFER_POOL_MAX_BYTES)!,
    );
    for (const m of many) pool.give(m);
    expect(pool.idle).toBe(BUFFER_POOL_IDLE_BYTES_MAX);
  });
});
