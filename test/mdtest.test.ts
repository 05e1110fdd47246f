import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMdtest } from '../bench/index.js';
import type { DaosClient } from '../core/daos/client.js';
import { Dfs } from '../core/dfs/dfs.js';
import { DaosSystem } from '../embedded/system.js';

/**
 * mdtest (bench/mdtest, bin/mdtest) on POSIX and DFS: the CLI as a child process (the compiled
 * dist/bin/mdtest.js) and runMdtest in-process; the SUMMARY table read back with a parser
 * written from mdtest's format (shared/REFERENCE.md), not from our printer; the tree checked
 * on the file system while it exists and gone after the remove phase.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MDTEST = join(ROOT, 'dist/bin/mdtest.js');

/** mdtest's SUMMARY rows, in the order mdtest prints them. */
const ROWS = [
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
];

interface Table {
  measure: string;
  unit: string;
  iterations: number;
  rows: Map<string, { max: number; min: number; mean: number; sd: number }>;
}

/**
 * Every `SUMMARY rate|time (in UNIT): (of N iterations)` block: the header `Operation Max Min
 * Mean Std Dev`, a rule of dashes, then rows `   NAME  %14.3f %14.3f %14.3f %14.3f`.
 */
function parseSummaries(text: string): Table[] {
  const lines = text.split('\n');
  const tables: Table[] = [];
  for (let i = 0; i < lines.length; i++) {
    const title = /^SUMMARY (rate|time) \(in ([^)]+)\): \(of (\d+) iterations\)$/.exec(lines[i]!);
    if (!title) continue;
    expect(lines[i + 1]).toMatch(/^\s+Operation\s+Max\s+Min\s+Mean\s+Std Dev$/);
    expect(lines[i + 2]).toMatch(/^\s+-+\s+-+\s+-+\s+-+\s+-+$/);
    const rows = new Map<string, { max: number; min: number; mean: number; sd: number }>();
    for (let j = i + 3; j < lines.length && lines[j]!.trim() !== ''; j++) {
      const line = lines[j]!;
      // Four cells of %14.3f, one space apart, end the line; the name is what comes before.
      const cells = /^(.*?) (.{14}) (.{14}) (.{14}) (.{14})$/.exec(line);
      expect(cells, line).not.toBeNull();
      const name = cells![1]!.trim().replace(/\s*:$/, '');
      if (name === 'File create (stonewall)') continue;
      const nums = cells!.slice(2).map((c) => {
        expect(c, line).toMatch(/^ *-?\d+\.\d{3}$/);
        return Number(c);
      });
      rows.set(name, { max: nums[0]!, min: nums[1]!, mean: nums[2]!, sd: nums[3]! });
    }
    // Row names are mdtest's, in its order.
    const names = [...rows.keys()];
    expect(names).toEqual(ROWS.filter((r) => names.includes(r)));
    tables.push({ measure: title[1]!, unit: title[2]!, iterations: Number(title[3]), rows });
  }
  return tables;
}

