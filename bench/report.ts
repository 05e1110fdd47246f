/**
 * npm run bench:report — bench/results/*.json (bench:ior's) and the tables of bench/RESULTS.md
 * (the other benches') as one self-contained HTML page, bench/report.html, with inline SVG charts:
 * bandwidth against transfer size, rates per mdtest phase, io500 phases, and daos-ts against the
 * POSIX baseline.
 *
 *   npm run bench:report [-- --in bench/results --results bench/RESULTS.md --out bench/report.html]
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { barChart, escapeXml, lineChart } from './report-svg.js';
import { benchSourceDir, type IorBenchJson, type IorBenchSideResult } from './results-json.js';

const MiB = 1 << 20;

/** A results table of RESULTS.md (`| test | daos-ts | baseline | ratio | goal |`) under its bench's marker. */
export interface MarkdownTable {
  bench: string;
  rows: { test: string; ours: string; base: string; ratio: number | undefined; goal: string }[];
}

/** The results tables between `<!-- bench:NAME:begin -->` markers of RESULTS.md (ior's is skipped: it has its JSON). */
export function parseResultsMarkdown(text: string): MarkdownTable[] {
  const out: MarkdownTable[] = [];
  const re = /<!-- bench:([\w-]+):begin -->([\s\S]*?)<!-- bench:\1:end -->/g;
  for (const m of text.matchAll(re)) {
    const bench = m[1]!;
    if (bench === 'ior') continue;
    const rows: MarkdownTable['rows'] = [];
    for (const line of m[2]!.split('\n')) {
      const cells = line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      if (cells.length < 5 || cells[0] === 'test' || /^-+:?$/.test(cells[1] ?? '')) continue;
      const r = /^([\d.]+)x$/.exec(cells[3]!);
      rows.push({
        test: cells[0]!,
        ours: cells[1]!,
        base: cells[2]!,
        ratio: r ? Number(r[1]) : undefined,
        goal: cells[4]!,
      });
    }
    if (rows.length > 0) out.push({ bench, rows });
  }
  return out;
}

const sizeLabel = (b: number) => (b >= MiB ? `${b / MiB}m` : `${b / 1024}k`);

