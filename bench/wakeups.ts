/**
 * What a round trip to another thread costs on this machine (bench/README.md, "Thread wake-ups on
 * this VM"): a Worker's postMessage ping-pong, a SharedArrayBuffer flag with Atomics.waitAsync and
 * with a blocking Atomics.wait, libuv's thread pool (an fs.fstat), and a worker that busy-polls.
 *
 *   npm run build && node dist/bench/wakeups.js [--n 20000]
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

const { values } = parseArgs({ options: { n: { type: 'string', default: '20000' } } });
const N = Number(values.n);
if (!Number.isInteger(N) || N <= 0) throw new Error(`--n must be a positive integer, not "${values.n}"`);

/** Flag slots of the SharedArrayBuffer: the request (1 = go, 2 = stop) and the answers counted. */
const REQ = 0;
const DONE = 1;

/** Atomics.waitAsync (Node 16+; in TypeScript's lib only from es2024). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

const echo = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => parentPort.postMessage(m));`;
/** A worker that sleeps on the flag (futex) or spins on it. */
const answerer = (spin: boolean) => `const { workerData } = require('node:worker_threads');
const a = new Int32Array(workerData);
for (;;) {
  ${spin ? '' : `Atomics.wait(a, ${REQ}, 0);`}
  const v = Atomics.load(a, ${REQ});
  if (v === 2) break;
  if (v === 1) { Atomics.store(a, ${REQ}, 0); Atomics.add(a, ${DONE}, 1); Atomics.notify(a, ${DONE}); }
}`;

async function started(w: Worker): Promise<Worker> {
  await new Promise((r) => w.once('online', r));
  return w;
}

/** Microseconds per round trip of `n` calls of `once`. */
async function perTrip(n: number, once: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  return ((performance.now() - t0) * 1000) / n;
}

async function flagged(spin: boolean, wait: 'async' | 'blocking' | 'poll', n: number): Promise<number> {
  const sab = new SharedArrayBuffer(8);
  const a = new Int32Array(sab);
  const w = await started(new Worker(answerer(spin), { eval: true, workerData: sab }));
  try {
    return await perTrip(n, async () => {
      const seen = Atomics.load(a, DONE);
      Atomics.store(a, REQ, 1);
      Atomics.notify(a, REQ);
      if (wait === 'poll') while (Atomics.load(a, DONE) === seen);
      else if (wait === 'blocking') Atomics.wait(a, DONE, seen);
      else {
        const r = waitAsync(a, DONE, seen);
        if (r.async) await r.value;
      }
    });
  } finally {
    Atomics.store(a, REQ, 2);
    Atomics.notify(a, REQ);
    await w.terminate();
  }
}

async function main(): Promise<void> {
  const rows: Array<[string, number]> = [];
  const w = await started(new Worker(echo, { eval: true }));
  rows.push([
    'Worker postMessage ping-pong',
    await perTrip(
      N,
      () =>
        new Promise<void>((r) => {
          w.once('message', () => r());
          w.postMessage(0);
        }),
    ),
  ]);
  await w.terminate();
  rows.push([
    'SharedArrayBuffer, Atomics.waitAsync (worker sleeps in Atomics.wait)',
    await flagged(false, 'async', N),
  ]);
  rows.push(['SharedArrayBuffer, blocking Atomics.wait on both sides', await flagged(false, 'blocking', N)]);
  const fd = fs.openSync(fileURLToPath(import.meta.url), 'r');
  rows.push([
    "libuv's thread pool (fs.fstat)",
    await perTrip(N, () => new Promise<void>((r) => fs.fstat(fd, () => r()))),
  ]);
  fs.closeSync(fd);
  rows.push([
    'SharedArrayBuffer, both sides busy-poll (one vCPU spinning)',
    await flagged(true, 'poll', N * 10),
  ]);
  console.log(`Round trip to another thread, ${N.toLocaleString('en-US')} each (busy-poll 10x more):`);
  for (const [what, us] of rows) console.log(`  ${us.toFixed(2).padStart(8)} µs  ${what}`);
}

await main();
