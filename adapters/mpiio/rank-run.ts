import type { RankCore, RankInit, ToLauncher } from './comm.js';

/**
 * Run one rank of a job: import the rank module, call its default export with (comm, args),
 * close what the rank opened, and give the message that reports the outcome to the launcher
 * (a result that structured clone cannot carry is a failure).
 */
export async function runRank(core: RankCore, init: RankInit): Promise<ToLauncher> {
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
  return msg;
}
