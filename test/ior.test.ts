import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIor } from '../bench/index.js';
import { Dfs } from '../core/dfs/dfs.js';
import { DaosSystem } from '../embedded/system.js';

/**
 * ior (bench/ior, bin/ior.ts): the compiled CLI as a child process and runIor in-process on one
 * embedded system. The text parser below follows IOR 4's format as shared/REFERENCE.md
 * describes it, not this tool's printer.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const IOR = join(ROOT, 'dist/bin/ior.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ior(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [IOR, ...args],
      { cwd, env: { ...process.env, DAOS_EMBEDDED: '' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// ---- IOR's text format (REFERENCE.md "IOR"), parsed independently of bench/ior/output.ts ----

const RESULT_COLUMNS = [
  'access',
  'bw(MiB/s)',
  'IOPS',
  'Latency(s)',
  'block(KiB)',
  'xfer(KiB)',
  'open(s)',
  'wr/rd(s)',
  'close(s)',
  'total(s)',
  'iter',
];
const SUMMARY_COLUMNS =
  'Operation Max(MiB) Min(MiB) Mean(MiB) StdDev Max(OPs) Min(OPs) Mean(OPs) StdDev Mean(s) Stonewall(s) Stonewall(MiB) Test# #Tasks tPN reps fPP reord reordoff reordrand seed segcnt blksiz xsize aggs(MiB) API RefNum'.split(
    ' ',
  );

interface ParsedIor {
  version: string;
  fields: Record<string, string>;
  options: Record<string, string>;
  results: Array<Record<string, string>>;
  summary: Array<Record<string, string>>;
  maxWrite?: { mib: number; mb: number };
  maxRead?: { mib: number; mb: number };
}

/** A Results cell: width 10, left-justified; 1 decimal for 0, 6 below 1, 2 below 3600, else none. */
function checkCell(cell: string): void {
  expect(cell).toHaveLength(10);
  const text = cell.trimEnd();
  expect(cell.startsWith(' ')).toBe(false);
  const v = Number(text);
  expect(Number.isFinite(v)).toBe(true);
  const decimals = text.includes('.') ? text.split('.')[1]!.length : 0;
  expect(decimals).toBe(v === 0 ? 1 : v < 1 ? 6 : v < 3600 ? 2 : 0);
}

function parseIorText(text: string): ParsedIor {
  const lines = text.split('\n');
  const banner = /^IOR-(\S+): MPI Coordinated Test of Parallel I\/O$/.exec(lines[0]!);
  expect(banner, 'banner').not.toBeNull();
  const out: ParsedIor = { version: banner![1]!, fields: {}, options: {}, results: [], summary: [] };
  const keyVal = /^(.{20}): (.*)$/;
  let i = 1;
  for (; i < lines.length && lines[i] !== 'Options: '; i++) {
    const m = keyVal.exec(lines[i]!);
    if (m) out.fields[m[1]!.trimEnd()] = m[2]!;
  }
  for (const k of ['Began', 'Command line', 'Machine']) expect(out.fields[k], k).toBeDefined();
  expect(out.fields.Began).toMatch(/^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
  for (i++; i < lines.length && lines[i] !== ''; i++) {
    const m = keyVal.exec(lines[i]!);
    expect(m, `option line "${lines[i]}"`).not.toBeNull();
    out.options[m![1]!.trimEnd()] = m![2]!;
  }
  i = lines.indexOf('Results: ', i);
  expect(i).toBeGreaterThan(0);
  const header = lines.findIndex((l, k) => k > i && l.startsWith('access'));
  expect(lines[header]!.trim().split(/\s+/)).toEqual(RESULT_COLUMNS);
  expect(lines[header + 1]).toMatch(/^------ +---------/);
  for (i = header + 2; i < lines.length && !lines[i]!.startsWith('Summary of all tests:'); i++) {
    const line = lines[i]!;
    const max = /^Max (Write|Read): +([\d.]+) MiB\/sec \(([\d.]+) MB\/sec\)$/.exec(line);
    if (max) out[max[1] === 'Write' ? 'maxWrite' : 'maxRead'] = { mib: Number(max[2]), mb: Number(max[3]) };
    if (!/^(write|read) /.test(line)) continue;
    // access %-10s, then ten cells of "%-10.Nf " (the last before iter).
    expect(line.slice(0, 10).trimEnd()).toMatch(/^(write|read)$/);
    const cells = Array.from({ length: 9 }, (_, c) => line.slice(10 + c * 11, 10 + c * 11 + 10));
    for (let c = 0; c < 9; c++) {
      checkCell(cells[c]!);
      expect(line[10 + c * 11 + 10]).toBe(' ');
    }
    const iter = line.slice(10 + 9 * 11).trim();
    expect(iter).toMatch(/^\d+$/);
    out.results.push(
      Object.fromEntries(
        RESULT_COLUMNS.map((k, c) => [
          k,
          c === 0 ? line.slice(0, 10).trim() : c === 10 ? iter : cells[c - 1]!.trim(),
        ]),
      ),
    );
  }
  expect(lines[i]).toBe('Summary of all tests:');
  expect(lines[i + 1]!.trim().split(/\s+/)).toEqual(SUMMARY_COLUMNS);
  for (i += 2; i < lines.length && /^(write|read) /.test(lines[i]!); i++) {
    const cells = lines[i]!.trim().split(/\s+/);
    expect(cells).toHaveLength(SUMMARY_COLUMNS.length);
    out.summary.push(Object.fromEntries(SUMMARY_COLUMNS.map((k, c) => [k, cells[c]!])));
  }
  expect(lines[i]).toMatch(/^Finished {12}: /);
  return out;
}

// ---- the tests ----

let dir: string;
let sys: DaosSystem;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ior-'));
  sys = await DaosSystem.start({ dir: join(dir, 'shared'), targetsPerEngine: 2 });
  await sys.createPool({ label: 'tank', size: '2G' });
});

