/** io500: IO500's standard phases and score on daos-ts (config.ts: the ini file; run.ts: the run; find.ts: the find phase). */
export {
  checkIo500Config,
  IO500_VALID_WRITE_SECONDS,
  type Io500Api,
  type Io500ApiChoice,
  type Io500Config,
  Io500ConfigError,
  io500Defaults,
  parseIo500Ini,
} from './config.js';
export { type FindCriteria, type FindResult, findFiles } from './find.js';
export {
  formatResultLine,
  formatScoreLine,
  geometricMean,
  IO500_CONTAINER_DEFAULT,
  IO500_PHASES,
  IO500_POOL_DEFAULT,
  type Io500Phase,
  type Io500PhaseName,
  type Io500Result,
  io500Score,
  type RunIo500Env,
  runIo500,
} from './run.js';
