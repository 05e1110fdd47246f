/**
 * One conformance suite, two file systems: every case runs against Node's fs.promises on a
 * temporary folder and against DfsFs on an embedded system, and the recorded outcomes (values,
 * stats, listings, error codes) must be identical. Extended attributes, which Node lacks, run on
 * the local side through Python's os.*xattr (the Linux syscalls).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dfs } from '../core/dfs/index.js';
import { DaosSystem } from '../index.js';

const PY = '/usr/bin/python3';

/** What a case sees: an fs.promises-shaped object with xattr calls, and a path mapper. */
// biome-ignore lint/suspicious/noExplicitAny: both sides are driven through one loosely typed shape
type AnyFs = any;
type Step = <T>(what: string, p: Promise<T> | (() => Promise<T>)) => Promise<T | undefined>;
type Case = (fs: AnyFs, p: (rel?: string) => string, step: Step) => Promise<void>;

/** The local side's xattr calls, through the real syscalls. */
function pyXattr(op: string, ...args: string[]): Promise<unknown> {
  const script = `
import os, sys, json
op, path = sys.argv[1], sys.argv[2]
try:
    if op == 'get': r = os.getxattr(path, sys.argv[3]).hex()
    elif op == 'set':
        flag = {'': 0, 'create': os.XATTR_CREATE, 'replace': os.XATTR_REPLACE}[sys.argv[5]]
        os.setxattr(path, sys.argv[3], bytes.fromhex(sys.argv[4]), flag); r = None
    elif op == 'list': r = os.listxattr(path)
    elif op == 'remove': os.removexattr(path, sys.argv[3]); r = None
    print(json.dumps({'ok': r}))
except OSError as e:
    import errno
    print(json.dumps({'error': errno.errorcode[e.errno]}))
`;
  const out = JSON.parse(execFileSync(PY, ['-c', script, op, ...args], { encoding: 'utf8' })) as {
    ok?: unknown;
    error?: string;
  };
  if (out.error) return Promise.reject(Object.assign(new Error(out.error), { code: out.error }));
  return Promise.resolve(op === 'get' ? Buffer.from(out.ok as string, 'hex') : out.ok);
}

const localFs: AnyFs = {
  ...nodeFs,
  createReadStream: (path: string, o?: object) => nodeFsSync.createReadStream(path, o),
  createWriteStream: (path: string, o?: object) => nodeFsSync.createWriteStream(path, o),
  getxattr: (p: string, n: string) => pyXattr('get', p, n),
  setxattr: (p: string, n: string, v: Uint8Array | string, flag?: string) =>
    pyXattr('set', p, n, Buffer.from(v).toString('hex'), flag ?? ''),
  listxattr: (p: string) => pyXattr('list', p),
  removexattr: (p: string, n: string) => pyXattr('remove', p, n),
};
const nodeFsSync = await import('node:fs');

/** Reduce an outcome to what both sides must agree on. */
function norm(v: unknown): unknown {
  if (v === undefined || v === null) return v ?? null;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
    const b = Buffer.from(v);
    return b.byteLength <= 64
      ? { bytes: b.toString('hex') }
      : { bytes: b.byteLength, sha1: createHash('sha1').update(b).digest('hex') };
  }
  if (Array.isArray(v)) return v.map(norm);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.isDirectory === 'function' && typeof o.isFile === 'function' && 'mode' in o) {
      return {
        type: typeOf(o),
        size: o.isDirectory() ? 'dir' : o.size,
        mode: ((o.mode as number) & 0o7777).toString(8),
      };
    }
    if (typeof o.isDirectory === 'function' && 'name' in o) return { dirent: o.name, type: typeOf(o) };
    if ('bytesRead' in o) return { bytesRead: o.bytesRead };
    if ('bytesWritten' in o) return { bytesWritten: o.bytesWritten };
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, norm(x)]));
  }
  return v;
}

function typeOf(o: Record<string, unknown>): string {
  const f = (n: string) => (o[n] as () => boolean).call(o);
  return f('isSymbolicLink') ? 'link' : f('isDirectory') ? 'dir' : f('isFile') ? 'file' : 'other';
}

