/**
 * The MPI-IO adapter's communicator: collectives across ranks as worker threads and as child
 * processes, failures that must reach every rank within a bounded time, and ranks sharing one
 * embedded system. Rank programs are plain JS in test/ranks/ (ranks run compiled code).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MpiJobError, spawnRanks } from '../adapters/mpiio/spawn.js';

const rankUrl = (name: string) => new URL(`./ranks/${name}`, import.meta.url);
const MPIRUN = join(import.meta.dirname, '..', 'dist', 'bin', 'daos-mpirun.js');

/** What rank r of n must have seen, computed here from MPI's definitions. */
function expected(r: number, n: number) {
  const members = Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === r % 2);
  // split key is -rank: higher ranks first.
  const ordered = [...members].sort((a, b) => b - a);
  return {
    rank: r,
    size: n,
    args: ['a', 'b'],
    bcast: { from: 1 % n, big: 12345678901234567890n },
    gather: r === 0 ? Array.from({ length: n }, (_, i) => i * 10) : undefined,
    allgather: Array.from({ length: n }, (_, i) => `r${i}`),
    alltoall: Array.from({ length: n }, (_, i) => i * 100 + r),
    sum: (n * (n + 1)) / 2,
    min: 5,
    max: BigInt(n - 1) * 3n,
    vec: [(n * (n - 1)) / 2, n * (n - 1), n],
    reduceAt0: r === 0 ? [0, 1] : undefined,
    sub: {
      rank: ordered.indexOf(r),
      size: members.length,
      members: ordered,
      sum: members.reduce((a, b) => a + b, 0),
    },
    splitUndefined: r === 0,
    ring: [(r + n - 1) % n, 255 - ((r + n - 1) % n)],
    dup: n,
  };
}

describe('Comm collectives', () => {
  for (const n of [1, 2, 4, 7]) {
    it(`${n} ranks as threads`, async () => {
      const results = await spawnRanks(n, rankUrl('collectives.mjs'), ['a', 'b']);
      expect(results).toEqual(Array.from({ length: n }, (_, r) => expected(r, n)));
    }, 60_000);
  }

  for (const mode of ['processes', 'inline'] as const) {
    it(`4 ranks as ${mode}`, async () => {
      const results = await spawnRanks(4, rankUrl('collectives.mjs'), ['a', 'b'], { mode });
      expect(results).toEqual(Array.from({ length: 4 }, (_, r) => expected(r, 4)));
    }, 60_000);
  }
});

describe('a failing rank fails the job on every rank, within a bounded time', () => {
  for (const mode of ['threads', 'processes', 'inline'] as const) {
    // An inline rank is this process: it can throw, not exit.
    for (const how of mode === 'inline' ? (['throw'] as const) : (['throw', 'exit'] as const)) {
      it(`${mode}: rank 2 of 4 ${how === 'throw' ? 'throws' : 'exits'} in a collective`, async () => {
        const t0 = Date.now();
        const err = await spawnRanks(4, rankUrl('fail.mjs'), ['2', how], { mode, timeoutMs: 60_000 }).catch(
          (e: unknown) => e,
        );
        const ms = Date.now() - t0;
        expect(err).toBeInstanceOf(MpiJobError);
        const job = err as MpiJobError;
        expect(job.message).toMatch(/^rank 2 failed: /);
        if (how === 'throw') expect(job.message).toContain('gives up on purpose');
        else expect(job.message).toContain('exited (code 3)');
        // Every other rank failed too, because of rank 2 (not by timing out).
        expect(job.failures.map((f) => f.rank).sort()).toEqual([0, 1, 2, 3]);
        for (const f of job.failures.filter((f) => f.rank !== 2)) {
          expect(f.aborted).toBe(true);
          expect(f.error).toContain('DER_CANCELED');
          expect(f.error).toContain('rank 2 failed');
        }
        // Far sooner than the 60 s wait bound: the abort, not a timeout, ended it.
        expect(ms).toBeLessThan(15_000);
      }, 60_000);
    }
  }

  it('a wait with no partner times out with DER_TIMEDOUT', async () => {
    const err = (await spawnRanks(2, rankUrl('stuck.mjs'), [], { timeoutMs: 500 }).catch(
      (e: unknown) => e,
    )) as MpiJobError;
    expect(err).toBeInstanceOf(MpiJobError);
    expect(err.failures).toHaveLength(1);
    expect(err.message).toMatch(/^rank 0 failed: .*DER_TIMEDOUT.*recv\(1, 99\) waited 500 ms/);
  }, 30_000);
});

describe('ranks share one embedded system', () => {
  for (const mode of ['threads', 'processes', 'inline'] as const) {
    it(`3 ranks as ${mode} write and read files through one DFS container`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'mpi-sys-'));
      try {
        const results = await spawnRanks(3, rankUrl('shared-system.mjs'), [], { mode, embedded: dir });
        const all = ['hello from rank 0 of 3', 'hello from rank 1 of 3', 'hello from rank 2 of 3'];
        expect(results).toEqual([all, all, all]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }, 90_000);
  }
});

describe('daos-mpirun', () => {
  it("runs a rank program on an embedded system and prints every rank's result", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mpirun-'));
    try {
      const run = spawnSync(
        process.execPath,
        [
          MPIRUN,
          '-n',
          '3',
          '--embedded',
          dir,
          '--print-results',
          join(import.meta.dirname, 'ranks', 'shared-system.mjs'),
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(run.status).toBe(0);
      const lines = run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { rank: number; result: string[] });
      expect(lines.map((l) => l.rank)).toEqual([0, 1, 2]);
      for (const l of lines) expect(l.result).toEqual([0, 1, 2].map((r) => `hello from rank ${r} of 3`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('exits 1 naming the rank that failed', () => {
    const run = spawnSync(
      process.execPath,
      [MPIRUN, '-n', '4', join(import.meta.dirname, 'ranks', 'fail.mjs'), '1'],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('daos-mpirun: rank 1 failed: Error: rank 1 gives up on purpose');
  }, 60_000);
});
