/**
 * The program every rank runs (a worker thread or a child process): set up the rank's end of
 * the job, import the user's rank module and run its default export with (comm, args), then
 * report the result or the failure to the launcher.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { attach } from '../../core/daos/client.js';
import type { MgmtApi } from '../../core/daos/link.js';
import { Dfs } from '../../core/dfs/dfs.js';
import { type RankChannel, RankCore, type RankInit, type ToLauncher, type ToRank } from './comm.js';

function threadChannel(): RankChannel {
  const port = parentPort!;
  return {
    post: (msg: ToLauncher) => port.postMessage(msg),
    onMessage: (handler) => port.on('message', handler),
  };
}

function processChannel(): RankChannel {
  return {
    post: (msg: ToLauncher) => process.send!(msg),
    onMessage: (handler) => process.on('message', (m) => handler(m as ToRank)),
  };
}

/** The management API as calls forwarded to the launcher's client. */
function mgmtProxy(core: RankCore): MgmtApi {
  return new Proxy({} as MgmtApi, {
    get: (_t, method) => {
      if (typeof method !== 'string' || method === 'then') return undefined;
      return (...args: unknown[]) => core.mgmtCall(method, args);
    },
  });
}

async function main(): Promise<void> {
  const inThread = !isMainThread;
  const channel = inThread ? threadChannel() : processChannel();
  const init: RankInit = inThread
    ? (workerData as RankInit)
    : await new Promise<RankInit>((resolve) => process.once('message', (m) => resolve(m as RankInit)));
  const core = new RankCore(channel, init);
  if (init.system) {
    const sys = init.system;
    core.makeClient = async () => attach({ mgmt: mgmtProxy(core), engines: sys.engines, system: 'the job' });
    core.makeDfs = (pool, container) => Dfs.mount(pool, container, { create: true });
  }
  let msg: ToLauncher;
  try {
    const mod = (await import(init.moduleUrl)) as { default?: unknown };
    if (typeof mod.default !== 'function')
      throw new Error(`${init.moduleUrl} has no default export function (comm, args) => ...`);
    const result = await (mod.default as (c: unknown, a: string[]) => unknown)(core.world, init.args);
    msg = { t: 'done', result: result === undefined ? null : result };
  } catch (err) {
    const e = err as Error;
    msg = { t: 'fail', error: e?.stack ?? String(err), aborted: core.failure !== undefined };
  }
  await core.close();
  try {
    structuredClone(msg);
  } catch (err) {
    msg = {
      t: 'fail',
      error: `the rank's result cannot be sent to the launcher: ${String(err)}`,
      aborted: false,
    };
  }
  if (inThread) {
    channel.post(msg);
    parentPort!.close();
  } else {
    process.send!(msg, () => process.exit(0));
  }
}

await main();