async function record(c: Case, fs: AnyFs, base: string): Promise<unknown[]> {
  const log: unknown[] = [];
  const step: Step = async (what, p) => {
    try {
      const v = await (typeof p === 'function' ? p() : p);
      log.push([what, norm(v)]);
      return v;
    } catch (err) {
      const code = (err as { code?: string }).code ?? String(err);
      log.push([what, { error: code }]);
      return undefined;
    }
  };
  await fs.mkdir(base);
  await c(fs, (rel = '') => (rel === '' ? base : `${base}/${rel}`), step);
  return log;
}

const MiB = 1 << 20;
const pattern = (n: number, seed = 1) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
};
const sorted = async (p: Promise<string[]>) => (await p).slice().sort();
const direntsSorted = async (p: Promise<Array<{ name: string }>>) =>
  (await p).slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

const cases: Record<string, Case> = {
  // ---- files ----
  'writeFile and readFile as text': async (fs, p, s) => {
    await s('write', fs.writeFile(p('f'), 'hello, world'));
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'binary round trip across chunks': async (fs, p, s) => {
    await s('write', fs.writeFile(p('f'), pattern(3 * MiB + 17)));
    await s('read', fs.readFile(p('f')));
    await s('stat', fs.stat(p('f')));
  },
  'writeFile replaces a longer file': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'a much longer first version');
    await s('write', fs.writeFile(p('f'), 'short'));
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'writeFile from an iterable of chunks': async (fs, p, s) => {
    await s('write', fs.writeFile(p('f'), ['ab', Buffer.from('cd'), 'ef']));
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'exclusive create of an existing file': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'x');
    await s('wx', fs.writeFile(p('f'), 'y', { flag: 'wx' }));
    await s('open wx', async () => (await fs.open(p('f'), 'wx')).close());
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'exclusive create of a new file': async (fs, p, s) => {
    await s('wx', fs.writeFile(p('f'), 'y', { flag: 'wx' }));
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'open for reading a missing file': async (fs, p, s) => {
    await s('r', fs.open(p('nope'), 'r'));
    await s('r+', fs.open(p('nope'), 'r+'));
    await s('readFile', fs.readFile(p('nope')));
  },
  'numeric open flags': async (fs, p, s) => {
    const fh = await fs.open(p('f'), constants.O_CREAT | constants.O_RDWR | constants.O_EXCL, 0o640);
    await s('write', fh.write(Buffer.from('numeric'), 0, 7, 0));
    await fh.close();
    await s('stat', fs.stat(p('f')));
    await s('again', fs.open(p('f'), constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY));
  },
  'appendFile creates and appends': async (fs, p, s) => {
    await s('append 1', fs.appendFile(p('f'), 'one'));
    await s('append 2', fs.appendFile(p('f'), '-two'));
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'append handle ignores positions': async (fs, p, s) => {
    await fs.writeFile(p('f'), '0123456789');
    const fh = await fs.open(p('f'), 'a');
    await s('write at 0', fh.write(Buffer.from('AB'), 0, 2, 0));
    await s('write', fh.write('CD'));
    await fh.close();
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'a+ handle reads from the start and appends': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'abc');
    const fh = await fs.open(p('f'), 'a+');
    await s('write', fh.write('def'));
    const buf = Buffer.alloc(6);
    await s('read', fh.read(buf, 0, 6, 0));
    await s('buf', Promise.resolve(buf.toString()));
    await fh.close();
  },
  'w+ handle writes then reads back': async (fs, p, s) => {
    const fh = await fs.open(p('f'), 'w+');
    await s('write', fh.write('hello there'));
    const buf = Buffer.alloc(5);
    await s('read', fh.read(buf, 0, 5, 6));
    await s('buf', Promise.resolve(buf.toString()));
    await s('stat', fh.stat());
    await fh.close();
  },
  'handle reads advance the file position': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'abcdefghij');
    const fh = await fs.open(p('f'), 'r');
    const a = Buffer.alloc(4);
    await s('read 1', fh.read(a, 0, 4, null));
    await s('a', Promise.resolve(a.toString()));
    await s('read 2', fh.read(a, 0, 4, null));
    await s('a', Promise.resolve(a.toString()));
    await s('read 3', fh.read(a, 0, 4, null));
    await s('read 4', fh.read(a, 0, 4, null));
    await fh.close();
  },
  'short read at the end leaves the rest of the buffer': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'xyz');
    const fh = await fs.open(p('f'), 'r');
    const buf = Buffer.from('--------');
    await s('read', fh.read(buf, 0, 8, 1));
    await s('buf', Promise.resolve(buf.toString()));
    await s('past end', fh.read(buf, 0, 8, 100));
    await fh.close();
  },
  'reads after a write, a truncate down and a sparse write through one handle': async (fs, p, s) => {
    const fh = await fs.open(p('f'), 'w+');
    await s('write', fh.write('abcdefghijklmnop', 0));
    const buf = Buffer.from('--------');
    await s('read inside', fh.read(buf, 0, 8, 4));
    await s('buf inside', Promise.resolve(buf.toString()));
    await s('truncate', fh.truncate(3));
    buf.fill('-');
    await s('read after truncate', fh.read(buf, 0, 8, 0));
    await s('buf after truncate', Promise.resolve(buf.toString()));
    await s('sparse write', fh.write('z', 12));
    buf.fill('-');
    await s('read across the hole', fh.read(buf, 0, 8, 2));
    await s('buf across the hole', Promise.resolve(buf.toString('hex')));
    await fh.close();
  },
  'sequential writes through a handle': async (fs, p, s) => {
    const fh = await fs.open(p('f'), 'w');
    for (let i = 0; i < 5; i++) await s(`write ${i}`, fh.write(`part${i};`));
    await fh.close();
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'writing to a read-only handle': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'abc');
    const fh = await fs.open(p('f'), 'r');
    await s('write', fh.write('zzz'));
    await fh.close();
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'reading a write-only handle': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'abc');
    const fh = await fs.open(p('f'), 'r+');
    await s('read ok', fh.read(Buffer.alloc(3), 0, 3, 0));
    await fh.close();
    const w = await fs.open(p('f'), 'a');
    await s('read', w.read(Buffer.alloc(3), 0, 3, 0));
    await w.close();
  },
  'copyFile and its exclusive mode': async (fs, p, s) => {
    await fs.writeFile(p('a'), pattern(100_000));
    await s('copy', fs.copyFile(p('a'), p('b')));
    await s('read', fs.readFile(p('b')));
    await s('excl', fs.copyFile(p('a'), p('b'), constants.COPYFILE_EXCL));
    await s('missing', fs.copyFile(p('none'), p('c')));
  },
  'empty file': async (fs, p, s) => {
    await s('write', fs.writeFile(p('f'), ''));
    await s('stat', fs.stat(p('f')));
    await s('read', fs.readFile(p('f')));
  },
  // ---- sparse files and truncate ----
  'sparse write reads zeros in the hole': async (fs, p, s) => {
    const fh = await fs.open(p('f'), 'w');
    await s('write far', fh.write(Buffer.from('end'), 0, 3, 2 * MiB + 5));
    await fh.close();
    await s('stat', fs.stat(p('f')));
    await s('read', fs.readFile(p('f')));
  },
  'sparse read of a hole inside the file': async (fs, p, s) => {
    const fh = await fs.open(p('f'), 'w+');
    await fh.write(Buffer.from('A'), 0, 1, 0);
    await fh.write(Buffer.from('B'), 0, 1, 100_000);
    const buf = Buffer.alloc(10, 0x55);
    await s('read hole', fh.read(buf, 0, 10, 50_000));
    await s('buf', Promise.resolve(buf));
    await fh.close();
  },
  'truncate up fills with zeros': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'abc');
    await s('truncate', fs.truncate(p('f'), 10));
    await s('read', fs.readFile(p('f')));
  },
  'truncate down drops the tail': async (fs, p, s) => {
    await fs.writeFile(p('f'), pattern(3 * MiB));
    await s('truncate', fs.truncate(p('f'), MiB + 3));
    await s('stat', fs.stat(p('f')));
    await s('read', fs.readFile(p('f')));
    await s('regrow', fs.truncate(p('f'), 2 * MiB));
    await s('read again', fs.readFile(p('f')));
  },
  'truncate defaults to zero; negative means zero': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'abc');
    await s('truncate', fs.truncate(p('f')));
    await s('stat', fs.stat(p('f')));
    await fs.writeFile(p('g'), 'abc');
    await s('negative', fs.truncate(p('g'), -5));
    await s('stat g', fs.stat(p('g')));
  },
  'truncate of a directory or a missing file': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await s('dir', fs.truncate(p('d'), 0));
    await s('missing', fs.truncate(p('nope'), 0));
  },
  'handle truncate then write past it': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'abcdefgh');
    const fh = await fs.open(p('f'), 'r+');
    await s('truncate', fh.truncate(2));
    await s('write', fh.write(Buffer.from('Z'), 0, 1, 5));
    await fh.close();
    await s('read', fs.readFile(p('f')));
  },
  // ---- directories ----
  'mkdir of an existing name': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await fs.writeFile(p('f'), '');
    await s('dir', fs.mkdir(p('d')));
    await s('file', fs.mkdir(p('f')));
  },
  'mkdir with a missing parent': async (fs, p, s) => {
    await s('mkdir', fs.mkdir(p('a/b')));
  },
  'mkdir recursive returns the first directory made': async (fs, p, s) => {
    await fs.mkdir(p('a'));
    const first = (await fs.mkdir(p('a/b/c/d'), { recursive: true })) as string;
    await s('first made', Promise.resolve(first.slice(p().length)));
    await s('again', fs.mkdir(p('a/b/c/d'), { recursive: true }));
    await s('stat', fs.stat(p('a/b/c/d')));
  },
  'mkdir recursive through a file': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('through', fs.mkdir(p('f/x/y'), { recursive: true }));
    await s('onto', fs.mkdir(p('f'), { recursive: true }));
  },
  'mkdir mode honours the umask': async (fs, p, s) => {
    await s('mkdir', fs.mkdir(p('d'), { mode: 0o751 }));
    await s('stat', fs.stat(p('d')));
    await s('mkdir default', fs.mkdir(p('e')));
    await s('stat default', fs.stat(p('e')));
  },
  'rmdir of a non-empty directory': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await fs.writeFile(p('d/f'), 'x');
    await s('rmdir', fs.rmdir(p('d')));
    await s('still', fs.readdir(p('d')));
  },
  'rmdir of a file, a missing name and an empty directory': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await fs.mkdir(p('d'));
    await s('file', fs.rmdir(p('f')));
    await s('missing', fs.rmdir(p('nope')));
    await s('empty', fs.rmdir(p('d')));
    await s('gone', fs.stat(p('d')));
  },
  'unlink of a directory and of a missing name': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await s('dir', fs.unlink(p('d')));
    await s('missing', fs.unlink(p('nope')));
  },
  'unlink removes a file': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'x');
    await s('unlink', fs.unlink(p('f')));
    await s('stat', fs.stat(p('f')));
    await s('list', fs.readdir(p()));
  },
  'readdir names and types': async (fs, p, s) => {
    await fs.mkdir(p('sub'));
    await fs.writeFile(p('file'), '');
    await fs.symlink('file', p('link'));
    await s('names', sorted(fs.readdir(p())));
    await s('types', direntsSorted(fs.readdir(p(), { withFileTypes: true })));
  },
  'readdir of a file and of a missing name': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('file', fs.readdir(p('f')));
    await s('missing', fs.readdir(p('nope')));
  },
  'readdir of an empty directory': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await s('list', fs.readdir(p('d')));
  },
  'readdir of 10,000 entries': async (fs, p, s) => {
    const names = Array.from({ length: 10_000 }, (_, i) => `entry-${i.toString(36)}`);
    for (let i = 0; i < names.length; i += 250)
      await Promise.all(names.slice(i, i + 250).map((n) => fs.writeFile(p(n), '')));
    const listed = (await s('list', sorted(fs.readdir(p())))) as string[];
    await s('count', Promise.resolve(listed.length));
  },
  'readdir recursive': async (fs, p, s) => {
    await fs.mkdir(p('a/b'), { recursive: true });
    await fs.writeFile(p('a/b/f'), '');
    await fs.writeFile(p('top'), '');
    await s('list', sorted(fs.readdir(p(), { recursive: true })));
  },
  'rm of a directory needs recursive': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await s('rm', fs.rm(p('d')));
    await s('stat', fs.stat(p('d')));
  },
  'rm recursive removes a tree': async (fs, p, s) => {
    await fs.mkdir(p('t/a/b'), { recursive: true });
    await fs.writeFile(p('t/a/b/f'), 'x');
    await fs.writeFile(p('t/g'), 'y');
    await fs.symlink('g', p('t/l'));
    await s('rm', fs.rm(p('t'), { recursive: true }));
    await s('list', fs.readdir(p()));
  },
  'rm of a missing name, with and without force': async (fs, p, s) => {
    await s('plain', fs.rm(p('nope')));
    await s('force', fs.rm(p('nope'), { force: true }));
  },
  'rm of a file': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('rm', fs.rm(p('f')));
    await s('list', fs.readdir(p()));
  },
  // ---- rename ----
  'rename a file over a file': async (fs, p, s) => {
    await fs.writeFile(p('a'), 'from a');
    await fs.writeFile(p('b'), 'old b');
    await s('rename', fs.rename(p('a'), p('b')));
    await s('read b', fs.readFile(p('b'), 'utf8'));
    await s('stat a', fs.stat(p('a')));
  },
  'rename a directory into its own subtree': async (fs, p, s) => {
    await fs.mkdir(p('d/e'), { recursive: true });
    await s('rename', fs.rename(p('d'), p('d/e/x')));
    await s('self', fs.rename(p('d'), p('d/x')));
    await s('list', sorted(fs.readdir(p('d'))));
  },
  'rename a file over a directory': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await fs.mkdir(p('d'));
    await s('rename', fs.rename(p('f'), p('d')));
  },
  'rename a directory over a file': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await fs.mkdir(p('d'));
    await s('rename', fs.rename(p('d'), p('f')));
  },
  'rename a directory over an empty directory': async (fs, p, s) => {
    await fs.mkdir(p('a'));
    await fs.writeFile(p('a/inside'), 'kept');
    await fs.mkdir(p('b'));
    await s('rename', fs.rename(p('a'), p('b')));
    await s('read', fs.readFile(p('b/inside'), 'utf8'));
    await s('list', sorted(fs.readdir(p())));
  },
  'rename a directory over a non-empty directory': async (fs, p, s) => {
    await fs.mkdir(p('a'));
    await fs.mkdir(p('b'));
    await fs.writeFile(p('b/x'), '');
    await s('rename', fs.rename(p('a'), p('b')));
  },
  'rename of a missing name': async (fs, p, s) => {
    await s('rename', fs.rename(p('nope'), p('x')));
    await fs.writeFile(p('f'), '');
    await s('into missing dir', fs.rename(p('f'), p('no/x')));
  },
  'rename to itself': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'same');
    await s('rename', fs.rename(p('f'), p('f')));
    await s('dotted', fs.rename(p('f'), `${p()}/./f`));
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  'rename across directories keeps content and mode': async (fs, p, s) => {
    await fs.mkdir(p('x'));
    await fs.mkdir(p('y'));
    await fs.writeFile(p('x/f'), 'moving', { mode: 0o600 });
    await s('rename', fs.rename(p('x/f'), p('y/g')));
    await s('stat', fs.stat(p('y/g')));
    await s('read', fs.readFile(p('y/g'), 'utf8'));
    await s('old', fs.readdir(p('x')));
  },
  'rename a directory with contents': async (fs, p, s) => {
    await fs.mkdir(p('a/b'), { recursive: true });
    await fs.writeFile(p('a/b/f'), 'deep');
    await s('rename', fs.rename(p('a'), p('z')));
    await s('read', fs.readFile(p('z/b/f'), 'utf8'));
    await s('old', fs.stat(p('a')));
  },
  'rename a symlink keeps its target': async (fs, p, s) => {
    await fs.writeFile(p('t'), 'target');
    await fs.symlink('t', p('l'));
    await s('rename', fs.rename(p('l'), p('m')));
    await s('readlink', fs.readlink(p('m')));
    await s('read', fs.readFile(p('m'), 'utf8'));
  },
  // ---- symlinks ----
  'symlink loop': async (fs, p, s) => {
    await fs.symlink('b', p('a'));
    await fs.symlink('a', p('b'));
    await s('stat', fs.stat(p('a')));
    await s('lstat', fs.lstat(p('a')));
    await s('read', fs.readFile(p('a')));
    await s('through', fs.stat(p('a/x')));
  },
  'symlink to itself': async (fs, p, s) => {
    await fs.symlink('self', p('self'));
    await s('stat', fs.stat(p('self')));
    await s('open', fs.open(p('self'), 'r'));
  },
  'readlink and lstat of a symlink': async (fs, p, s) => {
    await fs.writeFile(p('target'), 'abc');
    await fs.symlink('target', p('l'));
    await s('readlink', fs.readlink(p('l')));
    await s('lstat', fs.lstat(p('l')));
    await s('stat', fs.stat(p('l')));
  },
  'readlink of a file and of a missing name': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('file', fs.readlink(p('f')));
    await s('missing', fs.readlink(p('nope')));
  },
  'dangling symlink': async (fs, p, s) => {
    await s('symlink', fs.symlink('nowhere', p('l')));
    await s('stat', fs.stat(p('l')));
    await s('lstat', fs.lstat(p('l')));
    await s('readlink', fs.readlink(p('l')));
  },
  'writing through a dangling symlink creates the target': async (fs, p, s) => {
    await fs.symlink('made', p('l'));
    await s('write', fs.writeFile(p('l'), 'via link'));
    await s('read', fs.readFile(p('made'), 'utf8'));
    await s('lstat', fs.lstat(p('l')));
  },
  'symlink over an existing name': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('symlink', fs.symlink('x', p('f')));
  },
  'symlinks to directories with ..': async (fs, p, s) => {
    await fs.mkdir(p('a/b'), { recursive: true });
    await fs.writeFile(p('a/b/f'), 'found');
    await fs.mkdir(p('c'));
    await fs.symlink('../a/b', p('c/lb'));
    await s('read', fs.readFile(p('c/lb/f'), 'utf8'));
    await s('list', fs.readdir(p('c/lb')));
    await s('stat', fs.stat(p('c/lb')));
  },
  'absolute symlink': async (fs, p, s) => {
    await fs.writeFile(p('t'), 'abs');
    await fs.symlink(p('t'), p('l'));
    await s('read', fs.readFile(p('l'), 'utf8'));
    await s('is link', async () => (await fs.lstat(p('l'))).isSymbolicLink());
  },
  'chain of symlinks': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'end of chain');
    let prev = 'f';
    for (let i = 0; i < 10; i++) {
      await fs.symlink(prev, p(`l${i}`));
      prev = `l${i}`;
    }
    await s('read', fs.readFile(p('l9'), 'utf8'));
  },
  'unlink of a symlink leaves its target': async (fs, p, s) => {
    await fs.writeFile(p('t'), 'stays');
    await fs.symlink('t', p('l'));
    await s('unlink', fs.unlink(p('l')));
    await s('read', fs.readFile(p('t'), 'utf8'));
  },
  'rmdir of a symlink to a directory': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await fs.symlink('d', p('l'));
    await s('rmdir', fs.rmdir(p('l')));
    await s('rm', fs.rm(p('l')));
    await s('dir stays', fs.stat(p('d')));
  },
  'realpath resolves links and dots': async (fs, p, s) => {
    await fs.mkdir(p('a/b'), { recursive: true });
    await fs.symlink('a/b', p('l'));
    const r = (await fs.realpath(p('l/../b/.'))) as string;
    await s('realpath', Promise.resolve(r.slice(p().length)));
    await s('missing', fs.realpath(p('nope')));
  },
  // ---- paths and types ----
  'a file used as a directory': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('stat', fs.stat(p('f/x')));
    await s('write', fs.writeFile(p('f/x'), ''));
    await s('mkdir', fs.mkdir(p('f/x')));
    await s('trailing slash', fs.stat(`${p('f')}/`));
  },
  'files and directories in the wrong calls': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await s('writeFile dir', fs.writeFile(p('d'), 'x'));
    await s('readFile dir', fs.readFile(p('d')));
    await s('open dir w', fs.open(p('d'), 'w'));
    await s('appendFile dir', fs.appendFile(p('d'), 'x'));
  },
  'dot and dot-dot components': async (fs, p, s) => {
    await fs.mkdir(p('a'));
    await fs.writeFile(p('b'), 'bee');
    await s('read', fs.readFile(`${p('a')}/../b`, 'utf8'));
    await s('stat', fs.stat(`${p('a')}/./.`));
  },
  'names of 255 and 256 bytes': async (fs, p, s) => {
    await s('255', fs.writeFile(p('n'.repeat(255)), 'ok'));
    await s('256', fs.writeFile(p('n'.repeat(256)), 'no'));
    await s('stat 256', fs.stat(p('m'.repeat(256))));
    await s('list', fs.readdir(p()));
  },
  'unicode names': async (fs, p, s) => {
    await s('write', fs.writeFile(p('naïve-文件-😀'), 'u'));
    await s('list', fs.readdir(p()));
  },
  'access of present and missing names': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('present', fs.access(p('f')));
    await s('missing', fs.access(p('nope')));
  },
  // ---- metadata ----
  'stat of files, directories and sizes': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await fs.writeFile(p('f'), pattern(12345));
    await s('dir', fs.stat(p('d')));
    await s('file', fs.stat(p('f')));
    await s('lstat file', fs.lstat(p('f')));
  },
  'writeFile mode and chmod': async (fs, p, s) => {
    await s('write', fs.writeFile(p('f'), 'x', { mode: 0o604 }));
    await s('stat', fs.stat(p('f')));
    await s('chmod', fs.chmod(p('f'), 0o750));
    await s('stat after', fs.stat(p('f')));
    await s('chmod missing', fs.chmod(p('nope'), 0o700));
  },
  'chmod of a directory': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await s('chmod', fs.chmod(p('d'), 0o711));
    await s('stat', fs.stat(p('d')));
  },
  'utimes sets the times': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('utimes', fs.utimes(p('f'), 1_000_000, 2_000_000));
    const st = await fs.stat(p('f'));
    await s('times', Promise.resolve([st.atimeMs, st.mtimeMs]));
    await s('missing', fs.utimes(p('nope'), 1, 2));
  },
  'writing moves mtime forward': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'a');
    await fs.utimes(p('f'), 1000, 1000);
    await fs.appendFile(p('f'), 'b');
    const st = await fs.stat(p('f'));
    await s('newer', Promise.resolve(st.mtimeMs > 1_000_000));
  },
  // ---- streams ----
  'stream round trip of 5 MiB': async (fs, p, s) => {
    const data = pattern(5 * MiB + 3, 9);
    await s(
      'write',
      pipeline(
        (async function* () {
          for (let i = 0; i < data.byteLength; i += 65536) yield data.subarray(i, i + 65536);
        })(),
        fs.createWriteStream(p('f')),
      ),
    );
    const chunks: Buffer[] = [];
    await s(
      'read',
      pipeline(fs.createReadStream(p('f')), async (src: AsyncIterable<unknown>) => {
        for await (const c of src) chunks.push(c as Buffer);
      }),
    );
    await s('bytes', Promise.resolve(Buffer.concat(chunks)));
  },
  'write stream: a producer refills one buffer after each write is called back': async (fs, p, s) => {
    // Node's fs streams are done with a buffer when they call back; so must DfsFs's be, for
    // pieces short of a chunk (kept for the next one), whole chunks and a mix of both.
    for (const size of [65536, 1 << 20, 1536 * 1024]) {
      const ws = fs.createWriteStream(p(`f${size}`)) as NodeJS.WritableStream;
      const buf = Buffer.alloc(size);
      for (let i = 0; i < 6; i++) {
        buf.fill(i + 1);
        await new Promise<void>((res, rej) => ws.write(buf, (e) => (e ? rej(e) : res())));
      }
      await new Promise<void>((res) => ws.end(res));
      await s(`bytes ${size}`, fs.readFile(p(`f${size}`)));
    }
  },
  'read stream with start and end': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'abcdefghijklmnopqrstuvwxyz');
    const chunks: Buffer[] = [];
    await s(
      'read',
      pipeline(fs.createReadStream(p('f'), { start: 3, end: 9 }), async (src: AsyncIterable<unknown>) => {
        for await (const c of src) chunks.push(c as Buffer);
      }),
    );
    await s('bytes', Promise.resolve(Buffer.concat(chunks).toString()));
  },
  'read stream of a missing file': async (fs, p, s) => {
    await s(
      'read',
      pipeline(fs.createReadStream(p('nope')), async (src: AsyncIterable<unknown>) => {
        for await (const _ of src);
      }),
    );
  },
  'append write stream': async (fs, p, s) => {
    await fs.writeFile(p('f'), 'start:');
    await s(
      'append',
      pipeline(
        (async function* () {
          yield Buffer.from('more');
        })(),
        fs.createWriteStream(p('f'), { flags: 'a' }),
      ),
    );
    await s('read', fs.readFile(p('f'), 'utf8'));
  },
  // ---- extended attributes ----
  'xattr set, get, list and remove': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('set', fs.setxattr(p('f'), 'user.color', 'blue'));
    await s('set 2', fs.setxattr(p('f'), 'user.size', Buffer.from([1, 2, 3])));
    await s('get', fs.getxattr(p('f'), 'user.color'));
    await s('list', sorted(fs.listxattr(p('f'))));
    await s('remove', fs.removexattr(p('f'), 'user.color'));
    await s('list after', fs.listxattr(p('f')));
    await s('get removed', fs.getxattr(p('f'), 'user.color'));
  },
  'xattr create and replace flags': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('replace missing', fs.setxattr(p('f'), 'user.k', 'v', 'replace'));
    await s('create', fs.setxattr(p('f'), 'user.k', 'v1', 'create'));
    await s('create again', fs.setxattr(p('f'), 'user.k', 'v2', 'create'));
    await s('replace', fs.setxattr(p('f'), 'user.k', 'v3', 'replace'));
    await s('get', fs.getxattr(p('f'), 'user.k'));
  },
  'xattr of missing names and attributes': async (fs, p, s) => {
    await fs.writeFile(p('f'), '');
    await s('get missing attr', fs.getxattr(p('f'), 'user.none'));
    await s('remove missing attr', fs.removexattr(p('f'), 'user.none'));
    await s('set on missing file', fs.setxattr(p('nope'), 'user.k', 'v'));
    await s('list on missing file', fs.listxattr(p('nope')));
  },
  'xattrs on directories and after rename': async (fs, p, s) => {
    await fs.mkdir(p('d'));
    await s('set dir', fs.setxattr(p('d'), 'user.tag', 'dir'));
    await s('rename', fs.rename(p('d'), p('e')));
    await s('get', fs.getxattr(p('e'), 'user.tag'));
    await s('list', fs.listxattr(p('e')));
  },
};

