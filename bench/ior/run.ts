/**
 * The program every IOR rank runs (loaded by spawnRanks from dist/bench/ior/run.js): for each
 * repetition the write, check-write, read and check-read phases, timed as IOR times them
 * (open, transfers, close on every rank; the job's figures are the earliest start and the latest
 * end over the ranks). Rank 0 resolves to the job's figures; the other ranks to null.
 * args: [JSON of IorRankArgs]
 */
import type { Comm } from '../../adapters/mpiio/comm.js';
import { type IorBackend, type IorHandle, openBackend } from './backends.js';
import { badWords, fileName, fillPattern, readRank, stampOffset, transferOffsets } from './layout.js';
import type { IorOptions } from './options.js';
import { iorTime } from './output.js';

export interface IorRankArgs {
  options: IorOptions;
  /** The data signature of the job (-G, or the start time in seconds). */
  signature: number;
  /** Label of the container DFS, DAOS and MPIIO (daos:) files live in. */
  container: string;
}

/** One timed phase of one repetition, reduced over the ranks (seconds, bytes). */
export interface IorPhase {
  access: 'write' | 'read';
  /** Bytes moved by all ranks. */
  bytes: number;
  /** Transfers per rank (the most any rank made). */
  transfers: number;
  open: number;
  io: number;
  close: number;
  total: number;
  stonewall?: IorStonewall;
}

export interface IorStonewall {
  /** Transfers of the rank that made fewest / most before the deadline. */
  pairsMin: number;
  pairsMax: number;
  /** Seconds from the phase's start to the last rank's stop. */
  time: number;
  /** pairsMin * t * N and the mean per rank of the bytes moved before the deadline. */
  minDataBytes: number;
  avgDataBytes: number;
}

export interface IorIteration {
  phases: IorPhase[];
  writeErrors: number;
  readErrors: number;
  /** Size the file(s) had after the write phase (summed over files with -F), when checked. */
  fileSize?: number;
  /** What IOR prints with -v as the repetition runs (phases begun, verification). */
  log: string[];
}

/** Wall-clock milliseconds comparable across worker threads and processes. */
const nowMs = () => performance.timeOrigin + performance.now();

export default async function iorRank(world: Comm, args: string[]): Promise<IorIteration[] | null> {
  const { options: o, signature, container } = JSON.parse(args[0]!) as IorRankArgs;
  const backend = await openBackend(o, world, container);
  // With -F every rank opens its own file alone: a communicator of one.
  const self = o.filePerProc ? (await world.split(world.rank))! : world;
  const buf = new Uint8Array(new ArrayBuffer(o.transferSize));
  const words = new Uint32Array(buf.buffer);
  const iterations: IorIteration[] = [];
  try {
    for (let rep = 0; rep < o.repetitions; rep++) {
      const it: IorIteration = { phases: [], writeErrors: 0, readErrors: 0, log: [] };
      // Transfers each rank wrote this repetition (stonewalling may cut them short).
      let written: number[] | undefined;
      if (o.writeFile) {
        await world.barrier();
        it.log.push(`Commencing write performance test: ${iorTime(new Date())}`);
        const r = await phase(o, world, self, backend, 'write', world.rank, signature, buf, words, undefined);
        it.phases.push(r.phase);
        written = await world.allgather(r.pairs);
        if (!r.phase.stonewall) it.fileSize = await fileSizes(o, world, backend);
      }
      if (o.checkWrite) {
        await world.barrier();
        it.log.push('Verifying contents of the file(s) just written.');
        it.log.push(iorTime(new Date()));
        const limit = written?.[world.rank];
        const r = await phase(o, world, self, backend, 'check', world.rank, signature, buf, words, limit);
        it.writeErrors = r.errors;
      }
      const other = readRank(o, world.rank);
      if (o.readFile) {
        await world.barrier();
        it.log.push(`Commencing read performance test: ${iorTime(new Date())}`);
        const r = await phase(
          o,
          world,
          self,
          backend,
          'read',
          other,
          signature,
          buf,
          words,
          written?.[other],
        );
        it.phases.push(r.phase);
      }
      if (o.checkRead) {
        await world.barrier();
        it.log.push('Re-reading the file(s) twice to verify that reads are consistent.');
        it.log.push(iorTime(new Date()));
        const r = await phase(
          o,
          world,
          self,
          backend,
          'check',
          other,
          signature,
          buf,
          words,
          written?.[other],
        );
        it.readErrors = r.errors;
      }
      if (!o.keepFile) {
        await world.barrier();
        if (o.filePerProc || world.rank === 0) await backend.remove(fileName(o, world.rank));
      }
      iterations.push(it);
    }
  } finally {
    await world.barrier().catch(() => undefined);
    await backend.close(world);
  }
  return world.rank === 0 ? iterations : null;
}

/** The summed size of the test file(s), as IOR stats them after writing. */
async function fileSizes(o: IorOptions, world: Comm, backend: IorBackend): Promise<number> {
  await world.barrier();
  const mine = o.filePerProc || world.rank === 0 ? await backend.size(fileName(o, world.rank)) : 0;
  return world.allreduce(mine, 'sum');
}