function htmlTable(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function iorSection(d: IorBenchJson): string {
  const parts: string[] = [];
  const sides = d.sides;
  const base = d.sides.find((s) => s.api === 'POSIX');
  parts.push(
    `<h2>bench:ior — ior, mdtest and io500, daos-ts against POSIX</h2>`,
    `<p class="meta">${escapeXml(d.command)} · ${escapeXml(d.date)} · ${escapeXml(d.machine)} · load ${d.loadavg.start.toFixed(2)} → ${d.loadavg.end.toFixed(2)} · ${d.tasks} tasks, best of ${d.reps}</p>`,
  );
  // Bandwidth against transfer size.
  const sweepSides = [...new Set(d.sweep.map((p) => p.side))];
  const label = (key: string) => sides.find((s) => s.key === key)?.label ?? key;
  const series = (['write', 'read'] as const).flatMap((op) =>
    sweepSides.map((side) => ({
      name: `${label(side)} ${op}`,
      points: d.sweep
        .filter((p) => p.side === side)
        .map((p) => ({ x: p.transferBytes, y: op === 'write' ? p.writeMiBps : p.readMiBps })),
    })),
  );
  if (d.sweep.length > 0)
    parts.push(
      lineChart({
        title: 'ior -F: bandwidth against transfer size',
        xUnit: 'transfer size (-t)',
        yUnit: 'MiB/s',
        series,
        xLabel: sizeLabel,
      }),
    );
  // ior-easy / ior-hard bandwidth.
  const bwOps: [string, (r: IorBenchSideResult) => number][] = [
    ['ior-easy write', (r) => r.easyWrite],
    ['ior-easy read', (r) => r.easyRead],
    ['ior-hard write', (r) => r.hardWrite],
    ['ior-hard read', (r) => r.hardRead],
  ];
  parts.push(
    barChart({
      title: 'ior-easy (-F -t 1m) and ior-hard (-t 47008, shared file)',
      unit: 'MiB/s',
      series: sides.map((s) => s.label),
      groups: bwOps.map(([l, get]) => ({ label: l, values: sides.map((s) => get(d.results[s.key]!)) })),
      log: true,
    }),
  );
  // Rates per mdtest phase.
  const mdOps = ['create', 'stat', 'remove'] as const;
  parts.push(
    barChart({
      title: 'mdtest-easy (-u -L -F -N 1): rate per phase',
      unit: 'ops/s',
      series: sides.map((s) => s.label),
      groups: mdOps.map((op) => ({ label: op, values: sides.map((s) => d.results[s.key]!.mdtest[op]) })),
    }),
  );
  // io500 phases.
  const phaseNames = d.results[sides[0]!.key]!.io500.phases.map((p) => p.name);
  parts.push(
    barChart({
      title: 'io500 (scaled down): every phase (GiB/s for ior, kIOPS for the others; log scale)',
      unit: 'GiB/s or kIOPS',
      series: sides.map((s) => s.label),
      groups: phaseNames.map((n) => ({
        label: n,
        values: sides.map((s) => d.results[s.key]!.io500.phases.find((p) => p.name === n)?.value),
      })),
      log: true,
    }),
  );
  // daos-ts against the baseline.
  if (base) {
    const b = d.results[base.key]!;
    const rated: [string, (r: IorBenchSideResult) => number][] = [
      ...bwOps,
      ...mdOps.map(
        (op) =>
          [`mdtest-easy ${op}`, (r: IorBenchSideResult) => r.mdtest[op]] as [
            string,
            (r: IorBenchSideResult) => number,
          ],
      ),
      ['io500 score', (r) => r.io500.score],
    ];
    const ours = sides.filter((s) => s !== base);
    parts.push(
      barChart({
        title: 'daos-ts / POSIX (dashed: 1.0, the baseline)',
        unit: 'ratio',
        series: ours.map((s) => s.label),
        groups: rated.map(([l, get]) => ({
          label: l,
          values: ours.map((s) => (get(b) > 0 ? get(d.results[s.key]!) / get(b) : undefined)),
        })),
        reference: 1,
      }),
    );
  }
  const scoreRows = sides.map((s) => {
    const r = d.results[s.key]!.io500;
    return [s.label, r.bw.toFixed(4), r.md.toFixed(4), r.score.toFixed(4)];
  });
  parts.push(htmlTable(['side', 'io500 BW (GiB/s)', 'io500 MD (kIOPS)', 'io500 score'], scoreRows));
  return parts.join('\n');
}

function markdownSection(t: MarkdownTable): string {
  const withRatio = t.rows.filter((r) => r.ratio !== undefined);
  const chart =
    withRatio.length > 0
      ? barChart({
          title: `bench:${t.bench}: daos-ts / baseline (dashed: 1.0)`,
          unit: 'ratio',
          series: ['daos-ts / baseline'],
          groups: withRatio.map((r) => ({
            label: r.test.length > 30 ? `${r.test.slice(0, 29)}…` : r.test,
            values: [r.ratio],
          })),
          reference: 1,
        })
      : '';
  return [
    `<h2>bench:${escapeXml(t.bench)}</h2>`,
    chart,
    htmlTable(
      ['test', 'daos-ts', 'baseline', 'ratio', 'goal'],
      t.rows.map((r) => [
        r.test,
        r.ours,
        r.base,
        r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`,
        r.goal.replace(/\*\*/g, ''),
      ]),
    ),
  ].join('\n');
}

/** The page from the JSON results and the RESULTS.md tables. */
export function renderReport(input: { ior?: IorBenchJson; markdown?: MarkdownTable[] }): string {
  const body: string[] = [];
  if (input.ior) body.push(iorSection(input.ior));
  for (const t of input.markdown ?? []) body.push(markdownSection(t));
  if (body.length === 0) body.push('<p>No results yet: run <code>npm run bench:ior</code>.</p>');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>daos-ts benchmark report</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 900px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
svg { display: block; margin: 1em 0; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
.meta { color: #666; font-size: 0.85em; }
</style>
</head>
<body>
<h1>daos-ts benchmark report</h1>
<p class="meta">Made by <code>npm run bench:report</code> from bench/results/*.json and bench/RESULTS.md. Each bench runs daos-ts and its baseline side by side in one run; only the ratios within a run mean much on a shared machine.</p>
${body.join('\n')}
</body>
</html>
`;
}

/** Read the results folder (and RESULTS.md when given) and write the page; returns its path. */
export function writeReport(o: { inDir: string; outFile: string; resultsMd?: string }): string {
  let ior: IorBenchJson | undefined;
  if (existsSync(o.inDir))
    for (const name of readdirSync(o.inDir).filter((n) => n.endsWith('.json'))) {
      const data = JSON.parse(readFileSync(join(o.inDir, name), 'utf8')) as { bench?: string };
      if (data.bench === 'ior') ior = data as IorBenchJson;
    }
  const markdown =
    o.resultsMd && existsSync(o.resultsMd) ? parseResultsMarkdown(readFileSync(o.resultsMd, 'utf8')) : [];
  writeFileSync(o.outFile, renderReport({ ior, markdown }));
  return o.outFile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { in: { type: 'string' }, out: { type: 'string' }, results: { type: 'string' } },
  });
  const dir = benchSourceDir();
  const file = writeReport({
    inDir: values.in ?? join(dir, 'results'),
    outFile: values.out ?? join(dir, 'report.html'),
    resultsMd: values.results ?? join(dir, 'RESULTS.md'),
  });
  console.error(`wrote ${file}`);
}