/** The banner lines of mdtest. */
function checkBanner(text: string, tasks: number, items: number, what: string): void {
  expect(text).toMatch(/^-- started at \d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d --\n/);
  expect(text).toMatch(
    new RegExp(`\\nmdtest-\\S+ was launched with ${tasks} total task\\(s\\) on 1 node\\(s\\)\\n`),
  );
  expect(text).toMatch(/\nCommand line used: mdtest .*\n/);
  expect(text).toMatch(/\nPath: \S+\n/);
  expect(text).toContain(`\n${tasks} tasks, ${items} ${what}\n`);
  expect(text).toMatch(/\n-- finished at \d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d --\n$/);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MDTEST, ...args],
      { env: { ...process.env, DAOS_EMBEDDED: '' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Every path under dir, relative, sorted. */
function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'mdtest-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('mdtest on POSIX', () => {
  it('depth 2, branching 3, -I 10, 4 tasks: every phase, the real table, nothing left behind', async () => {
    const parent = join(scratch, 'full');
    mkdirSync(parent);
    const r = await cli([
      '--np',
      '4',
      '-z',
      '2',
      '-b',
      '3',
      '-I',
      '10',
      '-d',
      join(parent, 'out'),
      '-w',
      '64',
      '-e',
      '64',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // 13 directories × 10 items per task, for each of files and directories.
    checkBanner(r.stdout, 4, 520, 'files/directories');
    const [t] = parseSummaries(r.stdout);
    expect(t!.measure).toBe('rate');
    expect(t!.unit).toBe('ops/sec');
    expect(t!.iterations).toBe(1);
    expect([...t!.rows.keys()]).toEqual(ROWS);
    for (const name of ROWS.filter((n) => n !== 'Directory rename'))
      expect(t!.rows.get(name)!.min, name).toBeGreaterThan(0);
    expect(t!.rows.get('Directory rename')!.max).toBe(0);
    expect(walk(parent)).toEqual([]);
  });

  it('-C, then -T, then -r in separate runs on one tree (-u -L -F); names as mdtest makes them', async () => {
    const d = join(scratch, 'phases');
    const base = ['--np', '2', '-z', '1', '-b', '2', '-I', '3', '-u', '-L', '-F', '-d', d];
    const c = await runMdtest([...base, '-C']);
    const tree = walk(d);
    // Leaves only: the items are in mdtest_tree.<rank>.1 and .2, none in the root .0.
    for (const rank of [0, 1]) {
      const root = `test-dir.0-0/mdtest_tree.${rank}.0`;
      expect(tree).toContain(root);
      for (const leaf of [1, 2]) {
        const names = readdirSync(join(d, root, `mdtest_tree.${rank}.${leaf}`)).sort();
        // Items of directory k are numbered k*I .. k*I+I-1.
        expect(names).toEqual([0, 1, 2].map((j) => `file.mdtest.${rank}.${leaf * 3 + j}`).sort());
      }
      expect(readdirSync(join(d, root)).sort()).toEqual([`mdtest_tree.${rank}.1`, `mdtest_tree.${rank}.2`]);
    }
    expect(tree.filter((p) => p.includes('dir.mdtest'))).toEqual([]);
    let [t] = parseSummaries(c.text);
    expect([...t!.rows.keys()]).toEqual([
      'File creation',
      'File stat',
      'File read',
      'File removal',
      'Tree creation',
      'Tree removal',
    ]);
    expect(t!.rows.get('File creation')!.min).toBeGreaterThan(0);
    expect(t!.rows.get('File stat')!.max).toBe(0);
    expect(t!.rows.get('Tree removal')!.max).toBe(0);

    [t] = parseSummaries((await runMdtest([...base, '-T'])).text);
    expect(t!.rows.get('File stat')!.min).toBeGreaterThan(0);
    expect(t!.rows.get('File creation')!.max).toBe(0);
    expect(walk(d)).toEqual(tree);

    [t] = parseSummaries((await runMdtest([...base, '-r'])).text);
    expect(t!.rows.get('File removal')!.min).toBeGreaterThan(0);
    expect(t!.rows.get('Tree removal')!.min).toBeGreaterThan(0);
    expect(walk(d)).toEqual([]);
  });

  it('-w/-e: the bytes written are on disk and read back; -D has only directory rows (tasks as processes)', async () => {
    const d = join(scratch, 'bytes');
    await runMdtest(['-n', '4', '-w', '4096', '-F', '-C', '-d', d]);
    for (let n = 0; n < 4; n++) {
      const b = readFileSync(join(d, 'test-dir.0-0/mdtest_tree.0', `file.mdtest.0.${n}`));
      expect(b.length).toBe(4096);
      expect(b.readBigUInt64LE(0)).toBe(BigInt(n));
      expect(b[100]).toBe(101);
    }
    const e = await runMdtest(['-n', '4', '-e', '4096', '-F', '-E', '-r', '-d', d]);
    expect(parseSummaries(e.text)[0]!.rows.get('File read')!.min).toBeGreaterThan(0);
    expect(walk(d)).toEqual([]);

    const dirs = await runMdtest({
      dirsOnly: true,
      mode: 'processes',
      items: 6,
      depth: 1,
      branch: 2,
      tasks: 2,
      dir: join(scratch, 'dirs'),
    });
    checkBanner(dirs.text, 2, 12, 'directories');
    const [t] = parseSummaries(dirs.text);
    expect([...t!.rows.keys()]).toEqual([
      'Directory creation',
      'Directory stat',
      'Directory rename',
      'Directory removal',
      'Tree creation',
      'Tree removal',
    ]);
    expect(dirs.json.rate.map((r) => r.operation)).toEqual([...t!.rows.keys()]);
    expect(walk(join(scratch, 'dirs'))).toEqual([]);
  });

  it('-N 1 (stride), -i 2, -P, -Z, and the --json summary', async () => {
    const d = join(scratch, 'stride');
    const json = join(scratch, 'stride.json');
    const r = await cli([
      '--np',
      '3',
      '-n',
      '6',
      '-u',
      '-N',
      '1',
      '-i',
      '2',
      '-P',
      '-d',
      d,
      '--json',
      json,
      '--processes',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const tables = parseSummaries(r.stdout);
    expect(tables.map((t) => [t.measure, t.unit, t.iterations])).toEqual([
      ['rate', 'ops/sec', 2],
      ['time', 'sec', 2],
    ]);
    const j = JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(j)).toEqual(
      expect.arrayContaining([
        'version',
        'began',
        'finished',
        'commandLine',
        'api',
        'path',
        'tasks',
        'iterations',
        'itemsPerTask',
        'totalItems',
        'tree',
        'phases',
        'rate',
        'time',
      ]),
    );
    expect(j.totalItems).toBe(18);
    const z = await cli(['-n', '2', '-Z', '-d', d]);
    expect(parseSummaries(z.stdout).map((t) => t.measure)).toEqual(['time']);
    expect(walk(d)).toEqual([]);
  });

  it('-W: tasks stop at the wall, the others catch up, and every later phase finds the same items', async () => {
    const d = join(scratch, 'wall');
    const r = await runMdtest({ filesOnly: true, items: 1_000_000, stonewallSeconds: 1, tasks: 2, dir: d });
    expect(r.json.stonewall!.items).toBeGreaterThan(0);
    expect(r.text).toMatch(/\n {3}File create \(stonewall\)\s+NA\s+NA\s+\d+\.\d{3}\s+NA\n/);
    expect(walk(d)).toEqual([]);
  });
});

describe('mdtest on DFS', () => {
  let sys: DaosSystem;
  let client: DaosClient;
  const readdirOf = async (cont: string, path = '/') => {
    const pool = await client.connectPool('tank');
    const dfs = await Dfs.mount(pool, cont);
    try {
      return (await dfs.fs.readdir(path)) as string[];
    } finally {
      await dfs.umount();
    }
  };

  beforeAll(async () => {
    sys = await DaosSystem.start({ dir: join(scratch, 'sys'), engines: 1, targetsPerEngine: 2 });
    await sys.createPool({ label: 'tank', size: '4G' });
    client = await sys.connect();
  });
  afterAll(async () => {
    await client?.close();
    await sys?.stop();
  });

  it('depth 2, branching 3, -I 10, 4 tasks: every phase, and the container is empty after', async () => {
    const r = await runMdtest(['-a', 'DFS', '--np', '4', '-z', '2', '-b', '3', '-I', '10', '-d', '/mdtest'], {
      system: sys,
    });
    checkBanner(r.text, 4, 520, 'files/directories');
    const [t] = parseSummaries(r.text);
    expect([...t!.rows.keys()]).toEqual(ROWS);
    for (const name of ROWS.filter((n) => n !== 'Directory rename'))
      expect(t!.rows.get(name)!.min, name).toBeGreaterThan(0);
    expect(await readdirOf('mdtest')).toEqual([]);
  });

  it('the CLI with --inline (tasks as async tasks of one process): every phase, nothing left behind', async () => {
    const dir = join(scratch, 'cli-inline');
    const r = await cli([
      '-a',
      'DFS',
      '--embedded',
      dir,
      '--np',
      '4',
      '--inline',
      '-z',
      '2',
      '-b',
      '3',
      '-I',
      '10',
      '-d',
      '/md',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    checkBanner(r.stdout, 4, 520, 'files/directories');
    const [t] = parseSummaries(r.stdout);
    expect([...t!.rows.keys()]).toEqual(ROWS);
    for (const name of ROWS.filter((n) => n !== 'Directory rename'))
      expect(t!.rows.get(name)!.min, name).toBeGreaterThan(0);
    const other = await DaosSystem.start({ dir });
    try {
      const c = await other.connect();
      const dfs = await Dfs.mount(await c.connectPool('tank'), 'mdtest');
      expect(await dfs.fs.readdir('/')).toEqual([]);
      await dfs.umount();
      await c.close();
    } finally {
      await other.stop();
    }
  });

  it('the CLI with --embedded: -D run in a container it destroys (--dfs.destroy)', async () => {
    const dir = join(scratch, 'cli-sys');
    const r = await cli([
      '-a',
      'DFS',
      '--embedded',
      dir,
      '--np',
      '2',
      '-D',
      '-n',
      '4',
      '-d',
      '/x',
      '--dfs.cont',
      'gone',
      '--dfs.destroy',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    checkBanner(r.stdout, 2, 8, 'directories');
    const other = await DaosSystem.start({ dir });
    try {
      const c = await other.connect();
      const pool = await c.connectPool('tank');
      const labels: string[] = [];
      for await (const info of pool.listContainers()) labels.push(String((info as { label?: string }).label));
      expect(labels).not.toContain('gone');
      await c.close();
    } finally {
      await other.stop();
    }
  });
});

describe('mdtest refuses bad command lines', () => {
  it.each([
    [['-q'], /unknown option -q/],
    [['-a', 'HDF5', '-n', '1'], /-a HDF5: this mdtest has the POSIX and DFS backends/],
    [['-n', '4', '-I', '2'], /give the number of items \(-n\) or the items per directory \(-I\), not both/],
    [['-n'], /-n needs a value/],
    [['-n', 'ten'], /-n needs a non-negative integer, got "ten"/],
    [['-n', '1', '-a', 'DFS'], /-a DFS needs a system: --embedded DIR/],
    [['-n', '1', '-B'], /-B \(no barriers\) is not implemented/],
    [['-n', '4', '-N', '1'], /-N 1 must be smaller than the number of tasks \(1\)/],
    [['-n', '1', '-w', '10', '-e', '20'], /read bytes must be smaller than write bytes/],
  ])('%j', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr).toMatch(/^mdtest: /);
  });
});
