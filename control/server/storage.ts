/**
 * daos_server's storage: scan and format of each engine's one tier (daos_server.yml
 * `engines[].storage[0]`).
 *
 *   class: ram   the scm_mount folder stands for a tmpfs. Real DAOS mounts a tmpfs of scm_size
 *                there; this release does not mount anything: a folder under /dev/shm (already a
 *                tmpfs) is used as it is, any other folder is created. Free space is checked with
 *                statfs, and scm_size is the engine's capacity.
 *   class: file  a folder on a file system; capacity = scm_size when set, else the file system's
 *                free space plus what the folder already holds.
 *
 * Format writes a superblock, SCM_MOUNT/daos_format.json ({system, rank, uuid, formatMs,
 * version}). Ranks are assigned in engine order at the first format and kept there: a later start
 * reads them back. The engine's data lives next to it (SCM_MOUNT/target-T/), and the first
 * engine's folder also holds the management service's metadata (SCM_MOUNT/control/).
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DaosError } from '../../core/common/errors.js';
import { newUuid } from '../../core/common/ids.js';
import type { StorageTierInfo } from '../plane.js';
import type { ServerConfig, StorageTier } from './config.js';

/** The superblock's file name in an engine's scm_mount. */
export const SUPERBLOCK_FILE = 'daos_format.json';
/** The management service's folder, in the first engine's scm_mount. */
export const CONTROL_DIR = 'control';
/** Superblock layout version. */
export const SUPERBLOCK_VERSION = 1;

export interface Superblock {
  version: number;
  system: string;
  rank: number;
  /** The engine's storage identity. */
  uuid: string;
  formatMs: number;
}

/** An engine's storage tier, as the server sees it. */
export interface EngineStorage {
  /** Index of the engine in daos_server.yml (its rank once formatted). */
  index: number;
  tier: StorageTier;
  mount: string;
}

export function engineStorage(config: ServerConfig): EngineStorage[] {
  return config.engines.map((e, index) => {
    const tier = e.storage[0];
    if (!tier) throw new DaosError('DER_INVAL', `engines[${index}] has no storage tier`);
    return { index, tier, mount: tier.scm_mount };
  });
}

/** The superblock of a tier, or undefined when it is not formatted. DER_INVAL when unreadable. */
export function readSuperblock(mount: string): Superblock | undefined {
  const file = join(mount, SUPERBLOCK_FILE);
  if (!existsSync(file)) return undefined;
  let sb: Superblock;
  try {
    sb = JSON.parse(readFileSync(file, 'utf8')) as Superblock;
  } catch (err) {
    throw new DaosError('DER_INVAL', `${file} is not a superblock: ${(err as Error).message}`);
  }
  if (
    typeof sb !== 'object' ||
    sb === null ||
    sb.version !== SUPERBLOCK_VERSION ||
    !Number.isInteger(sb.rank) ||
    typeof sb.system !== 'string'
  )
    throw new DaosError('DER_INVAL', `${file} is not a version ${SUPERBLOCK_VERSION} superblock`);
  return sb;
}

/** Bytes held by files under a folder (allocated blocks, so sparse files count what they use). */
async function usedBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const path = join(dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) total += await usedBytes(path);
    else total += st.blocks * 512;
  }
  return total;
}

/** Free bytes of the file system holding `dir` (or its nearest existing parent). */
function fsFreeBytes(dir: string): number {
  let d = dir;
  while (!existsSync(d) && d !== '/') d = join(d, '..');
  const st = statfsSync(d);
  return st.bavail * st.bsize;
}

/** One engine's tier: capacity, free space, formatted or not. */
export async function scanTier(s: EngineStorage): Promise<StorageTierInfo> {
  const sb = existsSync(s.mount) ? readSuperblock(s.mount) : undefined;
  const used = await usedBytes(s.mount);
  const fsFree = fsFreeBytes(s.mount);
  const total = s.tier.scm_size ?? fsFree + used;
  const free = Math.max(0, Math.min(total - used, fsFree));
  return {
    rank: sb?.rank ?? s.index,
    class: s.tier.class,
    mount: s.mount,
    totalBytes: total,
    freeBytes: free,
    formatted: sb !== undefined,
  };
}

