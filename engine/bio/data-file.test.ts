import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { countLoopTurns } from '../../test/loop-turns.js';
import { DATA_STRIPE_BYTES, DataFile, SINGLE_FILE, STRIPED, writeLoneRunsOnPool } from './data-file.js';

/** Folders this file's tests made, removed after each test. */
const made: string[] = [];
function tempFile(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bio-'));
  made.push(d);
  return path.join(d, 'data.bin');
}
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('DataFile', () => {
  describe('striped over two files', () => {
    const S = DATA_STRIPE_BYTES;
    /** Where logical byte `o` lies by the layout's definition: [member file, offset there]. */
    const where = (o: number): [number, number] => {
      const stripe = Math.floor(o / S);
      return [stripe % 2, Math.floor(stripe / 2) * S + (o % S)];
    };
    // Values of every kind of placement: inside a stripe of either file (one a whole stripe),
    // across one boundary, across several, unaligned, long enough for the pool, written each way
    // a commit writes them.
    const values: Array<[number, Buffer]> = [
      [0, randomBytes(1000)],
      [S - 300, randomBytes(700)],
      [2 * S + 12_345, randomBytes(3 * S + 777)],
      [7 * S, randomBytes(S)],
      [8 * S, randomBytes(2 * S)],
      [11 * S + 100, randomBytes(2000)],
      [12 * S + 4096, randomBytes(S)],
    ];

    it('puts each byte where the layout says and reads every value back, here and on the pool', async () => {
      const file = tempFile();
      for (const mode of ['transaction', 'flush', 'serving'] as const) {
        fs.rmSync(file, { force: true });
        fs.rmSync(`${file}.1`, { force: true });
        const f = DataFile.open(file, STRIPED);
        writeLoneRunsOnPool(mode === 'serving');
        try {
          for (const [off, v] of values) {
            f.queueWrite(off, v);
            // A long lone run is written by the transaction (or, serving, on the pool).
            if (mode !== 'transaction') await f.flushWritesAsync();
            f.flushWrites();
          }
          const members = [fs.readFileSync(file), fs.readFileSync(`${file}.1`)];
          for (const [off, v] of values)
            for (const i of [0, 1, v.length >> 1, v.length - 1]) {
              const [m, pos] = where(off + i);
              expect(members[m]![pos], `${mode}: byte ${off + i}`).toBe(v[i]);
            }
          // Each value alone (a lone long one split, part here, part on the pool), then all at
          // once (runs, several long ones on the pool), then into a caller's buffer at an offset.
          for (const [off, v] of values)
            expect((await f.deferReads(() => f.readValue(off, v.length))).equals(v)).toBe(true);
          const all = await f.deferReads(() => values.map(([off, v]) => f.readValue(off, v.length)));
          for (let k = 0; k < all.length; k++) expect(all[k]!.equals(values[k]![1])).toBe(true);
          const [off, v] = values[2]!;
          const out = Buffer.alloc(v.length + 10);
          await f.deferReads(() => f.read(off, v.length, out, 10));
          expect(out.subarray(10).equals(v)).toBe(true);
          expect(f.sizeBytes).toBe(12 * S + 4096 + S);
        } finally {
          writeLoneRunsOnPool(false);
          f.close();
        }
      }
    });

    it('measures and truncates the logical data over both files, and finds it again on reopen', () => {
      const file = tempFile();
      const f = DataFile.open(file, STRIPED);
      const v = randomBytes(3 * S);
      f.queueWrite(0, v);
      f.flushWrites();
      expect(f.sizeBytes).toBe(3 * S);
      expect([fs.statSync(file).size, fs.statSync(`${file}.1`).size]).toEqual([2 * S, S]);
      f.truncate(S + 100);
      expect(f.sizeBytes).toBe(S + 100);
      expect([fs.statSync(file).size, fs.statSync(`${file}.1`).size]).toEqual([S, 100]);
      f.truncate(S - 1);
      expect([fs.statSync(file).size, fs.statSync(`${file}.1`).size]).toEqual([S - 1, 0]);
      f.close();
      const again = DataFile.open(file, STRIPED);
      expect(again.sizeBytes).toBe(S - 1);
      expect(again.readValue(0, S - 1).equals(v.subarray(0, S - 1))).toBe(true);
      again.close();
    });

    // The addon is built by `npm ci` (node-gyp); off Linux reserveBlocks answers ENOSYS.
    it.runIf(process.platform === 'linux')(
      'reserves the blocks of its next writes without changing sizes, and gives back the rest on close',
      () => {
        const file = tempFile();
        const f = DataFile.open(file, STRIPED);
        const v = randomBytes(3 * S);
        f.queueWrite(0, v);
        f.flushWrites();
        expect(f.reservesAhead).toBe(true);
        const members = [file, `${file}.1`];
        // 3 stripes written: [2 stripes, 1 stripe] of the files' bytes; reserved as far again.
        expect(members.map((m) => fs.statSync(m).size)).toEqual([2 * S, S]);
        for (const m of members) expect(fs.statSync(m).blocks * 512).toBeGreaterThanOrEqual(3 * S);
        f.close();
        for (const m of members) expect(fs.statSync(m).blocks * 512).toBeLessThan(3 * S);
        expect(members.map((m) => fs.statSync(m).size)).toEqual([2 * S, S]);
        const again = DataFile.open(file, STRIPED);
        expect(again.readValue(0, 3 * S).equals(v)).toBe(true);
        again.close();
      },
    );

    // On tmpfs a reservation would allocate (and zero) the memory itself.
    it.runIf(process.platform === 'linux' && fs.existsSync('/dev/shm'))(
      'reserves nothing on a file system in memory',
      () => {
        const d = fs.mkdtempSync('/dev/shm/bio-');
        made.push(d);
        const file = path.join(d, 'data.bin');
        const f = DataFile.open(file, STRIPED);
        f.queueWrite(0, randomBytes(3 * S));
        f.flushWrites();
        expect(f.reservesAhead).toBe(false);
        expect(fs.statSync(file).blocks * 512).toBe(2 * S);
        f.close();
      },
    );

    it.runIf(fs.existsSync('/dev/full'))(
      'keeps a failed part for the commits whose bytes it carried, written here or on the pool',
      async () => {
        for (const serving of [false, true]) {
          const file = tempFile();
          // The second member file is /dev/full: the part there fails, the part in the first does not.
          fs.symlinkSync('/dev/full', `${file}.1`);
          const f = DataFile.open(file, STRIPED);
          writeLoneRunsOnPool(serving);
          try {
            f.queueWrite(0, Buffer.alloc(2 * S, 1));
            // A member file that cannot reserve blocks (a device) stops the reserving, not the write.
            expect(f.reservesAhead).toBe(false);
            // Serving, the lone long run goes to the pool; otherwise the transaction writes it.
            await f.flushWritesAsync();
            if (!serving) f.flushWrites();
            expect(() => f.checkWritten([{ off: 0 }])).toThrow(
              expect.objectContaining({
                code: 'DER_NOSPACE',
                message: expect.stringMatching(/writing 1048576 bytes at 0/),
              }),
            );
            expect(() => f.checkWritten([{ off: 0 }])).not.toThrow();
          } finally {
            writeLoneRunsOnPool(false);
            f.close();
          }
        }
      },
    );
  });

  // Every write to /dev/full fails with ENOSPC: a full disk without mounting one.
  it.runIf(fs.existsSync('/dev/full'))(
    'keeps a failed write for the commits whose bytes it carried, not whichever commit flushed',
    async () => {
      const ok = DataFile.open(tempFile());
      const full = DataFile.open('/dev/full');
      try {
        const long = 512 * 1024; // long runs of two files: written on the thread pool
        ok.queueWrite(0, Buffer.alloc(long, 1));
        full.queueWrite(0, Buffer.alloc(long, 2));
        full.queueWrite(long + 4096, Buffer.alloc(100, 3));
        // The flush that `ok`'s commit starts writes `full`'s runs too; it does not fail for them,
        // nor wait for them: `full`'s commit, asking next, waits for its own.
        const okWritten = ok.flushWritesAsync();
        const fullWritten = full.flushWritesAsync();
        await okWritten;
        await fullWritten;
        expect(() => ok.checkWritten([{ off: 0 }])).not.toThrow();
        expect(ok.readValue(0, long)).toEqual(Buffer.alloc(long, 1));
        expect(() => full.checkWritten([{ off: 0 }])).toThrow(
          expect.objectContaining({
            code: 'DER_NOSPACE',
            message: expect.stringMatching(/\/dev\/full.*failed/),
          }),
        );
        // Asked once: the commit that got the error releases the space, which may be reused.
        expect(() => full.checkWritten([{ off: 0 }])).not.toThrow();
        // The short run waits for its own file's flushWrites (its commit's transaction).
        expect(() => full.checkWritten([{ off: long + 4096 }])).not.toThrow();
        expect(full.hasPendingWrites).toBe(true);
        full.flushWrites();
        expect(() => full.checkWritten([{ off: long + 4096 }])).toThrow(
          expect.objectContaining({ code: 'DER_NOSPACE' }),
        );
        full.queueWrite(8192, Buffer.alloc(10, 4));
        full.flushWrites();
        expect(() => full.checkWritten([{ off: 4096 }])).not.toThrow();
        expect(() => full.checkWritten([{ off: 8192 }])).toThrow(
          expect.objectContaining({ code: 'DER_NOSPACE' }),
        );
      } finally {
        ok.close();
        full.close();
      }
    },
  );

  it('holds the short writes of many commits for one transaction, which writes them as one run', async () => {
    const f = DataFile.open(tempFile());
    const writev = vi.spyOn(fs, 'writevSync');
    try {
      const values = Array.from({ length: 100 }, (_, i) => Buffer.alloc(4096, i));
      // As 100 commits of one batch do: each queues its value and starts a flush.
      for (let i = 0; i < values.length; i++) {
        f.queueWrite(i * 4096, values[i]!);
        await f.flushWritesAsync();
      }
      expect(f.sizeBytes).toBe(0);
      f.flushWrites();
      expect(writev).toHaveBeenCalledTimes(1);
      expect(f.sizeBytes).toBe(100 * 4096);
      for (let i = 0; i < values.length; i++) expect(f.readValue(i * 4096, 4096)).toEqual(values[i]);
    } finally {
      writev.mockRestore();
      f.close();
    }
  });

  it('keeps a lone long write for the transaction, or hands it to the pool in a serving process', async () => {
    const value = Buffer.alloc(1 << 20, 9);
    for (const [onPool, layout] of [
      [false, SINGLE_FILE],
      [true, SINGLE_FILE],
      [false, STRIPED],
      [true, STRIPED],
    ] as const) {
      // Striped too: a lone write is copied whole by its transaction, not split over the files.
      const f = DataFile.open(tempFile(), layout);
      writeLoneRunsOnPool(onPool);
      try {
        f.queueWrite(0, value);
        await f.flushWritesAsync();
        // On the pool, the bytes are on file once the flush settles; held, only after flushWrites.
        expect(f.sizeBytes).toBe(onPool ? value.length : 0);
        f.flushWrites();
        expect(f.readValue(0, value.length).equals(value)).toBe(true);
      } finally {
        writeLoneRunsOnPool(false);
        f.close();
      }
    }
  });

  it('starts the long writes of several commits of one turn together, on the pool', async () => {
    const a = DataFile.open(tempFile());
    const b = DataFile.open(tempFile());
    const long = 512 * 1024;
    try {
      // As two commits in flight do: each queues its value and starts a flush, in one turn. Each
      // alone would be a lone run, held for its transaction; together they are two runs.
      a.queueWrite(0, Buffer.alloc(long, 1));
      const first = a.flushWritesAsync();
      b.queueWrite(0, Buffer.alloc(long, 2));
      const second = b.flushWritesAsync();
      await Promise.all([first, second]);
      // On file before either file's flushWrites (their transactions) ran.
      expect(a.sizeBytes).toBe(long);
      expect(b.sizeBytes).toBe(long);
      expect(a.hasPendingWrites || b.hasPendingWrites).toBe(false);
      expect(b.readValue(0, long)).toEqual(Buffer.alloc(long, 2));
    } finally {
      a.close();
      b.close();
    }
  });

  it("makes a commit wait for its own file's writes queued up to it, in the order commits asked", async () => {
    const x = DataFile.open(tempFile());
    const y = DataFile.open(tempFile());
    const long = 512 * 1024;
    try {
      // Three commits of one turn: two long writes of x, then a short one of y.
      x.queueWrite(0, Buffer.alloc(long, 1));
      const xa = x.flushWritesAsync();
      x.queueWrite(1 << 20, Buffer.alloc(long, 2));
      const xb = x.flushWritesAsync();
      // A commit of 4 KiB after xb shares xb's wait (less than a long run queued in between).
      x.queueWrite(2 << 20, Buffer.alloc(4096, 3));
      expect(x.flushWritesAsync()).toBe(xb);
      y.queueWrite(0, Buffer.alloc(100, 4));
      const ya = y.flushWritesAsync();
      expect(xa).toBeInstanceOf(Promise);
      expect(xb).not.toBe(xa);
      const order: string[] = [];
      for (const [name, p] of [
        ['xa', xa],
        ['xb', xb],
        ['ya', ya],
      ] as const)
        void p?.then(() => order.push(name));
      await xa;
      // xa's bytes are on file; x's 4 KiB write waits for its transaction (flushWrites).
      expect(x.readValue(0, long)).toEqual(Buffer.alloc(long, 1));
      await Promise.all([xb, ya]);
      // y's commit waited for none of x's pool writes; x's in the order they asked.
      expect(order).toEqual(['ya', 'xa', 'xb']);
      expect(x.readValue(1 << 20, long)).toEqual(Buffer.alloc(long, 2));
      expect(x.hasPendingWrites && y.hasPendingWrites).toBe(true);
      // With nothing queued, a file with no writes running gives nothing to wait for.
      x.flushWrites();
      expect(x.flushWritesAsync()).toBeUndefined();
    } finally {
      x.close();
      y.close();
    }
  });

  it('forgets a failure nobody asked for once its space is written again', () => {
    const f = DataFile.open(tempFile());
    const spy = vi.spyOn(fs, 'writeSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    try {
      f.queueWrite(0, Buffer.alloc(100, 1));
      f.flushWrites();
      // Its commit failed for another reason before asking, and released the space; a new write
      // reserved it again and landed: that write's commit must not get the old error.
      f.queueWrite(0, Buffer.alloc(100, 2));
      f.flushWrites();
      expect(() => f.checkWritten([{ off: 0 }])).not.toThrow();
      expect(f.readValue(0, 100)).toEqual(Buffer.alloc(100, 2));
    } finally {
      spy.mockRestore();
      f.close();
    }
  });

  it('writes queued runs at their offsets and reads them back', () => {
    const p = tempFile();
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

  it('settles each deferred read with its own run: a failing run fails only its readers', async () => {
    const p = tempFile();
    const f = DataFile.open(p);
    const K = 256 * 1024;
    // Three long runs apart from each other (so a flush sends them to the thread pool) and one
    // short one, plus a read past the end of the file, all planned in one turn.
    for (let i = 0; i < 3; i++) f.queueWrite(i * 2 * K, Buffer.alloc(K, i + 1));
    f.queueWrite(6 * K, Buffer.alloc(100, 9));
    f.flushWrites();
    const outs = Array.from({ length: 3 }, () => Buffer.alloc(K));
    const longs = outs.map((out, i) => f.deferReads(() => f.read(i * 2 * K, K, out, 0)));
    const small = f.deferReads(() => f.readValue(6 * K, 100));
    const past = f.deferReads(() => f.read(10 * K, 100, Buffer.alloc(100), 0));
    await expect(past).rejects.toThrow(/data file ends before/);
    await Promise.all(longs);
    for (const [i, out] of outs.entries()) expect(out.equals(Buffer.alloc(K, i + 1))).toBe(true);
    expect(await small).toEqual(Buffer.alloc(100, 9));
    f.close();
  });

  it('a lone read (the path of its own) fails only its reader, and the next lone read works', async () => {
    const f = DataFile.open(tempFile());
    const K = 256 * 1024;
    f.queueWrite(0, Buffer.alloc(K, 5));
    f.flushWrites();
    try {
      // Each read planned alone, in a turn of its own: the one-read path.
      await expect(f.deferReads(() => f.read(2 * K, 100, Buffer.alloc(100), 0))).rejects.toThrow(
        /data file ends before/,
      );
      const out = Buffer.alloc(K);
      await f.deferReads(() => f.read(0, K, out, 0));
      expect(out.equals(Buffer.alloc(K, 5))).toBe(true);
      // Past the end of a long read: a short read the path finishes by hand, which then fails.
      await expect(f.deferReads(() => f.read(K / 2, K, Buffer.alloc(K), 0))).rejects.toThrow(
        /data file ends before/,
      );
      expect(f.hasQueuedReads).toBe(false);
    } finally {
      f.close();
    }
  });

  it('a lone long read is copied in two parts at once, each to its place, and fails whole', async () => {
    const f = DataFile.open(tempFile());
    const M = 1024 * 1024;
    const bytes = randomBytes(M + 64 * 1024);
    f.queueWrite(0, bytes);
    f.flushWrites();
    try {
      // Settled while the microtask queue drains (copied here), or once the loop runs the thread
      // pool's callback (split): whether a read had a part on the pool, and how it ended.
      const onPool = async (off: number, len: number, out: Buffer, outOff: number) => {
        // Split only in the first read flush of a loop turn (the tests before flushed in this one).
        await new Promise((resolve) => setImmediate(resolve));
        let settled = false;
        const reading = f.deferReads(() => f.read(off, len, out, outOff));
        reading.then(
          () => {
            settled = true;
          },
          () => {
            settled = true;
          },
        );
        for (let i = 0; i < 50; i++) await null;
        const waited = !settled;
        const error = await reading.then(
          () => undefined,
          (err: unknown) => err,
        );
        return { waited, error };
      };
      // Not at a page boundary, into the middle of a buffer: the two parts meet at a page of the file.
      const off = 12_345;
      const out = Buffer.alloc(M + 10, 0xee);
      expect(await onPool(off, 256 * 1024, out, 7)).toEqual({ waited: false, error: undefined });
      expect(out.subarray(7, 7 + 256 * 1024).equals(bytes.subarray(off, off + 256 * 1024))).toBe(true);
      expect(await onPool(off, M, out, 7)).toEqual({ waited: true, error: undefined });
      expect(out.subarray(7, 7 + M).equals(bytes.subarray(off, off + M))).toBe(true);
      expect(out.subarray(0, 7).equals(Buffer.alloc(7, 0xee))).toBe(true);
      expect(out.subarray(7 + M).equals(Buffer.alloc(3, 0xee))).toBe(true);
      // Its end past the end of the file (the pool's part short), then all of it past the end:
      // each fails whole, and the next long read is split again.
      for (const from of [M / 2, 4 * M]) {
        const failed = await onPool(from, M, Buffer.alloc(M), 0);
        expect(failed.waited).toBe(true);
        expect(String(failed.error)).toMatch(/data file ends before/);
      }
      expect(f.hasQueuedReads).toBe(false);
      const again = Buffer.alloc(M);
      expect(await onPool(0, M, again, 0)).toEqual({ waited: true, error: undefined });
      expect(again.equals(bytes.subarray(0, M))).toBe(true);
    } finally {
      f.close();
    }
  });

  it('concurrent readers of long values share the reads, none waits for another to finish', async () => {
    const f = DataFile.open(tempFile());
    const K = 256 * 1024; // long: a run the thread pool may take
    const values = 32;
    // A gap after each value, so that no two reads merge into one run.
    for (let i = 0; i < values; i++) f.queueWrite(i * 2 * K, Buffer.alloc(K, i + 1));
    f.flushWrites();
    // Eight readers take the next value in turn until 256 reads are done. A read copied at once
    // while others were on the pool completed in a microtask, and its reader took read after
    // read in microtasks alone while the pool's readers waited for the loop to turn: one reader
    // made 249 of the 256 reads, the others one each.
    const readers = 8;
    const reads = 256;
    const made = new Array<number>(readers).fill(0);
    let next = 0;
    await Promise.all(
      Array.from({ length: readers }, async (_, r) => {
        const out = Buffer.alloc(K);
        while (next < reads) {
          const i = next++ % values;
          await f.deferReads(() => f.read(i * 2 * K, K, out, 0));
          expect(out[0]).toBe(i + 1);
          expect(out[K - 1]).toBe(i + 1);
          made[r]!++;
        }
      }),
    );
    expect(made.reduce((a, b) => a + b)).toBe(reads);
    // A fair share is 32 each; a reader held up for the others' whole run makes 1.
    expect(Math.min(...made)).toBeGreaterThanOrEqual(reads / readers / 4);
    f.close();
  });

  it('a reader awaiting read after read still lets the event loop turn (timers, sockets)', async () => {
    const f = DataFile.open(tempFile());
    const K = 4096;
    f.queueWrite(0, Buffer.alloc(K, 5));
    f.flushWrites();
    // Each read is copied at once (short, alone) and settles in a microtask; every
    // READ_FLUSHES_PER_TURN_MAX-th flush in a row waits for the loop's turn instead.
    const reads = 640;
    const loop = countLoopTurns();
    const out = Buffer.alloc(K);
    for (let i = 0; i < reads; i++) await f.deferReads(() => f.read(0, K, out, 0));
    const turns = loop.stop();
    expect(out.equals(Buffer.alloc(K, 5))).toBe(true);
    // One turn per 32 flushes at least, with room for the loop's own.
    expect(turns).toBeGreaterThanOrEqual(reads / 32 / 2);
    f.close();
  });
});
