/**
 * The crash-test writer: a separate Node process running the real library against a folder,
 * writing until its parent kills it with SIGKILL. Usage: node writer.js CONFIG.json ROUND LOG
 *
 * It appends `begin <kind> <n>` to LOG before issuing op n and `ack <kind> <n>` once the op's
 * promise has resolved (see protocol.ts), with a synchronous write(2) each: a line is in the
 * file (the page cache, which a killed process cannot lose) before the next write is issued.
 * stdout only carries `first-ack`, the parent's cue to start its kill timer: a pipe is no log,
 * since Node queues pipe writes in memory whenever the pipe is full, and SIGKILL loses the queue.
 * A failed write prints `fail` to stderr and exits 1 (the parent then fails with that message).
 */
import { openSync, readFileSync, writeSync } from 'node:fs';
import { DaosError, DaosSystem, oidParse } from '../../index.js';
import {
  arrayData,
  arrayOffset,
  type CrashConfig,
  HOT_KEY,
  hotValue,
  kvKey,
  kvObject,
  kvValue,
  opKind,
  txPlan,
  WRITER_LOOPS,
} from './protocol.js';

/** If the parent never kills us (it died), stop anyway. */
const WRITER_LIFETIME_MS = 60_000;
const TX_RETRIES_MAX = 10;
/**
 * Deliberate bugs, to prove that the parent notices them: CRASH_WRITER_FAULT=early-ack acknowledges
 * plain writes before they resolve; =split-tx writes a transaction's keys as separate puts.
 */
const FAULT = process.env.CRASH_WRITER_FAULT ?? '';

let logFd = -1;
let acked = false;

function say(line: string): void {
  writeSync(logFd, `${line}\n`);
  if (!acked && line.startsWith('ack ')) {
    acked = true;
    process.stdout.write('first-ack\n');
  }
}

async function main(): Promise<void> {
  const [configPath, roundArg, logPath] = process.argv.slice(2);
  if (!configPath || roundArg === undefined || !logPath)
    throw new Error('usage: writer.js CONFIG.json ROUND LOG');
  logFd = openSync(logPath, 'a');
  const cfg = JSON.parse(readFileSync(configPath, 'utf8')) as CrashConfig;
  const round = Number(roundArg);
  const seed = cfg.seed;

  // The parent closing our stdin (or dying) ends the run too.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  setTimeout(() => process.exit(0), WRITER_LIFETIME_MS).unref();

  const sys = await DaosSystem.start({ dir: cfg.dir });
  const client = await sys.connect();
  const pool = await client.connectPool(cfg.pool);
  const cont = await pool.openContainer(cfg.cont);
  const kvs = cfg.kv.map((s) => cont.kv(oidParse(s)));
  const arr = await cont.openArray(oidParse(cfg.array));
  say('ready'); // in the log only: the system is open

  let next = 0;
  const opLoop = async (): Promise<void> => {
    for (;;) {
      const n = next++;
      const kind = opKind(seed, round, n);
      if (kind === 'kv') {
        const key = kvKey(round, n);
        say(`begin kv ${n} ${key}`);
        const done = kvs[kvObject(seed, round, n, kvs.length)]!.put(key, kvValue(seed, round, n));
        if (FAULT === 'early-ack') say(`ack kv ${n} ${key}`);
        await done;
        if (FAULT !== 'early-ack') say(`ack kv ${n} ${key}`);
      } else if (kind === 'arr') {
        say(`begin arr ${n}`);
        await arr.write(arrayOffset(seed, round, n), arrayData(seed, round, n));
        say(`ack arr ${n}`);
      } else {
        const plan = txPlan(seed, round, n, kvs.length);
        say(`begin tx ${n} ${plan.map((e) => `${e.obj}:${e.key}`).join(' ')}`);
        if (FAULT === 'split-tx') {
          for (const e of plan) await kvs[e.obj]!.put(e.key, e.value);
          say(`ack tx ${n}`);
          continue;
        }
        const tx = await cont.openTx();
        for (let attempt = 0; ; attempt++) {
          for (const e of plan) await tx.kv(kvs[e.obj]!.oid).put(e.key, e.value);
          try {
            await tx.commit();
            break;
          } catch (err) {
            if (!(err instanceof DaosError) || err.code !== 'DER_TX_RESTART' || attempt >= TX_RETRIES_MAX)
              throw err;
            tx.restart();
          }
        }
        say(`ack tx ${n}`);
      }
    }
  };
  // One sequential loop overwrites the hot key, so its versions are ordered by n.
  const hotLoop = async (): Promise<void> => {
    for (let n = 0; ; n++) {
      say(`begin hot ${n}`);
      await kvs[0]!.put(HOT_KEY, hotValue(seed, round, n));
      say(`ack hot ${n}`);
    }
  };
  await Promise.all([...Array.from({ length: WRITER_LOOPS }, opLoop), hotLoop()]);
}

main().catch((err: unknown) => {
  process.stderr.write(`fail ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