/** Create (class file, ram outside /dev/shm) or check (ram under /dev/shm) a tier's folder. */
function prepareMount(s: EngineStorage): void {
  // Under /dev/shm the folder is on a tmpfs already and is used as it is; elsewhere a ram tier is
  // a plain folder standing for the tmpfs DAOS would mount. Either way it is made when missing.
  mkdirSync(s.mount, { recursive: true });
  const free = fsFreeBytes(s.mount);
  if (s.tier.scm_size !== undefined && s.tier.scm_size > free) {
    throw new DaosError(
      'DER_NOSPACE',
      `engine ${s.index}: scm_size ${s.tier.scm_size} bytes of ${s.mount} is more than the ${free} bytes free there`,
    );
  }
}

/** Remove what format and the engine put in a tier (never anything else of the folder). */
function wipeTier(mount: string): void {
  if (!existsSync(mount)) return;
  for (const name of readdirSync(mount)) {
    if (name === SUPERBLOCK_FILE || name === CONTROL_DIR || /^target-\d+$/.test(name))
      rmSync(join(mount, name), { recursive: true, force: true });
  }
}

/**
 * Format every tier: write its superblock (rank = engine order). Formatted storage is refused
 * (DER_EXIST) unless `force`, which wipes the tier's data and metadata first.
 */
export function formatTiers(system: string, tiers: EngineStorage[], force: boolean): Superblock[] {
  if (!force) {
    const done = tiers.filter((s) => existsSync(s.mount) && readSuperblock(s.mount) !== undefined);
    if (done.length > 0) {
      throw new DaosError(
        'DER_EXIST',
        `storage is already formatted (${done.map((s) => s.mount).join(', ')}); use force to reformat`,
      );
    }
  }
  for (const s of tiers) prepareMount(s);
  const out: Superblock[] = [];
  for (const s of tiers) {
    if (force) wipeTier(s.mount);
    const sb: Superblock = {
      version: SUPERBLOCK_VERSION,
      system,
      rank: s.index,
      uuid: newUuid(),
      formatMs: Date.now(),
    };
    const file = join(s.mount, SUPERBLOCK_FILE);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(sb, null, 2)}\n`);
    // Rename: a crash leaves either no superblock or a whole one.
    renameSync(`${file}.tmp`, file);
    out.push(sb);
  }
  return out;
}

/**
 * The superblocks of every tier, or undefined when none is formatted. A partly formatted set, a
 * superblock of another system, or ranks that are not 0..n-1 are DER_INVAL.
 */
export function readSuperblocks(system: string, tiers: EngineStorage[]): Superblock[] | undefined {
  const sbs = tiers.map((s) => (existsSync(s.mount) ? readSuperblock(s.mount) : undefined));
  if (sbs.every((sb) => sb === undefined)) return undefined;
  const missing = tiers.filter((_, i) => sbs[i] === undefined);
  if (missing.length > 0) {
    throw new DaosError(
      'DER_INVAL',
      `storage is partly formatted: ${missing.map((s) => s.mount).join(', ')} has no superblock; format with force`,
    );
  }
  const out = sbs as Superblock[];
  out.forEach((sb, i) => {
    if (sb.system !== system)
      throw new DaosError(
        'DER_INVAL',
        `${tiers[i]!.mount} was formatted for system "${sb.system}", not "${system}"`,
      );
  });
  const ranks = out.map((sb) => sb.rank).sort((a, b) => a - b);
  if (ranks.some((r, i) => r !== i))
    throw new DaosError('DER_INVAL', `superblock ranks ${ranks.join(', ')} are not 0..${out.length - 1}`);
  return out;
}