/**
 * One pass over a rank's transfers: 'write' fills and writes, 'read' reads, 'check' reads and
 * counts the transfers that differ from the pattern of `dataRank` (the rank that wrote them).
 */
async function phase(
  o: IorOptions,
  world: Comm,
  self: Comm,
  backend: IorBackend,
  kind: 'write' | 'read' | 'check',
  dataRank: number,
  signature: number,
  buf: Uint8Array,
  words: Uint32Array,
  limit: number | undefined,
): Promise<{ phase: IorPhase; pairs: number; errors: number }> {
  const offsets = transferOffsets(o, dataRank, signature);
  const count = Math.min(offsets.length, limit ?? offsets.length);
  const fileComm = o.filePerProc ? self : world;
  const timed = kind !== 'check';
  // MPI-IO's collective calls (and its collective sync), and HDF5's collective transfers, need
  // every rank to make the same number of calls: its ranks decide together when the deadline has passed.
  const together = o.api === 'MPIIO' || (o.api === 'HDF5' && o.collective);
  const deadlineMs = timed ? o.deadlineForStonewalling * 1000 : 0;

  const t0 = nowMs();
  const h: IorHandle = await backend.open(
    fileName(o, dataRank),
    kind === 'write' ? 'write' : 'read',
    fileComm,
  );
  const t1 = nowMs();
  if (o.intraTestBarriers) await world.barrier();

  let errors = 0;
  let pairs = 0;
  let stoppedAt: number | undefined;
  // Every transfer of a rank holds the same pattern (IOR 4's packet types): a write phase fills
  // its buffer once (the read phases reuse the buffer), a check compares with a copy; with the
  // offset packet type, the transfer's offset is stamped into either before each transfer.
  const stamped = o.dataPacketType === 'offset';
  let expected: Uint32Array | undefined;
  if (kind === 'write') fillPattern(words, signature, dataRank);
  else if (kind === 'check') fillPattern((expected = new Uint32Array(words.length)), signature, dataRank);
  const t2 = nowMs();
  const transfer = async (k: number) => {
    const off = offsets[k]!;
    if (kind === 'write') {
      if (stamped) stampOffset(words, off, dataRank);
      await h.write(buf, off);
      if (o.fsyncPerWrite) await h.sync();
    } else {
      await h.read(buf, off);
      if (expected === undefined) return;
      if (stamped) stampOffset(expected, off, dataRank);
      // IOR 4 counts a transfer with any bad word as one error.
      if (badWords(words, expected) > 0) errors++;
    }
  };
  for (; pairs < count; pairs++) {
    if (deadlineMs > 0) {
      let late = nowMs() - t2 >= deadlineMs ? 1 : 0;
      if (together) late = await world.allreduce(late, 'max');
      if (late) {
        stoppedAt = nowMs();
        break;
      }
    }
    await transfer(pairs);
  }
  let stonewall: IorStonewall | undefined;
  if (deadlineMs > 0) {
    const stopped = stoppedAt ?? nowMs();
    // One collective per figure, in the same order on every rank.
    const [pairsMin, negPairsMax, firstStop] = (await world.allreduce(
      [pairs, -pairs, stoppedAt === undefined ? 1 : 0],
      'min',
    )) as number[];
    const pairsMax = -negPairsMax!;
    const pairsSum = await world.allreduce(pairs, 'sum');
    const lastStop = await world.allreduce(stopped - t2, 'max');
    if (firstStop === 0) {
      stonewall = {
        pairsMin: pairsMin!,
        pairsMax,
        time: lastStop / 1000,
        minDataBytes: pairsMin! * o.transferSize * o.numTasks,
        avgDataBytes: (pairsSum * o.transferSize) / o.numTasks,
      };
      // Wear-out: every rank goes on until it has made as many transfers as the furthest one.
      if (o.stoneWallingWearOut) for (; pairs < Math.min(pairsMax, count); pairs++) await transfer(pairs);
    }
  }
  if (kind === 'write' && o.fsync) await h.sync();
  const t3 = nowMs();
  if (o.intraTestBarriers) await world.barrier();
  const t4 = nowMs();
  await h.close();
  const t5 = nowMs();

  const starts = (await world.allreduce([t0, t2, t4], 'min')) as number[];
  const ends = (await world.allreduce([t1, t3, t5], 'max')) as number[];
  const bytes = await world.allreduce(pairs * o.transferSize, 'sum');
  const transfers = await world.allreduce(pairs, 'max');
  errors = timed ? 0 : await world.allreduce(errors, 'sum');
  const [openStart, ioStart, closeStart] = starts as [number, number, number];
  const [openEnd, ioEnd, closeEnd] = ends as [number, number, number];
  return {
    phase: {
      access: kind === 'write' ? 'write' : 'read',
      bytes,
      transfers,
      open: (openEnd - openStart) / 1000,
      io: (ioEnd - ioStart) / 1000,
      close: (closeEnd - closeStart) / 1000,
      total: (closeEnd - openStart) / 1000,
      stonewall,
    },
    pairs,
    errors,
  };
}