describe('DfsFs conforms to fs.promises', () => {
  let localRoot: string;
  let sys: DaosSystem;
  let dfs: Dfs;
  let sysDir: string;

  beforeAll(async () => {
    localRoot = await mkdtemp(join(tmpdir(), 'dfs-conf-local-'));
    sysDir = await mkdtemp(join(tmpdir(), 'dfs-conf-sys-'));
    sys = await DaosSystem.start({ dir: sysDir, engines: 1, targetsPerEngine: 4 });
    await sys.createPool({ label: 'tank', size: '8G' });
    const client = await sys.connect();
    const pool = await client.connectPool('tank');
    dfs = await Dfs.mount(pool, 'conformance', { create: true });
  }, 60_000);

  afterAll(async () => {
    await dfs?.umount();
    await sys?.stop();
    await rm(localRoot, { recursive: true, force: true });
    await rm(sysDir, { recursive: true, force: true });
  });

  it('has at least 60 cases', () => {
    expect(Object.keys(cases).length).toBeGreaterThanOrEqual(60);
  });

  let n = 0;
  for (const [name, c] of Object.entries(cases)) {
    const dir = `case${n++}`;
    it(name, async () => {
      const local = await record(c, localFs, join(localRoot, dir));
      const daos = await record(c, dfs.fs, `/${dir}`);
      expect(daos).toEqual(local);
      // A case that recorded nothing would prove nothing.
      expect(local.length).toBeGreaterThan(0);
    }, 60_000);
  }
});
