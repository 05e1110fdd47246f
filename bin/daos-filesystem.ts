/**
 * `daos filesystem` (alias `fs`): copy trees between local paths and POSIX containers
 * (`daos://POOL/CONTAINER/path`), and ls / stat / mkdir / rm for quick inspection. A thin layer
 * over core/dfs: `copyTree` does the copying, `Dfs` the rest.
 */
import { lstat } from 'node:fs/promises';
import { resolve as resolveLocal } from 'node:path';
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { DaosError, type DerName } from '../core/common/errors.js';
import { formatBytes } from '../core/common/units.js';
import type { DaosClient } from '../core/daos/client.js';
import type { Pool } from '../core/daos/pool.js';
import { type CopyEndpoint, type CopyProgress, copyTree } from '../core/dfs/copy.js';
import { Dfs } from '../core/dfs/dfs.js';
import type { DfsStats } from '../core/dfs/stats.js';
import { type CommandOutput, formatFields, type GlobalOptions, intOption } from './cli-output.js';

type Body = (client: DaosClient, opts: GlobalOptions) => Promise<CommandOutput>;
/** daos.ts's `act`: start or reach the system, connect, run a body, print, stop. */
type Act = <A extends unknown[]>(make: (...args: A) => Body) => (...args: unknown[]) => Promise<void>;

/** A path in a POSIX container. */
export interface DaosPath {
  pool: string;
  cont: string;
  /** Absolute within the container ('/' for its root). */
  path: string;
}

const DAOS_URL = /^daos:\/\/([^/]+)\/([^/]+)(\/.*)?$/;

/** `daos://POOL/CONT[/path]` → its parts; anything else starting with `daos:` is refused. */
export function parseDaosUrl(text: string): DaosPath | undefined {
  if (!text.startsWith('daos:')) return undefined;
  const m = DAOS_URL.exec(text);
  if (!m) throw new DaosError('DER_INVAL', `bad DAOS path "${text}": expected daos://POOL/CONTAINER[/PATH]`);
  return { pool: m[1]!, cont: m[2]!, path: m[3] ?? '/' };
}

function needDaosUrl(text: string): DaosPath {
  const p = parseDaosUrl(text);
  if (!p) throw new DaosError('DER_INVAL', `"${text}" is not a DAOS path (daos://POOL/CONTAINER[/PATH])`);
  return p;
}

/** The pools and mounts a command uses, opened once each and closed together. */
class Mounts {
  private readonly pools = new Map<string, Pool>();
  private readonly mounts = new Map<string, Dfs>();

  /** `poolMode`: how pools are connected ('rw' when any container is written). */
  constructor(
    private readonly client: DaosClient,
    private readonly poolMode: 'ro' | 'rw',
  ) {}

  async mount(p: DaosPath, mode: 'ro' | 'rw', create = false): Promise<Dfs> {
    const key = `${p.pool}/${p.cont}`;
    let dfs = this.mounts.get(key);
    if (dfs) return dfs;
    let pool = this.pools.get(p.pool);
    if (!pool) {
      pool = await this.client.connectPool(p.pool, { mode: this.poolMode });
      this.pools.set(p.pool, pool);
    }
    try {
      dfs = await Dfs.mount(pool, p.cont, { create, readOnly: mode === 'ro' });
    } catch (err) {
      // A missing container or a non-POSIX one: the DAOS reason reads better than EINVAL.
      const cause = (err as { cause?: unknown }).cause;
      throw cause instanceof DaosError ? cause : err;
    }
    this.mounts.set(key, dfs);
    return dfs;
  }

  async close(): Promise<void> {
    for (const d of this.mounts.values()) await d.umount();
    for (const p of this.pools.values()) await p.disconnect();
  }
}

async function withMounts<T>(
  client: DaosClient,
  poolMode: 'ro' | 'rw',
  fn: (m: Mounts) => Promise<T>,
): Promise<T> {
  const m = new Mounts(client, poolMode);
  try {
    return await fn(m);
  } catch (err) {
    throw asDaosError(err);
  } finally {
    await m.close();
  }
}

/** Node's error codes as the DAOS errors the CLI reports (daos_errno2der). */
const POSIX_TO_DER: Readonly<Record<string, DerName>> = {
  ENOENT: 'DER_NONEXIST',
  EEXIST: 'DER_EXIST',
  EINVAL: 'DER_INVAL',
  ENOTDIR: 'DER_NOTDIR',
  EISDIR: 'DER_INVAL',
  ERR_FS_EISDIR: 'DER_INVAL',
  ENOTEMPTY: 'DER_EXIST',
  EACCES: 'DER_NO_PERM',
  EPERM: 'DER_NO_PERM',
  EROFS: 'DER_NO_PERM',
  ENOSPC: 'DER_NOSPACE',
  ENAMETOOLONG: 'DER_INVAL',
  ELOOP: 'DER_INVAL',
  EBUSY: 'DER_BUSY',
};

