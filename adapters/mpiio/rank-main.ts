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
import { runRank } from './rank-run.js';

function threadChannel(): RankChannel {
  const port = parentPort!;
  return {
    post: (msg: ToLauncher) => port.postMessage(msg),
    onMessage: (handler) => port.on('message', handler),
  };
}

/**
 * A child's IPC channel. One listener from the start: the first message is the rank's init, and
 * messages that arrive before the rank's core listens (other ranks may already be sending; IPC
 * can deliver several in one turn) are kept for it, not dropped.
 */
function processChannel(): { channel: RankChannel; init: Promise<RankInit> } {
  let handler: ((msg: ToRank) => void) | undefined;
  const early: ToRank[] = [];
  let gotInit: ((init: RankInit) => void) | undefined;
  const init = new Promise<RankInit>((resolve) => {
    gotInit = resolve;
  });
  process.on('message', (m) => {
    if (gotInit) {
      gotInit(m as RankInit);
      gotInit = undefined;
    } else if (handler) handler(m as ToRank);
    else early.push(m as ToRank);
  });
  const channel: RankChannel = {
    post: (msg: ToLauncher) => process.send!(msg),
    onMessage: (h) => {
      handler = h;
      for (const m of early.splice(0)) h(m);
    },
  };
  return { channel, init };
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
  const proc = inThread ? undefined : processChannel();
  const channel = proc ? proc.channel : threadChannel();
  const init: RankInit = proc ? await proc.init : (workerData as RankInit);
  const core = new RankCore(channel, init);
  if (init.system) {
    const sys = init.system;
    core.makeClient = async () => attach({ mgmt: mgmtProxy(core), engines: sys.engines, system: 'the job' });
    core.makeDfs = (pool, container) => Dfs.mount(pool, container, { create: true });
  }
  const msg = await runRank(core, init);
  if (inThread) {
    channel.post(msg);
    parentPort!.close();
  } else {
    process.send!(msg, () => process.exit(0));
  }
}

await main();
