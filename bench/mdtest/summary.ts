/**
 * mdtest's results: the operations of its SUMMARY table, the statistics over tasks and
 * iterations as mdtest computes them, and the text and JSON the run prints.
 */

/** The rows of mdtest's SUMMARY table, in its order. */
export const OPERATIONS = [
  'Directory creation',
  'Directory stat',
  'Directory rename',
  'Directory removal',
  'File creation',
  'File stat',
  'File read',
  'File removal',
  'Tree creation',
  'Tree removal',
] as const;
export const OPERATION_COUNT = OPERATIONS.length;

/** Index of each operation in OPERATIONS (and in a task's time and rate arrays). */
export const OP = {
  dir: { create: 0, stat: 1, rename: 2, remove: 3 },
  file: { create: 4, stat: 5, read: 6, remove: 7 },
  tree: { create: 8, remove: 9 },
} as const;

/** The version in the banner: the mdtest we follow, and that it is ours. */
export const MDTEST_VERSION = '4.0.0+daos-ts';

export interface SummaryRow {
  operation: string;
  max: number;
  min: number;
  mean: number;
  stddev: number;
}

/** Max, min, mean and (population) standard deviation, as mdtest's summarize_results. */
export function stats(operation: string, values: number[]): SummaryRow {
  if (values.length === 0) return { operation, max: 0, min: 0, mean: 0, stddev: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return {
    operation,
    max: Math.max(...values),
    min: Math.min(...values),
    mean,
    stddev: Math.sqrt(variance),
  };
}

/** One task's figures per iteration (what the rank program returns). */
export interface TaskFigures {
  iterations: Array<{ time: number[]; rate: number[] }>;
}

/**
 * The table of one measure: item operations over every task and iteration; tree operations
 * over rank 0's iterations (only it times the whole tree), as mdtest does. -F leaves out the
 * directory rows and -D the file rows, as mdtest does; phases not run show zeros.
 */
export function summaryRows(
  tasks: TaskFigures[],
  measure: 'rate' | 'time',
  kinds: { files: boolean; dirs: boolean },
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (let op = 0; op < OPERATION_COUNT; op++) {
    if (op <= OP.dir.remove && !kinds.dirs) continue;
    if (op >= OP.file.create && op <= OP.file.remove && !kinds.files) continue;
    const from = op >= OP.tree.create ? tasks.slice(0, 1) : tasks;
    rows.push(
      stats(
        OPERATIONS[op]!,
        from.flatMap((t) => t.iterations.map((it) => it[measure][op]!)),
      ),
    );
  }
  return rows;
}

const cell = (v: number) => v.toFixed(3).padStart(14);
const NAME_WIDTH = 26;

/** The SUMMARY block as mdtest prints it: title, header, rule, one row per operation. */
export function formatSummary(
  measure: 'rate' | 'time',
  iterations: number,
  rows: SummaryRow[],
  stonewall?: { value: number },
): string {
  const head = (cols: string[]) =>
    `   ${cols[0]!.padEnd(NAME_WIDTH)}${cols
      .slice(1)
      .map((c) => ` ${c.padStart(14)}`)
      .join('')}`;
  const lines = [
    `SUMMARY ${measure} (in ${measure === 'rate' ? 'ops/sec' : 'sec'}): (of ${iterations} iterations)`,
    head(['Operation', 'Max', 'Min', 'Mean', 'Std Dev']),
    head(['---------', '---', '---', '----', '-------']),
  ];
  for (const r of rows) {
    lines.push(
      `   ${r.operation.padEnd(NAME_WIDTH)} ${cell(r.max)} ${cell(r.min)} ${cell(r.mean)} ${cell(r.stddev)}`,
    );
    if (r.operation === 'File creation' && stonewall)
      lines.push(
        `   ${'File create (stonewall)'.padEnd(NAME_WIDTH)} ${'NA'.padStart(14)} ${'NA'.padStart(14)} ${cell(stonewall.value)} ${'NA'.padStart(14)}`,
      );
  }
  return lines.join('\n');
}

/** mdtest's timestamp: MM/DD/YYYY HH:MM:SS, local time. */
export function mdtestTimestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}/${p(d.getDate())}/${d.getFullYear()} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