function asDaosError(err: unknown): unknown {
  if (err instanceof DaosError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  return new DaosError(POSIX_TO_DER[String(code)] ?? 'DER_IO', err.message, { cause: err });
}

// ---- copy ----

interface CopyJson {
  src: string;
  dst: string;
  files: number;
  dirs: number;
  links: number;
  bytes: number;
  skipped: number;
  seconds: number;
  mibPerSecond: number;
}

/** A progress bar on stdout when it is a terminal (and output is not JSON). */
function copyBar(opts: GlobalOptions): { onProgress?: (p: CopyProgress) => void; stop(): void } {
  if (opts.json || !process.stdout.isTTY) return { stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stdout,
      format: '{bar} {percentage}% | {files}/{totalFiles} files | {mib}/{totalMib} MiB | {rate} MiB/s',
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let running = false;
  return {
    onProgress: (p) => {
      const payload = {
        files: p.files,
        totalFiles: p.totalFiles,
        mib: (p.bytes / 2 ** 20).toFixed(1),
        totalMib: (p.totalBytes / 2 ** 20).toFixed(1),
        rate: (p.bytes / 2 ** 20 / Math.max(1e-3, (performance.now() - started) / 1000)).toFixed(1),
      };
      if (!running) {
        bar.start(Math.max(1, p.totalBytes), 0, payload);
        running = true;
      }
      bar.update(p.bytes, payload);
    },
    stop: () => {
      if (running) bar.stop();
    },
  };
}

function copyText(s: CopyJson): string {
  const skipped = s.skipped > 0 ? `, ${s.skipped} skipped` : '';
  return (
    `Successfully copied ${s.src} to ${s.dst}: ${s.files} files, ${s.dirs} directories, ` +
    `${s.links} links${skipped}, ${s.bytes} bytes (${formatBytes(s.bytes)}) in ` +
    `${s.seconds.toFixed(2)} s, ${s.mibPerSecond.toFixed(1)} MiB/s`
  );
}

const copy =
  (o: { src: string; dst: string; filesInFlight?: string }): Body =>
  async (client, opts) =>
    withMounts(client, parseDaosUrl(o.dst) ? 'rw' : 'ro', async (m) => {
      const srcUrl = parseDaosUrl(o.src);
      const dstUrl = parseDaosUrl(o.dst);
      const missing = () => new DaosError('DER_NONEXIST', `copy source ${o.src} does not exist`);
      // The source first, so a missing one fails before the destination container is made; a
      // copy within one container mounts it once, read-write.
      const sameCont = srcUrl && dstUrl && srcUrl.pool === dstUrl.pool && srcUrl.cont === dstUrl.cont;
      let src: CopyEndpoint;
      if (srcUrl) {
        src = { dfs: await m.mount(srcUrl, sameCont ? 'rw' : 'ro'), path: srcUrl.path };
      } else {
        src = resolveLocal(o.src);
        if (
          !(await lstat(src).then(
            () => true,
            () => false,
          ))
        )
          throw missing();
      }
      const dst: CopyEndpoint = dstUrl
        ? { dfs: await m.mount(dstUrl, 'rw', true), path: dstUrl.path }
        : resolveLocal(o.dst);
      const bar = copyBar(opts);
      let summary: Awaited<ReturnType<typeof copyTree>>;
      try {
        summary = await copyTree(src, dst, {
          filesInFlight: intOption(o.filesInFlight, '--files-in-flight'),
          onProgress: bar.onProgress,
        });
      } catch (err) {
        const e = err as { code?: string; syscall?: string };
        if (e.code === 'ENOENT' && e.syscall === 'copy') throw missing();
        throw err;
      } finally {
        bar.stop();
      }
      const json: CopyJson = {
        src: o.src,
        dst: o.dst,
        files: summary.files,
        dirs: summary.dirs,
        links: summary.links,
        bytes: summary.bytes,
        skipped: summary.skipped,
        seconds: summary.seconds,
        mibPerSecond: summary.bytes / 2 ** 20 / Math.max(1e-6, summary.seconds),
      };
      return { json, text: copyText(json) };
    });

// ---- inspection ----

function typeOf(st: DfsStats): 'dir' | 'file' | 'link' {
  return st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file';
}

/** `drwxr-xr-x` from a mode. */
function permissions(mode: number): string {
  const type = (mode & 0o170000) === 0o040000 ? 'd' : (mode & 0o170000) === 0o120000 ? 'l' : '-';
  let s = type;
  for (let shift = 6; shift >= 0; shift -= 3) {
    const bits = (mode >> shift) & 7;
    s += `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  }
  return s;
}

interface EntryJson {
  name: string;
  path: string;
  type: 'dir' | 'file' | 'link';
  mode: string;
  permissions: string;
  size: number;
  uid: number;
  gid: number;
  atime: string;
  mtime: string;
  ctime: string;
  target?: string;
}

async function entryJson(dfs: Dfs, path: string, name: string): Promise<EntryJson> {
  const st = await dfs.stat(path, { follow: false });
  const type = typeOf(st);
  return {
    name,
    path,
    type,
    mode: (st.mode & 0o7777).toString(8).padStart(4, '0'),
    permissions: permissions(st.mode),
    size: st.size,
    uid: st.uid,
    gid: st.gid,
    atime: st.atime.toISOString(),
    mtime: st.mtime.toISOString(),
    ctime: st.ctime.toISOString(),
    ...(type === 'link' && { target: await dfs.readlink(path) }),
  };
}

function longLines(entries: EntryJson[]): string {
  const w = (f: (e: EntryJson) => string) => Math.max(0, ...entries.map((e) => f(e).length));
  const uw = w((e) => String(e.uid));
  const gw = w((e) => String(e.gid));
  const sw = w((e) => String(e.size));
  return entries
    .map((e) => {
      const when = e.mtime.slice(0, 19).replace('T', ' ');
      const link = e.target === undefined ? '' : ` -> ${e.target}`;
      return `${e.permissions} ${String(e.uid).padStart(uw)} ${String(e.gid).padStart(gw)} ${String(e.size).padStart(sw)} ${when} ${e.name}${link}`;
    })
    .join('\n');
}

const ls =
  (url: string, o: { long?: boolean }): Body =>
  async (client) =>
    withMounts(client, 'ro', async (m) => {
      const p = needDaosUrl(url);
      const dfs = await m.mount(p, 'ro');
      const top = await dfs.stat(p.path, { follow: false });
      let entries: EntryJson[];
      if (top.isDirectory()) {
        const names: string[] = [];
        for await (const name of dfs.names(p.path)) names.push(name);
        entries = await Promise.all(
          names.map((n) => entryJson(dfs, p.path === '/' ? `/${n}` : `${p.path}/${n}`, n)),
        );
      } else {
        entries = [await entryJson(dfs, p.path, p.path.split('/').pop()!)];
      }
      return { json: entries, text: o.long ? longLines(entries) : entries.map((e) => e.name).join('\n') };
    });

const stat =
  (url: string): Body =>
  async (client) =>
    withMounts(client, 'ro', async (m) => {
      const p = needDaosUrl(url);
      const dfs = await m.mount(p, 'ro');
      const e = await entryJson(dfs, p.path, p.path.split('/').pop() || '/');
      const text = formatFields([
        ['Path', url],
        ['Type', e.type],
        ['Mode', `${e.mode} (${e.permissions})`],
        ['Size', String(e.size)],
        ['Uid', String(e.uid)],
        ['Gid', String(e.gid)],
        ['Access', e.atime],
        ['Modify', e.mtime],
        ['Change', e.ctime],
        ...(e.target === undefined ? [] : [['Target', e.target] as const]),
      ]);
      return { json: e, text };
    });

const mkdir =
  (urls: string[], o: { parents?: boolean }): Body =>
  async (client) =>
    withMounts(client, 'rw', async (m) => {
      for (const url of urls) {
        const p = needDaosUrl(url);
        const dfs = await m.mount(p, 'rw');
        await dfs.fs.mkdir(p.path, { recursive: o.parents === true });
      }
      return { json: { created: urls }, text: '' };
    });

const rm =
  (urls: string[], o: { recursive?: boolean; force?: boolean }): Body =>
  async (client) =>
    withMounts(client, 'rw', async (m) => {
      for (const url of urls) {
        const p = needDaosUrl(url);
        const dfs = await m.mount(p, 'rw');
        await dfs.fs.rm(p.path, { recursive: o.recursive === true, force: o.force === true });
      }
      return { json: { removed: urls }, text: '' };
    });

/** The `filesystem` command group, its actions run through daos.ts's `act`. */
export function filesystemCommand(act: Act): Command {
  const fs = new Command('filesystem').alias('fs').description('POSIX containers: copy and inspect');
  fs.command('copy')
    .description('copy a file or tree between local paths and daos://POOL/CONTAINER/path (either way)')
    .requiredOption('--src <path>', 'a local path or daos://POOL/CONTAINER[/PATH]')
    .requiredOption(
      '--dst <path>',
      'a local path or daos://POOL/CONTAINER[/PATH] (container made if missing)',
    )
    .option('--files-in-flight <n>', 'files streamed at once (default 4)')
    .action(act((o: { src: string; dst: string; filesInFlight?: string }) => copy(o)));
  fs.command('ls <url>')
    .description('list a directory (or show one entry)')
    .option('-l, --long', 'mode, owner, size and time of each entry')
    .action(act((url: string, o: { long?: boolean }) => ls(url, o)));
  fs.command('stat <url>')
    .description('one entry (links are not followed)')
    .action(act((url: string) => stat(url)));
  fs.command('mkdir <urls...>')
    .option('-p, --parents', 'make parents as needed; no error if it exists')
    .action(act((urls: string[], o: { parents?: boolean }) => mkdir(urls, o)));
  fs.command('rm <urls...>')
    .option('-r, --recursive', 'remove directories and what they hold')
    .option('-f, --force', 'no error for a missing path')
    .action(act((urls: string[], o: { recursive?: boolean; force?: boolean }) => rm(urls, o)));
  return fs;
}
