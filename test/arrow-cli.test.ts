/**
 * `daos arrow import|export|list|show` as child processes (dist/bin/daos.js, built by the
 * global setup) on an embedded system, and examples/arrow.ts end to end.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as A from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSchema, everyTypeTable, tableValues } from './arrow-helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DMG = join(ROOT, 'dist/bin/dmg.js');
const DAOS = join(ROOT, 'dist/bin/daos.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, DAOS_EMBEDDED: '' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('daos arrow', () => {
  let dir: string;
  const daos = (...args: string[]) => run(DAOS, ['--embedded', join(dir, 'sys'), ...args]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'arrow-cli-'));
    expect(
      (await run(DMG, ['--embedded', join(dir, 'sys'), 'pool', 'create', 'tank', '--size', '1G'])).code,
    ).toBe(0);
    expect((await daos('container', 'create', 'tank', 'tables')).code).toBe(0);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports an IPC file, exports it as a file and as a stream, lists and shows it', async () => {
    const t = everyTypeTable(500, 2, 21);
    const input = join(dir, 'in.arrow');
    writeFileSync(input, A.tableToIPC(t, 'file'));
    const imp = await daos('arrow', 'import', input, 'tank', 'tables', 'every');
    expect(imp.stderr).toBe('');
    expect(imp.stdout).toMatch(/^Imported 500 rows from .*in\.arrow as dataset every in tank\/tables/);
    for (const stream of [false, true]) {
      const out = join(dir, stream ? 'out.stream.arrow' : 'out.arrow');
      const exp = await daos(
        'arrow',
        'export',
        'tank',
        'tables',
        'every',
        out,
        ...(stream ? ['--stream'] : []),
      );
      expect(exp.stdout).toMatch(
        new RegExp(`Exported 500 rows of dataset every .*IPC ${stream ? 'stream' : 'file'}`),
      );
      const back = A.tableFromIPC(readFileSync(out));
      expect(describeSchema(back.schema)).toEqual(describeSchema(t.schema));
      expect(tableValues(back)).toEqual(tableValues(t));
    }
    const part = join(dir, 'part.arrow');
    expect(
      (
        await daos(
          'arrow',
          'export',
          'tank',
          'tables',
          'every',
          part,
          '--columns',
          'view,i64',
          '--rows',
          '100:250',
        )
      ).code,
    ).toBe(0);
    expect(tableValues(A.tableFromIPC(readFileSync(part)))).toEqual(
      tableValues(t.select(['view', 'i64']).slice(100, 250)),
    );
    // The stream export imports back too.
    expect(
      (await daos('arrow', 'import', join(dir, 'out.stream.arrow'), 'tank', 'tables', 'again')).code,
    ).toBe(0);
    const list = JSON.parse((await daos('arrow', 'list', 'tank', 'tables', '--json')).stdout) as {
      response: string[];
    };
    expect(list.response).toEqual(['again', 'every']);
    const show = await daos('arrow', 'show', 'tank', 'tables', 'every');
    expect(show.stdout).toMatch(/Rows\s*: 500/);
    expect(show.stdout).toMatch(/ts_paris: Timestamp<MICROSECOND, Europe\/Paris>/);
  });

  it('fails clearly: unknown dataset, existing name, bad rows, unreadable input', async () => {
    const missing = await daos('arrow', 'export', 'tank', 'tables', 'nope', join(dir, 'x.arrow'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ERROR: daos: DER_NONEXIST\(-1005\): no Arrow dataset "nope"/);
    const input = join(dir, 'small.arrow');
    writeFileSync(input, A.tableToIPC(new A.Table({ a: A.vectorFromArray([1, 2, 3]) }), 'file'));
    expect((await daos('arrow', 'import', input, 'tank', 'tables', 'small')).code).toBe(0);
    const again = await daos('arrow', 'import', input, 'tank', 'tables', 'small');
    expect(again.stderr).toMatch(/DER_EXIST.*dataset "small" exists/);
    const rows = await daos(
      'arrow',
      'export',
      'tank',
      'tables',
      'small',
      join(dir, 'y.arrow'),
      '--rows',
      '2:9',
    );
    expect(rows.stderr).toMatch(/DER_INVAL.*rows \[2,9\) out of range/);
    const col = await daos(
      'arrow',
      'export',
      'tank',
      'tables',
      'small',
      join(dir, 'y.arrow'),
      '--columns',
      'b',
    );
    expect(col.stderr).toMatch(/DER_NONEXIST.*no column "b"/);
    const bad = await daos('arrow', 'import', join(dir, 'does-not-exist.arrow'), 'tank', 'tables', 'z');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ENOENT/);
  });
});

describe('examples/arrow', () => {
  it('writes, projects, appends under a held snapshot and exports for polars', () => {
    const dir = mkdtempSync(join(tmpdir(), 'daos-arrow-example-'));
    try {
      const out = execFileSync(process.execPath, [join(ROOT, 'dist/examples/arrow.js'), dir], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(out).toMatch(/wrote trips: 100000 rows, 6 columns/);
      expect(out).toMatch(/fare of rows \[1000, 1005\): 10\.5, 10\.51, 10\.52, 10\.53, 10\.54/);
      expect(out).toMatch(/held snapshot: 100000 rows; reopened: 150000 rows/);
      expect(out).toMatch(/polars read the export: 150000 rows, mean fare [\d.]+/);
      expect(out).toMatch(/arrow example done/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
