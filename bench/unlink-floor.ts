/**
 * The least an unlink can cost on this design (bench/README.md, "What an unlink costs at the
 * least"): the LMDB work a DFS unlink of a file of class SX must do on per-target stores, with
 * nothing of daos-ts around it, against `fs.promises.unlink` on the same file system, and the
 * embedded DfsFs unlink itself, in alternating rounds.
 *
 * The floor, per file, over `--targets` IndexStores (the engine's own LMDB configuration): read the
 * directory entry from the store its name hashes to; in a write transaction of that store, read it
 * again (punch-must-exist) and put the entry's punch record; then a transaction per store putting
 * the file object's punch record (an SX object has a shard on every target). With `--depth D`, D
 * files go together: one transaction per store per step, as the engine's group commit batches
 * them. All synchronous: no promises, no engine, no client.
 *
 *   npm run build && node dist/bench/unlink-floor.js [--files 10000] [--rounds 4] [--targets 4]
 *     [--file-shards N (default --targets: class SX; 1 for S1)] [--depths 1,16]
 *
 * The DfsFs side's files are the mount's default class (SX) whatever --file-shards says.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Dfs } from '../core/dfs/index.js';
import { DaosSystem } from '../embedded/system.js';
import { IndexStore } from '../engine/vos/index-store.js';
import { inFlight } from './common.js';

/** Bytes of a directory entry's value in the floor (a DFS entry with its inode is about this). */
const ENTRY_VALUE_BYTES = 64;
/** Bytes of a punch record's key (container, oid, level, dkey, epoch: about what VOS writes). */
const PUNCH_KEY_BYTES = 40;

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '4' },
    targets: { type: 'string', default: '4' },
    depths: { type: 'string', default: '1,16' },
    'file-shards': { type: 'string' },
  },
});
const positive = (name: string, v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, not "${v}"`);
  return n;
};
const files = positive('files', values.files);
const rounds = positive('rounds', values.rounds);
const targets = positive('targets', values.targets);
const depths = values.depths.split(',').map((d) => positive('depths', d));
/** Stores the file object's punch goes to: all of them for SX (the default), 1 for S1. */
const fileShards = positive('file-shards', values['file-shards'] ?? String(targets));
if (fileShards > targets)
  throw new Error(`--file-shards must be at most --targets (${targets}), not ${fileShards}`);

const root = mkdtempSync(join(os.tmpdir(), 'unlink-floor-'));
const stores = Array.from({ length: targets }, (_, t) => {
  mkdirSync(join(root, `t${t}`));
  return new IndexStore(join(root, `t${t}`));
});
const EMPTY = Buffer.alloc(0);
const entryValue = Buffer.alloc(ENTRY_VALUE_BYTES, 7);
let generation = 0;

const entryKey = (i: number) => Buffer.from(`g${generation}/f${i}`);
const storeOf = (i: number) => i % targets;
function punchKey(i: number, t: number): Buffer {
  const k = Buffer.alloc(PUNCH_KEY_BYTES);
  k.write(`p${generation}.${i}.${t}`);
  return k;
}

function makeEntries(): void {
  stores.forEach((s, t) => {
    s.env.transactionSync(() => {
      for (let i = t; i < files; i += targets) s.main.put(entryKey(i), entryValue);
    });
  });
}

/** µs per file of the floor's unlinks, `depth` at a time. */
function floorUnlinks(depth: number): number {
  const t0 = performance.now();
  for (let a = 0; a < files; a += depth) {
    const b = Math.min(files, a + depth);
    const hit = new Array<boolean>(targets).fill(false);
    for (let i = a; i < b; i++) {
      if (stores[storeOf(i)]!.main.get(entryKey(i)) === undefined) throw new Error(`entry ${i} missing`);
      hit[storeOf(i)] = true;
    }
    stores.forEach((s, t) => {
      if (!hit[t]) return;
      s.env.transactionSync(() => {
        for (let i = a; i < b; i++) {
          if (storeOf(i) !== t) continue;
          if (s.main.get(entryKey(i)) === undefined) throw new Error(`entry ${i} gone`);
          s.punch.put(entryKey(i), EMPTY);
        }
      });
    });
    for (let t = 0; t < fileShards; t++) {
      const s = stores[t]!;
      s.env.transactionSync(() => {
        for (let i = a; i < b; i++) s.punch.put(punchKey(i, t), EMPTY);
      });
    }
  }
  return ((performance.now() - t0) * 1000) / files;
}

/** µs per file of `unlinkOne` over `files` names, `depth` in flight. */
const unlinks = async (depth: number, unlinkOne: (i: number) => Promise<void>) =>
  ((await inFlight(0, files, depth, unlinkOne)) * 1e6) / files;

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const sys = await DaosSystem.start({ dir: join(root, 'daos') });
try {
  await sys.createPool({ label: 'floor', size: '2G' });
  const dfs = await Dfs.mount(await (await sys.connect()).connectPool('floor'), 'dfs', { create: true });
  console.log(
    `unlink of ${files.toLocaleString('en-US')} empty files per round, ${rounds} rounds, floor over ${targets} LMDB stores (file object on ${fileShards}), scratch ${root}`,
  );
  for (const depth of depths) {
    const rows: Array<{ fs: number; floor: number; dfs: number }> = [];
    for (let r = 0; r < rounds; r++) {
      generation++;
      const local = join(root, `fs${generation}`);
      mkdirSync(local);
      for (let i = 0; i < files; i++) writeFileSync(join(local, `f${i}`), '');
      await dfs.fs.mkdir(`/d${generation}`);
      for (let i = 0; i < files; i += 64)
        await Promise.all(
          Array.from({ length: Math.min(64, files - i) }, (_, j) =>
            dfs.fs.writeFile(`/d${generation}/f${i + j}`, ''),
          ),
        );
      makeEntries();
      // Alternating which goes first.
      const order = r % 2 === 0 ? ['fs', 'floor', 'dfs'] : ['dfs', 'floor', 'fs'];
      const row = { fs: 0, floor: 0, dfs: 0 };
      for (const side of order) {
        if (side === 'fs') row.fs = await unlinks(depth, (i) => unlink(join(local, `f${i}`)));
        else if (side === 'floor') row.floor = floorUnlinks(depth);
        else row.dfs = await unlinks(depth, (i) => dfs.fs.unlink(`/d${generation}/f${i}`));
      }
      rows.push(row);
      console.log(
        `  ${depth} in flight, round ${r + 1}: fs ${row.fs.toFixed(1)} µs, floor ${row.floor.toFixed(1)} µs (${(row.fs / row.floor).toFixed(2)}x fs), DfsFs ${row.dfs.toFixed(1)} µs (${(row.fs / row.dfs).toFixed(2)}x fs, ${(row.dfs / row.floor).toFixed(1)} floors)`,
      );
    }
    const m = (k: 'fs' | 'floor' | 'dfs') => median(rows.map((x) => x[k]));
    const ratio = (k: 'floor' | 'dfs') => median(rows.map((x) => x.fs / x[k]));
    console.log(
      `${depth} in flight, medians: fs ${m('fs').toFixed(1)} µs, floor ${m('floor').toFixed(1)} µs, DfsFs ${m('dfs').toFixed(1)} µs per unlink; ` +
        `rate against fs (median of rounds): floor ${ratio('floor').toFixed(2)}x, DfsFs ${ratio('dfs').toFixed(2)}x`,
    );
  }
  await dfs.umount();
} finally {
  await sys.stop();
  for (const s of stores) await s.close();
  rmSync(root, { recursive: true, force: true });
}
