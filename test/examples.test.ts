import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('examples', () => {
  it('the tour (npm start) runs end to end in a folder and reports what it did', () => {
    const dir = mkdtempSync(join(tmpdir(), 'daos-tour-test-'));
    try {
      const out = execFileSync(
        process.execPath,
        [join(root, 'dist/examples/tour.js'), dir, '--mib', '16', '--keys', '2000'],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      expect(out).toMatch(/sensor-1\/name = "thermometer"/);
      expect(out).toMatch(
        /sensor-1\/samples\[0..6\) = \[20.5, 21, 21.5, 22, 0, 0\], written: \[0, 4\) \(the rest are holes\)/,
      );
      expect(out).toMatch(/dkeys in order: sensor-0, sensor-1/);
      expect(out).toMatch(/2000 puts of 4 KiB at [\d,]+\/s, gets at [\d,]+\/s/);
      expect(out).toMatch(/16 MiB in 1 MiB writes at \d+ MiB\/s, reads at \d+ MiB\/s/);
      expect(out).toMatch(/size 16777216 bytes/);
      expect(out).toMatch(/now: {6}key-0 = "overwritten", array\[0..8\) = "NEW DATA"/);
      expect(out).toMatch(/snapshot: key-0 = 4096 bytes of 0x07, array\[0..8\) = 0000000004000000/);
      expect(out).toMatch(/DER_TX_RESTART/);
      expect(out).toMatch(/after retry: alice=75 bob=30/);
      expect(out).toMatch(/restarted on the same folder: array\[0..8\) = "NEW DATA", alice=75/);
      expect(out).toMatch(/tour done/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dfs: files, directories, streams and a snapshot mount over a POSIX container', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/dfs.js')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(out).toContain('readFile via symlink: "files over objects\\none dkey per directory entry\\n"');
    expect(out).toContain('readdir /projects: daos/ latest@');
    expect(out).toContain('rmdir of a non-empty directory: ENOTEMPTY');
    expect(out).toMatch(/streamed 32 MiB: write \d+ MiB\/s, read \d+ MiB\/s \(stat size 33554432\)/);
    expect(out).toContain(
      'now: "rewritten\\n", at snapshot: "files over objects\\none dkey per directory entry\\n"',
    );
    expect(out).toContain('writing to the snapshot mount: EROFS');
    expect(out).toContain('xattr user.owner = storage-team');
    expect(out).toContain('after rm -r: / holds []');
    expect(out).toMatch(/dfs example done/);
  });

  it('mpiio: 4 ranks write a 3-D array collectively to DFS and to a local file, byte-identical', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/mpiio.js')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(out).toMatch(
      /daos:\/grid\.bin: 4 ranks wrote 32\^3 doubles collectively and read back 65536\+65536\+65536\+65536 bytes, 0 wrong/,
    );
    expect(out).toMatch(
      /grid\.bin: 4 ranks wrote 32\^3 doubles collectively and read back 65536\+65536\+65536\+65536 bytes, 0 wrong/,
    );
    expect(out).toContain('the DFS file and the local file hold the same 262144 bytes: true');
    expect(out).toContain('mpiio example done');
  });

  it('replicas: a replicated KV on three engine processes survives a SIGKILLed engine', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/replicas.js')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const pids = [...out.matchAll(/engine rank \d: pid (\d+), tcp:\/\/127\.0\.0\.1:\d+/g)].map((m) =>
      Number(m[1]),
    );
    expect(new Set(pids).size).toBe(3);
    expect(pids).not.toContain(process.pid);
    expect(out).toMatch(/killed engine rank 1; the system excluded it \(pool map version \d+\)/);
    expect(out).toMatch(/read back 100\/100 keys; 2 of 6 targets disabled/);
    expect(out).toMatch(/sensor-0 = "written after the loss"/);
  });

  it('control: a daos_server in-process with engine processes, managed over gRPC', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/control.js')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(out).toMatch(/ranks before format: 0 AwaitFormat, 1 AwaitFormat/);
    const pids = [...out.matchAll(/(\d) Joined pid (\d+)/g)].map((m) => Number(m[2]));
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(process.pid);
    expect(out).toMatch(/pool tank: 4 targets, 134217728 bytes, map version 1/);
    expect(out).toMatch(/acl: .*A::bob@:r/);
  });

  it('dfs-copy: a folder into a POSIX container and back out, unchanged', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/dfs-copy.js')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(out).toMatch(/^in: {2}2 files, 3 dirs, 1 links, 5242914 bytes$/m);
    expect(out).toMatch(
      /daos:\/\/tank\/files\/backup holds: data\.bin, notes, notes\/empty, notes\/todo\.txt, todo/,
    );
    expect(out).toMatch(/todo\.txt in DFS: mode 444, 34 bytes/);
    expect(out).toMatch(/link in DFS: todo -> notes\/todo\.txt/);
    expect(out).toMatch(/^out: 2 files, 3 dirs, 1 links to /m);
    expect(out).toMatch(/restored tree matches the original: true/);
  });

  it('rebuild: an engine killed, its rank excluded and rebuilt, everything read back after a second loss', () => {
    const out = execFileSync(process.execPath, [join(root, 'dist/examples/rebuild.js'), '--mib', '8'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(out).toMatch(/wrote 8 MiB into 4 objects/);
    expect(out).toMatch(/killed engine rank 3/);
    expect(out).toMatch(/rank 3 excluded after \d+ ms: its process exited/);
    expect(out).toMatch(/rebuild done: [1-9]\d* objects/);
    expect(out).toMatch(/full redundancy again after \d+ ms: [1-9]\d* shards checked/);
    expect(out).toMatch(/read back 8 MiB byte-exact/);
  });
});
