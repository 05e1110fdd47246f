import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io500Defaults, parseIo500Ini, runIo500 } from '../bench/index.js';
import { Io500ConfigError } from '../bench/io500/index.js';
import { parseResultsMarkdown, writeReport } from '../bench/report.js';
import type { IorBenchJson } from '../bench/results-json.js';
import { DaosSystem } from '../embedded/system.js';

/**
 * io500 (bench/io500, bin/io500) on POSIX (the CLI as a child process, with an ini file) and on
 * DFS (runIo500 in-process): every phase's [RESULT] line in IO500's order, and a [SCORE ] line
 * whose figures this test recomputes from the printed phase figures as IO500 defines the score.
 * bench:report's page from a JSON fixture written here.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const IO500 = join(ROOT, 'dist/bin/io500.js');

/** IO500's phase order (shared/REFERENCE.md, IO500's io500.c). */
const ORDER = [
  'ior-easy-write',
  'mdtest-easy-write',
  'ior-hard-write',
  'mdtest-hard-write',
  'find',
  'ior-easy-read',
  'mdtest-easy-stat',
  'ior-hard-read',
  'mdtest-hard-stat',
  'mdtest-easy-delete',
  'mdtest-hard-read',
  'mdtest-hard-delete',
];

interface Parsed {
  results: { name: string; value: number; unit: string; seconds: number }[];
  score: { bw: number; md: number; total: number };
}

/** IO500's lines: `[RESULT] <name> <value> <GiB/s|kIOPS> : time <s> seconds` and `[SCORE ] Bandwidth …`. */
function parseIo500(text: string): Parsed {
  const results: Parsed['results'] = [];
  let score: Parsed['score'] | undefined;
  for (const line of text.split('\n')) {
    const r = /^\[RESULT\]\s+(\S+)\s+([\d.]+)\s+(GiB\/s|kIOPS) : time ([\d.]+) seconds$/.exec(line);
    if (r) results.push({ name: r[1]!, value: Number(r[2]), unit: r[3]!, seconds: Number(r[4]) });
    const s =
      /^\[SCORE \] Bandwidth ([\d.]+) GiB\/s : IOPS ([\d.]+) kiops : TOTAL ([\d.]+)( \[INVALID\])?$/.exec(
        line,
      );
    if (s) score = { bw: Number(s[1]), md: Number(s[2]), total: Number(s[3]) };
  }
  if (!score) throw new Error(`no [SCORE ] line in:\n${text}`);
  return { results, score };
}

const geomean = (v: number[]) => v.reduce((a, x) => a * x, 1) ** (1 / v.length);