afterAll(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const MiB = 1 << 20;

describe('ior output', () => {
  it('prints IOR 4 text: banner, Options block, Results, Max lines, Summary table', async () => {
    const r = await ior(
      ['-a', 'POSIX', '-b', '1m', '-t', '256k', '-s', '2', '-N', '2', '-i', '2', '-w', '-r', '-C'],
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const p = parseIorText(r.stdout);
    expect(p.fields['Command line']).toBe('ior -a POSIX -b 1m -t 256k -s 2 -N 2 -i 2 -w -r -C');
    expect(p.options).toMatchObject({
      api: 'POSIX',
      'test filename': 'testFile',
      access: 'single-shared-file',
      type: 'independent',
      segments: '2',
      'ordering in a file': 'sequential',
      'ordering inter file': 'constant task offset',
      tasks: '2',
      repetitions: '2',
      xfersize: '262144 bytes',
      blocksize: '1 MiB',
      'aggregate filesize': '4 MiB',
    });
    expect(p.results.map((x) => `${x.access}${x.iter}`)).toEqual(['write0', 'read0', 'write1', 'read1']);
    for (const row of p.results) {
      expect(Number(row['block(KiB)'])).toBe(1024);
      expect(Number(row['xfer(KiB)'])).toBe(256);
      // bw = aggregate / total time (to the printed precision)
      const bw = 4 / Number(row['total(s)']);
      expect(Math.abs(bw - Number(row['bw(MiB/s)'])) / bw).toBeLessThan(0.05);
    }
    expect(p.summary.map((s) => s.Operation)).toEqual(['write', 'read']);
    expect(p.summary[0]).toMatchObject({ '#Tasks': '2', reps: '2', fPP: '0', reord: '1', segcnt: '2' });
    expect(p.summary[0]).toMatchObject({
      blksiz: '1048576',
      xsize: '262144',
      'aggs(MiB)': '4.0',
      API: 'POSIX',
    });
    const maxW = Math.max(
      ...p.results.filter((x) => x.access === 'write').map((x) => Number(x['bw(MiB/s)'])),
    );
    expect(p.maxWrite!.mib).toBeCloseTo(maxW, 1);
    expect(p.maxWrite!.mb).toBeCloseTo((p.maxWrite!.mib * MiB) / 1e6, 1);
    expect(p.maxRead).toBeDefined();
  });

  it('-O summaryFormat=JSON,summaryFile writes the JSON keys of IOR', async () => {
    const file = join(dir, 'summary.json');
    const r = await ior(
      ['-b', '512k', '-t', '128k', '-N', '2', '-F', '-O', 'summaryFormat=JSON', '-O', `summaryFile=${file}`],
      dir,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    for (const k of ['Version', 'Began', 'Command line', 'Machine', 'tests', 'summary', 'Finished'])
      expect(doc).toHaveProperty([k]);
    const results = doc.tests[0].Results as Array<Record<string, unknown>>;
    expect(results.map((x) => x.access)).toEqual(['write', 'read']);
    for (const x of results)
      expect(Object.keys(x).sort()).toEqual(
        [
          'access',
          'bwMiB',
          'blockKiB',
          'xferKiB',
          'iops',
          'latency',
          'openTime',
          'wrRdTime',
          'closeTime',
          'totalTime',
        ].sort(),
      );
    const summaryKeys =
      'operation API TestID ReferenceNumber segmentCount blockSize transferSize numTasks tasksPerNode repetitions filePerProc reorderTasks bwMaxMIB bwMinMIB bwMeanMIB bwStdMIB OPsMax OPsMin OPsMean OPsSD MeanTime xsizeMiB'.split(
        ' ',
      );
    for (const s of doc.summary) expect(Object.keys(s).sort()).toEqual([...summaryKeys].sort());
    expect(doc.summary[0]).toMatchObject({
      operation: 'write',
      API: 'POSIX',
      numTasks: 2,
      filePerProc: true,
      xsizeMiB: 1,
    });
  });

  it('refuses bad flags with a clear message and a non-zero status', async () => {
    for (const [args, msg] of [
      [['-q'], /unknown option -q/],
      [['-b', '1m', '-t', '300k'], /multiple of transfer size/],
      [['-a', 'HDFX'], /unknown API "HDFX"/],
      [['-a', 'DFS'], /--embedded DIR/],
    ] as const) {
      const r = await ior([...args], dir);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('ior backends', () => {
  const line = ['-b', '1m', '-t', '256k', '-s', '2', '-N', '3', '-w', '-r', '-W', '-R', '-G', '11'];
  const cases: Array<[string, string[]]> = [
    ['POSIX', ['-a', 'POSIX']],
    ['POSIX -F', ['-a', 'POSIX', '-F']],
    ['DFS', ['-a', 'DFS']],
    ['DFS -F', ['-a', 'DFS', '-F']],
    ['DAOS', ['-a', 'DAOS']],
    ['DAOS -F', ['-a', 'DAOS', '-F']],
    ['MPIIO', ['-a', 'MPIIO', '-o', 'daos:/mpi']],
    ['MPIIO -c', ['-a', 'MPIIO', '-c', '-o', 'daos:/mpi']],
    ['MPIIO -c -F', ['-a', 'MPIIO', '-c', '-F', '-o', 'daos:/mpi']],
    ['MPIIO -F (local files)', ['-a', 'MPIIO', '-F']],
    ['HDF5', ['-a', 'HDF5']],
    ['HDF5 -c', ['-a', 'HDF5', '-c', '-o', 'daos:/h5']],
    ['HDF5 -F', ['-a', 'HDF5', '-F']],
  ];
  it.each(cases)('%s: the same aggregate size, verified', async (_name, api) => {
    const args = [...line, ...api];
    if (!api.some((a) => a.startsWith('daos:')) && api[1] !== 'DFS' && api[1] !== 'DAOS' && api[1] !== 'HDF5')
      args.push('-o', join(dir, `local-${api.join('')}`));
    const r = await runIor(args, { system: sys });
    expect(r.errors).toBe(0);
    expect(r.iterations).toHaveLength(1);
    const [w, rd] = r.iterations[0]!.phases;
    expect([w!.access, rd!.access]).toEqual(['write', 'read']);
    expect(w!.bytes).toBe(3 * 2 * MiB);
    expect(rd!.bytes).toBe(3 * 2 * MiB);
    expect(r.iterations[0]!.fileSize).toBe(3 * 2 * MiB);
    expect(r.report).toContain('aggregate filesize  : 6 MiB');
  });

  it('reordered (-C) random-offset (-z) reads with stonewalling and wear-out stay verified', async () => {
    const r = await runIor(
      [
        '-a',
        'DFS',
        '-b',
        '4m',
        '-t',
        '4k',
        '-N',
        '2',
        '-C',
        '-z',
        '-D',
        '1',
        '-O',
        'stoneWallingWearOut=1',
        '-w',
        '-r',
        '-R',
        '-G',
        '3',
      ],
      { system: sys },
    );
    expect(r.errors).toBe(0);
    const w = r.iterations[0]!.phases[0]!;
    if (w.stonewall) {
      expect(w.bytes).toBe(2 * w.stonewall.pairsMax * 4096);
      expect(r.report).toMatch(/stonewalling pairs accessed min: \d+ max: \d+/);
    } else expect(w.bytes).toBe(8 * MiB);
  });
});

describe('ior --inline (CLI): ranks as async tasks of the ior process, the embedded engine in-process', () => {
  // Through the CLI, as users run it: in-process, the test's own (source) modules and the ranks'
  // (dist) modules would be two copies of the library in one thread.
  it.each([
    ['DFS', ['-a', 'DFS']],
    ['MPIIO -c', ['-a', 'MPIIO', '-c', '-o', 'daos:/mpi']],
  ])('%s: the same aggregate size as the other backends, verified', async (name, api) => {
    const emb = join(dir, `inline-${name.replace(/\W/g, '')}`);
    const line = ['-b', '1m', '-t', '256k', '-s', '2', '-N', '3', '-w', '-r', '-W', '-R', '-G', '11'];
    const r = await ior([...line, ...api, '--inline', '--embedded', emb], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('aggregate filesize  : 6 MiB');
    expect(r.stdout).not.toContain('WARNING: incorrect data');
  });
});

describe('ior verification catches corruption', () => {
  it('-R finds a byte flipped in a DFS file between a -k write and a read-only pass (CLI, --embedded)', async () => {
    const emb = join(dir, 'emb');
    const common = [
      '-a',
      'DFS',
      '-b',
      '256k',
      '-t',
      '64k',
      '-s',
      '2',
      '-N',
      '2',
      '-G',
      '77',
      '--embedded',
      emb,
    ];
    const w = await ior([...common, '-w', '-W', '-k'], dir);
    expect(w.stderr).toBe('');
    expect(w.code).toBe(0);
    const flip = await DaosSystem.start({ dir: emb });
    try {
      const client = await flip.connect();
      const dfs = await Dfs.mount(await client.connectPool('tank'), 'ior');
      const f = await dfs.open('/testFile', { read: true, write: true });
      const b = Buffer.alloc(1);
      await f.read(b, 0, 1, 300_000);
      b[0]! ^= 0x40;
      await f.write(b, 300_000);
      await f.close();
      await dfs.umount();
      await client.close();
    } finally {
      await flip.stop();
    }
    const r = await ior([...common, '-r', '-R'], dir);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('WARNING: incorrect data on read (1 errors found).');
    expect(r.stderr).toMatch(/1 data errors/);
  });

  it('a transfer written at the wrong offset passes with the timestamp packet type and fails with -l o, as in IOR 4', async () => {
    for (const [packet, bad] of [
      ['t', 0],
      ['o', 2],
    ] as const) {
      const path = join(dir, `moved-${packet}`);
      const common = ['-b', '64k', '-t', '8k', '-G', '9', '-l', packet, '-o', path];
      expect((await runIor([...common, '-w', '-k'])).errors).toBe(0);
      // Transfers 1 and 2 swap places: every word of each is right for some offset.
      const fd = openSync(path, 'r+');
      const a = Buffer.alloc(8192);
      const b = Buffer.alloc(8192);
      readSync(fd, a, 0, 8192, 8192);
      readSync(fd, b, 0, 8192, 16384);
      writeSync(fd, b, 0, 8192, 8192);
      writeSync(fd, a, 0, 8192, 16384);
      closeSync(fd);
      expect((await runIor([...common, '-r', '-R'])).errors).toBe(bad);
    }
  });

  it('-R counts the transfers with corrupted words in a POSIX file, as IOR 4 does (in-process)', async () => {
    const path = join(dir, 'corrupt');
    const common = ['-b', '64k', '-t', '8k', '-N', '2', '-G', '5', '-o', path];
    expect((await runIor([...common, '-w', '-k'])).errors).toBe(0);
    const fd = openSync(path, 'r+');
    const flip = (at: number) => {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, at);
      b[0]! ^= 1;
      writeSync(fd, b, 0, 1, at);
    };
    // Two words of one 8 KiB transfer, and one word of another.
    flip(70_000);
    flip(70_008);
    flip(100_000);
    closeSync(fd);
    const r = await runIor([...common, '-r', '-R']);
    expect(r.errors).toBe(2);
    expect(r.iterations[0]!.readErrors).toBe(2);
    expect(r.report).toContain('Used Time Stamp 5 (0x5) for Data Signature');
  });
});
