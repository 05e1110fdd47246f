/**
 * The crash-test writer: a separate Node process running the real library against a folder,
 * writing until its parent kills it with SIGKILL. Usage: node writer.js CONFIG.json ROUND
 *
 * It prints `begin <kind> <n>` before issuing op n and `ack <kind> <n>` once the op's promise has
 * resolved (see protocol.ts). stdout is a pipe, which Node writes synchronously on Linux, so an
 * `ack` line is in the pipe before the next write is issued. A failed write prints `fail` to
 * stderr and exits 1 (the parent then fails the test with that message).
 */
import { readFileSync } from 'node:fs';
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

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const [configPath, roundArg] = process.argv.slice(2);
  if (!configPath || roundArg === undefined) throw new Error('usage: writer.js CONFIG.json ROUND');
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
  say('ready');

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
        await arr.write(arrayOffset(round, n), arrayData(seed, round, n));
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
