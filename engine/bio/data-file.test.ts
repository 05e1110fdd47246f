import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataFile } from './data-file.js';

describe('DataFile', () => {
  it('writes queued runs at their offsets and reads them back', () => {
    const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bio-')), 'data.bin');
    const f = DataFile.open(p);
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(100, i));
    // Queued out of order with a gap: two contiguous runs.
    for (let i = 49; i >= 0; i--) if (i !== 20) f.queueWrite(i * 100, chunks[i]!);
    f.queueWrite(20 * 100, chunks[20]!);
    expect(f.hasPendingWrites).toBe(true);
    f.flushWrites();
    f.sync();
    expect(f.sizeBytes).toBe(5000);
    for (let i = 0; i < 50; i++) expect(f.readValue(i * 100, 100)).toEqual(chunks[i]);
    const big = Buffer.alloc(200 * 1024, 7);
    f.queueWrite(5000, big);
    f.flushWrites();
    expect(f.readValue(5000, big.length)).toEqual(big);
    const out = Buffer.alloc(300);
    f.read(50, 200, out, 100);
    expect(out.subarray(100, 150)).toEqual(Buffer.alloc(50, 0));
    expect(out.subarray(150, 250)).toEqual(Buffer.alloc(100, 1));
    f.truncate(100);
    expect(f.sizeBytes).toBe(100);
    f.close();
  });
});
