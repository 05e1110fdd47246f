/**
 * The deferred-punch journal of a target (see Target.runBatch). An object punch the target
 * acknowledges before any commit carries it is first written here, with one pwrite(2): the bytes
 * are then in the page cache, which a killed process cannot lose (the durability of LMDB's
 * commits in durability 'process'). The commit that carries the deferred punches empties the
 * journal; opening the target replays what a killed process left in it.
 *
 * Emptying costs no system call: the journal starts a new generation and writes from offset 0
 * again, over the old records (truncating the file each time cost as much as the commit saved).
 * The live records are the leading ones of the first record's generation; a replay may also
 * meet records already on file in the index (a journal emptied and not yet written again), and
 * writing those punch records again changes nothing.
 *
 * Record (big-endian): generation (u32), container local id (u32), object id hi and lo (u64
 * each), punch epoch (u64). A record cut short at the end is ignored: it was never acknowledged.
 */
import fs from 'node:fs';
import type { Oid } from '../../core/common/oid.js';

const RECORD_BYTES = 4 + 4 + 8 + 8 + 8;

export interface JournalPunch {
  cid: number;
  oid: Oid;
  epoch: bigint;
}

export class PunchJournal {
  private readonly record = Buffer.alloc(RECORD_BYTES);
  /** Bytes of live records (written from offset 0 in this generation). */
  private bytes = 0;
  private generation = 0;

  private constructor(private readonly fd: number) {}

  /** Open (or create) the journal at `file`; `left` is what it holds from before. */
  static open(file: string): { journal: PunchJournal; left: JournalPunch[] } {
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    const raw = fs.readFileSync(fd);
    const left: JournalPunch[] = [];
    const gen = raw.length >= RECORD_BYTES ? raw.readUInt32BE(0) : 0;
    for (
      let off = 0;
      off + RECORD_BYTES <= raw.length && raw.readUInt32BE(off) === gen;
      off += RECORD_BYTES
    ) {
      left.push({
        cid: raw.readUInt32BE(off + 4),
        oid: { hi: raw.readBigUInt64BE(off + 8), lo: raw.readBigUInt64BE(off + 16) },
        epoch: raw.readBigUInt64BE(off + 24),
      });
    }
    const journal = new PunchJournal(fd);
    // The caller replays `left` and then empties the journal: the next generation starts.
    journal.bytes = left.length * RECORD_BYTES;
    journal.generation = gen;
    return { journal, left };
  }

  /** Append one punch; throws (and the punch must then be committed instead) if the write fails. */
  append(p: JournalPunch): void {
    const r = this.record;
    r.writeUInt32BE(this.generation, 0);
    r.writeUInt32BE(p.cid, 4);
    r.writeBigUInt64BE(p.oid.hi, 8);
    r.writeBigUInt64BE(p.oid.lo, 16);
    r.writeBigUInt64BE(p.epoch, 24);
    let done = 0;
    while (done < RECORD_BYTES)
      done += fs.writeSync(this.fd, r, done, RECORD_BYTES - done, this.bytes + done);
    this.bytes += RECORD_BYTES;
  }

  /** Empty the journal: every punch in it is on file in the index. */
  clear(): void {
    if (this.bytes === 0) return;
    this.generation = (this.generation + 1) >>> 0;
    this.bytes = 0;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