function checkRun(text: string): Parsed {
  const p = parseIo500(text);
  expect(p.results.map((r) => r.name)).toEqual(ORDER);
  for (const r of p.results) {
    expect(r.unit).toBe(r.name.startsWith('ior-') ? 'GiB/s' : 'kIOPS');
    expect(r.value).toBeGreaterThan(0);
    expect(r.seconds).toBeGreaterThan(0);
  }
  const bw = geomean(p.results.filter((r) => r.name.startsWith('ior-')).map((r) => r.value));
  const md = geomean(p.results.filter((r) => !r.name.startsWith('ior-')).map((r) => r.value));
  // The printed figures have 6 decimals: allow for their rounding.
  expect(p.score.bw).toBeCloseTo(bw, 4);
  expect(p.score.md).toBeCloseTo(md, 3);
  expect(Math.abs(p.score.total - Math.sqrt(bw * md)) / Math.sqrt(bw * md)).toBeLessThan(1e-3);
  return p;
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [IO500, ...args], { timeout: 90_000 }, (err, stdout, stderr) => {
      resolvePromise({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'io500-test-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('io500', () => {
  it('POSIX through the CLI: every phase in order, the score, and the ini file honoured', async () => {
    const data = join(scratch, 'posix-data');
    const results = join(scratch, 'posix-results');
    mkdirSync(results);
    const ini = join(scratch, 'posix.ini');
    writeFileSync(
      ini,
      [
        '# a tiny run',
        '[global]',
        `datadir = ${data}`,
        `resultdir = ${results}`,
        'tasks = 2',
        '[debug]',
        'stonewall-time = 30',
        '[ior-easy]',
        'API = POSIX',
        'transferSize = 64k',
        'blockSize = 3m',
        '[ior-hard]',
        'segmentCount = 37',
        '[mdtest-easy]',
        'n = 53',
        '[mdtest-hard]',
        'n = 41',
        '[find]',
      ].join('\n'),
    );
    const r = await run([ini]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    checkRun(r.stdout);
    // The ini's values reached the phases: ior's Options block and mdtest's item count.
    const easy = readFileSync(join(results, 'ior-easy-write.txt'), 'utf8');
    expect(easy).toMatch(/xfersize\s*: 65536 bytes/);
    expect(easy).toMatch(/blocksize\s*: 3 MiB/);
    expect(easy).toContain(data);
    expect(readFileSync(join(results, 'ior-hard-write.txt'), 'utf8')).toMatch(/segments\s*: 37/);
    expect(readFileSync(join(results, 'mdtest-easy-write.txt'), 'utf8')).toContain('2 tasks, 106 files');
    expect(readFileSync(join(results, 'mdtest-hard-write.txt'), 'utf8')).toContain('2 tasks, 82 files');
    // The run's folder is gone afterwards.
    expect(readdirSync(data)).toEqual([]);
  });

  it('DFS in-process: every phase in order, the score, find matches the hard files', async () => {
    const sys = await DaosSystem.start({ dir: join(scratch, 'sys') });
    try {
      await sys.createPool({ label: 'tank', size: '4G' });
      const c = parseIo500Ini(
        [
          '[global]',
          'datadir = /io500-test',
          'api = DFS --dfs.cont io500-test',
          'tasks = 2',
          'stonewall-time = 30',
          '[ior-easy]',
          'transferSize = 64k',
          'blockSize = 1m',
          '[ior-hard]',
          'segmentCount = 20',
          '[mdtest-easy]',
          'n = 30',
          '[mdtest-hard]',
          'n = 120',
        ].join('\n'),
      );
      expect(c.mdtestHard.api).toEqual({ api: 'DFS', extra: ['--dfs.cont', 'io500-test'] });
      let printed = '';
      const result = await runIo500(c, { system: sys, out: (t) => (printed += t) });
      checkRun(printed);
      expect(result.phases.every((p) => p.api === 'DFS')).toBe(true);
      // mdtest-hard's files of 3901 bytes whose names hold "01": of file.mdtest.<rank>.<0..119>,
      // only file.mdtest.0.101 and file.mdtest.1.101 (ior's ior_file_easy.00000001 has the wrong size).
      expect(result.found).toBe(2);
      expect(result.valid).toBe(false);
    } finally {
      await sys.stop();
    }
  });

  it('the ini parser refuses unknown sections and keys and bad values', () => {
    expect(() => parseIo500Ini('[global]\ndatadr = x')).toThrow(Io500ConfigError);
    expect(() => parseIo500Ini('[ior-medium]\nn = 1')).toThrow(/unknown section/);
    expect(() =>
      parseIo500Ini('[ior-easy]\ntransferSize = 1m\nblockSize = 3m\n[mdtest-easy]\nn = -1'),
    ).toThrow(/whole number/);
    expect(() => parseIo500Ini('[ior-easy]\ntransferSize = 1m\nblockSize = 1536k')).toThrow(/multiple/);
    expect(() => parseIo500Ini('[global]\nranks = fibers')).toThrow(
      /ranks must be threads, processes or inline/,
    );
    expect(parseIo500Ini('[global]\nranks = inline').ranks).toBe('inline');
    expect(io500Defaults().ranks).toBe('threads');
    const c = parseIo500Ini('[global]\nAPI = DFS\n[mdtest-hard]\nAPI = POSIX\nnoRun = TRUE');
    expect(c.iorEasy.api.api).toBe('DFS');
    expect(c.mdtestHard).toMatchObject({ api: { api: 'POSIX' }, noRun: true });
    expect(io500Defaults().iorEasy.transferSize).toBe(2 << 20);
  });
});

describe('bench:report', () => {
  it('turns a JSON fixture and RESULTS.md tables into an HTML page with SVG charts', () => {
    const dir = join(scratch, 'report-in');
    mkdirSync(dir);
    const side = (k: number) => ({
      easyWrite: 100 * k,
      easyRead: 300 * k,
      hardWrite: 20 * k,
      hardRead: 40 * k,
      mdtest: { create: 1000 * k, stat: 3000 * k, remove: 2000 * k },
      io500: {
        phases: ORDER.map((name, i) => ({
          name,
          value: (i + 1) * k,
          unit: name.startsWith('ior-') ? 'GiB/s' : 'kIOPS',
          seconds: 1,
        })),
        bw: 1.5 * k,
        md: 4 * k,
        score: Math.sqrt(6) * k,
      },
    });
    const fixture: IorBenchJson = {
      bench: 'ior',
      version: 1,
      command: 'npm run bench:ior (fixture)',
      date: '2026-11-26T00:00:00.000Z',
      machine: 'test machine <&>',
      loadavg: { start: 1, end: 2 },
      tasks: 2,
      reps: 1,
      sizes: { easyBlockBytes: 1 << 20, easyTransferBytes: 1 << 20, hardSegments: 10, mdtestFiles: 10 },
      sides: [
        { key: 'posix', label: 'POSIX', api: 'POSIX', transport: 'local' },
        { key: 'dfs', label: 'DFS', api: 'DFS', transport: 'inproc' },
      ],
      results: { posix: side(2), dfs: side(1) },
      sweep: [64, 256, 1024, 4096].flatMap((kib) =>
        ['posix', 'dfs'].map((s) => ({
          side: s,
          transferBytes: kib * 1024,
          blockBytes: 4 << 20,
          writeMiBps: kib / 4,
          readMiBps: kib / 2,
        })),
      ),
    };
    writeFileSync(join(dir, 'ior.json'), JSON.stringify(fixture));
    const md = join(scratch, 'RESULTS.md');
    writeFileSync(
      md,
      [
        '<!-- bench:vos:begin -->',
        '| test | daos-ts | baseline | daos-ts / baseline | goal |',
        '|---|---:|---:|---:|---|',
        '| 1 MiB write | 338 MiB/s | 379 MiB/s | 0.89x | ≥ 0.8x: met |',
        '| RSS | 74 MiB |  |  |  |',
        '<!-- bench:vos:end -->',
      ].join('\n'),
    );
    expect(parseResultsMarkdown(readFileSync(md, 'utf8'))).toEqual([
      {
        bench: 'vos',
        rows: [
          { test: '1 MiB write', ours: '338 MiB/s', base: '379 MiB/s', ratio: 0.89, goal: '≥ 0.8x: met' },
          { test: 'RSS', ours: '74 MiB', base: '', ratio: undefined, goal: '' },
        ],
      },
    ]);
    const out = join(scratch, 'report.html');
    writeReport({ inDir: dir, outFile: out, resultsMd: md });
    const html = readFileSync(out, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    // Charts: transfer-size sweep, ior bars, mdtest phases, io500 phases, ratio, and vos's ratios.
    expect(html.match(/<svg /g)?.length).toBe(6);
    expect(html).toContain('ior -F: bandwidth against transfer size');
    expect(html).toContain('mdtest-easy (-u -L -F -N 1): rate per phase');
    expect(html).toContain('test machine &lt;&amp;&gt;');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    // Well formed: every element closed in order (void elements aside).
    const stack: string[] = [];
    for (const m of html.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
      const [, close, tag, selfClose] = m;
      if (selfClose || ['meta', 'br', 'hr', 'img', 'input', 'link'].includes(tag!)) continue;
      if (close) expect(stack.pop()).toBe(tag);
      else stack.push(tag!);
    }
    expect(stack).toEqual([]);
    // Numbers: the sweep's points at 64k … 4m are labelled.
    for (const l of ['64k', '256k', '1m', '4m']) expect(html).toContain(`>${l}</text>`);
  });
});
