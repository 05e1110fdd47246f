import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The bench scripts' command lines (bench/common.ts benchFlags), as child processes of the
 * compiled dist/bench/*.js (built by the global setup): bad flags exit 2 with the message and the
 * flags there are, before anything runs; --help lists them and exits 0.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const bench = (name: string, args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'dist/bench', `${name}.js`), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: withoutBenchSizes(),
  });
/** This process's environment without the variables that set bench sizes. */
function withoutBenchSizes(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BENCH_')) delete env[k];
  return env;
}

describe('bench command lines', () => {
  it('--help lists the flags and exits 0', () => {
    const r = bench('vos', ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--array-mib N');
    expect(r.stdout).toContain('--depths N,N,...');
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [['--mib', 'x'], '--mib (or BENCH_DFS_MIB) needs a positive integer, not x'],
    [['--files', '0'], '--files (or BENCH_DFS_FILES) needs a positive integer, not 0'],
    [['--depths', '1,a'], '--depths takes positive integers separated by commas, like 1,4, not 1,a'],
  ])('dfs %j exits 2 naming what was wrong', (args, message) => {
    const r = bench('dfs', args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('options: --quick');
    expect(r.stdout).toBe('');
  });
});

describe('ab-dfs (two builds side by side)', () => {
  it('runs this build against a base build and prints both sides and their ratio', () => {
    const r = bench('ab-dfs', [
      '--base',
      join(ROOT, 'dist'),
      ...'--files 30 --rounds 2 --depth 4'.split(' '),
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('60 files per side, 4 in flight');
    for (const who of ['other', 'this'])
      expect(r.stdout).toMatch(new RegExp(`${who} +create \\d+\\.\\d +stat \\d+\\.\\d +unlink \\d+\\.\\d`));
    expect(r.stdout).toMatch(/time \/ the other's: create \d\.\d\d +stat \d\.\d\d +unlink \d\.\d\d/);
    expect(r.stdout).toMatch(
      /round by round, median \(quartiles\): create \d\.\d\d \(\d\.\d\d–\d\.\d\d\) +stat \d\.\d\d \(\d\.\d\d–\d\.\d\d\) +unlink \d\.\d\d \(\d\.\d\d–\d\.\d\d\)/,
    );
  });

  it('wants the dist folder of a build as --base', () => {
    const r = bench('ab-dfs', ['--base', ROOT]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('no index.js there');
  });
});

describe('unlink-floor (the least an SX unlink costs on per-target stores)', () => {
  it('prints fs, floor and DfsFs per round and their medians', () => {
    const r = bench('unlink-floor', ['--files', '40', '--rounds', '2', '--depths', '1,4']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      'unlink of 40 empty files per round, 2 rounds, floor over 4 LMDB stores (file object on 4)',
    );
    for (const d of [1, 4]) {
      expect(r.stdout).toMatch(
        new RegExp(
          `${d} in flight, round 2: fs \\d+\\.\\d µs, floor \\d+\\.\\d µs \\(\\d+\\.\\d\\dx fs\\), DfsFs \\d+\\.\\d µs`,
        ),
      );
      expect(r.stdout).toMatch(
        new RegExp(`${d} in flight, medians: .* floor \\d+\\.\\d\\dx, DfsFs \\d+\\.\\d\\dx`),
      );
    }
  });

  it('refuses a file object on more stores than there are', () => {
    const r = bench('unlink-floor', ['--targets', '2', '--file-shards', '3']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--file-shards must be at most --targets (2), not 3');
  });
});

describe('first-read (the first read of a chunk since its write, against FileHandle.read)', () => {
  it('prints both rates and their ratio', () => {
    const r = bench('first-read', ['--quick', '--mode', 'warm-first']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^warm-first: DaosArray \d+ MiB\/s, FileHandle \d+ MiB\/s, \d+\.\d\dx$/m);
  });

  it('refuses an unknown mode and a volume that is not whole segments', () => {
    const mode = bench('first-read', ['--mode', 'later']);
    expect(mode.status).not.toBe(0);
    expect(mode.stderr).toContain(
      '--mode must be one of plain, warm-first, other-system, pre-read, not "later"',
    );
    const chunks = bench('first-read', ['--chunks', '100']);
    expect(chunks.status).not.toBe(0);
    expect(chunks.stderr).toContain('--chunks must be a multiple of 256');
  });
});

describe('net-sink --store (the floor of bench:net)', () => {
  /** Send `[op, n]` (and `payload`); resolve with the reply's bytes past its 8-byte prefix. */
  async function request(socket: net.Socket, op: number, n: number, payload?: Buffer): Promise<Buffer> {
    const prefix = Buffer.alloc(8);
    prefix.writeUInt32LE(op, 0);
    prefix.writeUInt32LE(n, 4);
    const want = 8 + (op === 2 ? n : 0);
    const chunks: Buffer[] = [];
    let have = 0;
    const reply = new Promise<Buffer>((resolve) => {
      const onData = (c: Buffer) => {
        chunks.push(c);
        have += c.length;
        if (have < want) return;
        socket.off('data', onData);
        resolve(Buffer.concat(chunks).subarray(8));
      };
      socket.on('data', onData);
    });
    socket.write(prefix);
    if (payload) socket.write(payload);
    return reply;
  }

  it('keeps every write in a file in its folder and answers reads with those bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'net-sink-'));
    const sink = spawn(process.execPath, [join(ROOT, 'dist/bench/net-sink.js'), '--store', dir]);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        sink.stdout.on('data', (d: Buffer) => {
          const m = /^net-sink listening (\d+) pid \d+$/m.exec(d.toString());
          if (m) resolve(Number(m[1]));
        });
        sink.on('exit', (code) => reject(new Error(`net-sink exited ${code}`)));
      });
      const socket = net.connect({ host: '127.0.0.1', port });
      await new Promise((resolve) => socket.once('connect', resolve));
      // Large enough to arrive in several socket reads, each stored as it comes.
      const a = randomBytes(300_000);
      const b = randomBytes(5_000);
      expect((await request(socket, 1, a.length, a)).length).toBe(0);
      expect((await request(socket, 1, b.length, b)).length).toBe(0);
      const [file, ...others] = readdirSync(dir);
      expect(others).toEqual([]);
      expect(readFileSync(join(dir, file!)).equals(Buffer.concat([a, b]))).toBe(true);
      // Reads roll over what is stored, from its start.
      expect((await request(socket, 2, 1000)).equals(a.subarray(0, 1000))).toBe(true);
      expect((await request(socket, 2, 2000)).equals(a.subarray(1000, 3000))).toBe(true);
      socket.destroy();
    } finally {
      sink.kill('SIGTERM');
      await new Promise((resolve) => sink.once('exit', resolve));
    }
    // Its file goes with it.
    expect(readdirSync(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});
