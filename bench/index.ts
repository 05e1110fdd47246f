/** daos-ts/bench: the engines the benchmark CLIs run. */
export { type MdtestOptions, type MdtestReport, runMdtest } from './mdtest/index.js';
