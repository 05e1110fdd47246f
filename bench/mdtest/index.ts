export { MDTEST_CONTAINER_DEFAULT } from './backend.js';
export {
  MDTEST_DEFAULTS,
  type MdtestApi,
  type MdtestOptions,
  MdtestUsageError,
  parseMdtestArgs,
  treeShape,
} from './options.js';
export {
  MDTEST_POOL_DEFAULT,
  type MdtestJson,
  type MdtestReport,
  type MdtestRunContext,
  mdtestOptions,
  runMdtest,
} from './run.js';
export { OPERATIONS, type SummaryRow } from './summary.js';
