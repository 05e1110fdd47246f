/** daos-ts/bench: the engines behind the benchmark CLIs (ior, mdtest, io500). */

export {
  type Io500Config,
  type Io500Phase,
  type Io500Result,
  io500Defaults,
  io500Score,
  parseIo500Ini,
  type RunIo500Env,
  runIo500,
} from './io500/index.js';
export {
  IOR_CONTAINER_DEFAULT,
  IOR_POOL_DEFAULT,
  type IorIteration,
  type IorOptions,
  type IorPhase,
  type IorResult,
  IorUsageError,
  parseIorArgs,
  type RunIorEnv,
  runIor,
} from './ior/index.js';
export { type MdtestOptions, type MdtestReport, runMdtest } from './mdtest/index.js';
