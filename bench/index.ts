/** daos-ts/bench: the engines behind the benchmark CLIs (ior, mdtest). */
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
