/**
 * The punch journal that earlier builds kept beside a target's index: object punches acknowledged
 * before a commit carried them (a punch of an object with no record on the target was deferred to
 * the target's next commit). Commits now carry every punch at once, so nothing writes a journal;
 * a target opened on a folder a killed process of such a build left behind replays the journal's
 * punches into the index and removes the file (Target.open).
 *
 * Record (big-endian): generation (u32), container local id (u32), object id hi and lo (u64
 * each), punch epoch (u64). The live records are the leading ones of the first record's
 * generation (the journal was emptied by starting a new generation at offset 0); a record cut
 * short at the end was never acknowledged.
 */
import fs from 'node:fs';
import type { Oid } from '../../core/common/oid.js';

const RECORD_BYTES = 4 + 4 + 8 + 8 + 8;

export interface JournalPunch {
  cid: number;
  oid: Oid;
  epoch: bigint;
}

/** The live punches of the journal at `file` (none if there is no such file). */
export function readLeftoverPunches(file: string): JournalPunch[] {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const left: JournalPunch[] = [];
  const gen = raw.length >= RECORD_BYTES ? raw.readUInt32BE(0) : 0;
  for (let off = 0; off + RECORD_BYTES <= raw.length && raw.readUInt32BE(off) === gen; off += RECORD_BYTES) {
    left.push({
      cid: raw.readUInt32BE(off + 4),
      oid: { hi: raw.readBigUInt64BE(off + 8), lo: raw.readBigUInt64BE(off + 16) },
      epoch: raw.readBigUInt64BE(off + 24),
    });
  }
  return left;
}
