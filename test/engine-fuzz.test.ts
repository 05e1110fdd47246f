import fs from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EPOCH_MAX } from '../core/common/hlc.js';
import { IO_BYTES_MAX, KEY_BYTES_MAX, LABEL_BYTES_MAX, RECORD_BYTES_MAX } from '../core/common/limits.js';
import type { ObjTarget } from '../core/daos/link.js';
import {
  ENGINE_OPCODES,
  OPC_ENGINE_CONT_CREATE,
  OPC_ENGINE_CONT_DESTROY,
  OPC_ENGINE_POOL_CREATE,
  OPC_ENGINE_POOL_DESTROY,
} from '../core/daos/obj-codec.js';
import { RemoteEngine } from '../core/daos/remote-engine.js';
import {
  encodeFrame,
  FRAME_KIND_ERROR,
  FRAME_KIND_REPLY,
  FRAME_KIND_REQUEST,
  type Frame,
  FrameDecoder,
} from '../core/wire/frame.js';
import { FRAME_BULK_BYTES_MAX, FRAME_HEADER_BODY_BYTES_MAX } from '../core/wire/limits.js';
import type { ArrayFetchResult } from '../core/wire/obj-types.js';
import {
  OPC_OBJ_FETCH,
  OPC_OBJ_LIST_AKEYS,
  OPC_OBJ_LIST_DKEYS,
  OPC_OBJ_LIST_RECX,
  OPC_OBJ_PUNCH,
  OPC_OBJ_QUERY_DKEY,
  OPC_OBJ_QUERY_RECX,
  OPC_OBJ_UPDATE,
  OPC_TX_COMMIT,
  opcodeName,
} from '../core/wire/opcodes.js';
import { seededRandom } from '../core/wire/seeded-random.js';
import { transportFor } from '../core/wire/transport.js';
import { engineTempDir, killEngineChildren, startEngine } from './engine-child.js';

/**
 * Fuzzing a live daos_engine process: over 100,000 malformed frames on raw sockets (seeded, so a
 * failure replays), each answered with an error reply or a closed connection; the engine stays
 * up, its RSS stays bounded, and a data set written before the storm reads back unchanged.
 *
 * Writes are only ever sent malformed (or aimed at a pool, container or target that does not
 * exist): a success reply is allowed only for the well-formed reads of one category.
 */

const SEED = 0x5eed_0001;
const PER_REQUEST_CONNECTIONS = 4;
const FRAMES_PER_CONNECTION = 25_000;
const BATCH_FRAMES = 500;
const FATAL_CONNECTIONS = 640;
const FATAL_CONNECTIONS_AT_ONCE = 32;
/** Answerable frames sent on a connection before the bytes that must close it. */
const FRAMES_BEFORE_FATAL = 3;
/** How much the engine's resident set may grow over the storm. */
const ENGINE_RSS_GROWTH_BYTES_MAX = 256 * 1024 * 1024;
const RSS_SAMPLE_MS = 100;

const POOL = 'pool-fuzz';
/** A second registered pool with no containers: a container of POOL named with it must fail. */
const POOL_B = 'pool-fuzz-b';
const CONT = 'cont-fuzz';
const OIDS = [1n, 2n, 3n];
const DKEYS = ['d0', 'd1', 'd2'];
const AKEYS_SINGLE = ['s', 'big'];
const AKEY_ARRAY = 'arr';
const RECORD_SIZE = 4;
const b = (s: string) => Buffer.from(s);

afterEach(killEngineChildren);

const PER_REQUEST = [
  'unknownOpcode',
  'badBody',
  'wrongType',
  'missingField',
  'extraNesting',
  'bulkMismatch',
  'bigintNumber',
  'badCount',
  'oversizeKey',
  'badTarget',
  'unknownPoolCont',
  'wellFormedRead',
] as const;
type PerRequest = (typeof PER_REQUEST)[number];

const FATAL = [
  'randomBytes',
  'truncated',
  'badMagic',
  'badVersion',
  'badKind',
  'reservedBits',
  'hugeBodyLength',
  'hugeBulkLength',
] as const;
type Fatal = (typeof FATAL)[number];

/** Error codes a malformed request may get; DER_MISC would mean an unchecked throw in the engine. */
const EXPECTED_CODES = new Set([
  'DER_INVAL',
  'DER_PROTO',
  'DER_UNREG',
  'DER_NO_HDL',
  'DER_BAD_TARGET',
  'DER_UNREACH',
  'DER_KEY2BIG',
  'DER_REC2BIG',
  'DER_REC_SIZE',
  'DER_NONEXIST',
  'DER_EXIST',
  'DER_OVERFLOW',
  'DER_TX_RESTART',
]);

const READ_OPCODES = [
  OPC_OBJ_FETCH,
  OPC_OBJ_LIST_DKEYS,
  OPC_OBJ_LIST_AKEYS,
  OPC_OBJ_LIST_RECX,
  OPC_OBJ_QUERY_DKEY,
  OPC_OBJ_QUERY_RECX,
];
const WRITE_OPCODES = [
  OPC_OBJ_UPDATE,
  OPC_OBJ_PUNCH,
  OPC_TX_COMMIT,
  OPC_ENGINE_POOL_CREATE,
  OPC_ENGINE_POOL_DESTROY,
  OPC_ENGINE_CONT_CREATE,
  OPC_ENGINE_CONT_DESTROY,
];
const FUZZED_OPCODES = [...READ_OPCODES, ...WRITE_OPCODES];

// ---- the data set and what it reads back ----

const toObj = (lo: bigint, target = Number(lo % 2n)): ObjTarget => ({
  pool: POOL,
  cont: CONT,
  oid: { hi: 0n, lo },
  target: { rank: 0, target },
});

function pattern(seed: number, n: number): Buffer {
  const rnd = seededRandom(seed);
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (rnd() * 256) | 0;
  return out;
}

async function writeDataSet(remote: RemoteEngine): Promise<void> {
  for (const lo of OIDS) {
    for (const [i, dkey] of DKEYS.entries()) {
      const seed = Number(lo) * 100 + i;
      await remote.update(toObj(lo), b(dkey), [
        { akey: b('s'), kind: 'single', value: pattern(seed, 1 + (seed % 90)) },
        // Over the inline limit: kept in the data file, not the index.
        { akey: b('big'), kind: 'single', value: pattern(seed + 1, 10_000) },
        {
          akey: b(AKEY_ARRAY),
          kind: 'array',
          recordSize: RECORD_SIZE,
          extents: [
            { idx: 0n, nr: 16n, data: pattern(seed + 2, 16 * RECORD_SIZE) },
            { idx: 100n, nr: 8n, data: pattern(seed + 3, 8 * RECORD_SIZE) },
          ],
        },
      ]);
    }
  }
  // A few later versions: an overwrite, a partial extent overwrite and punches.
  await remote.update(toObj(1n), b('d0'), [{ akey: b('s'), kind: 'single', value: b('second version') }]);
  await remote.update(toObj(2n), b('d1'), [
    {
      akey: b(AKEY_ARRAY),
      kind: 'array',
      recordSize: RECORD_SIZE,
      extents: [{ idx: 4n, nr: 4n, data: pattern(7, 4 * RECORD_SIZE) }],
    },
  ]);
  await remote.punch({ kind: 'punch_dkeys', to: toObj(3n), dkeys: [b('d2')] });
  await remote.punch({ kind: 'punch_akeys', to: toObj(3n), dkey: b('d1'), akeys: [b('big')] });
}

const hex = (v: Uint8Array | undefined) => (v === undefined ? undefined : Buffer.from(v).toString('hex'));

/** Everything the data set reads back as, through every read RPC. */
async function readDataSet(remote: RemoteEngine): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const lo of OIDS) {
    const to = toObj(lo);
    const dkeys = await remote.listDkeys(to, EPOCH_MAX, undefined, 1024);
    const obj: Record<string, unknown> = {
      dkeys: dkeys.map(hex),
      max: hex(await remote.queryDkey(to, EPOCH_MAX, 'max')),
      min: hex(await remote.queryDkey(to, EPOCH_MAX, 'min')),
      otherTarget: (await remote.listDkeys(toObj(lo, 1 - to.target.target), EPOCH_MAX, undefined, 10)).length,
    };
    for (const dkey of DKEYS) {
      const akeys = await remote.listAkeys(to, EPOCH_MAX, b(dkey), undefined, 1024);
      const [s, big, arr] = await remote.fetch(to, EPOCH_MAX, b(dkey), [
        { akey: b('s'), kind: 'single' },
        { akey: b('big'), kind: 'single' },
        { akey: b(AKEY_ARRAY), kind: 'array', recordSize: RECORD_SIZE, extents: [{ idx: 0n, nr: 128n }] },
      ]);
      const a = arr as ArrayFetchResult;
      obj[dkey] = {
        akeys: akeys.map(hex),
        s: hex(s as Uint8Array | undefined),
        big: hex(big as Uint8Array | undefined),
        arr: { data: hex(a.data), map: a.map },
        recx: await remote.listRecx(to, EPOCH_MAX, b(dkey), b(AKEY_ARRAY)),
        recxMax: await remote.queryRecx(to, EPOCH_MAX, b(dkey), b(AKEY_ARRAY), 'max'),
        recxMin: await remote.queryRecx(to, EPOCH_MAX, b(dkey), b(AKEY_ARRAY), 'min'),
      };
    }
    out[String(lo)] = obj;
  }
  return out;
}

// ---- request generation ----

type Rnd = () => number;
type Node = Record<string, unknown> | unknown[];
type Path = Array<string | number>;

interface Request {
  opcode: number;
  header: unknown;
  bulk?: Buffer;
}

const int = (rnd: Rnd, n: number) => Math.floor(rnd() * n);
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[int(rnd, xs.length)]!;

function randomBytes(rnd: Rnd, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (rnd() * 256) | 0;
  return out;
}

function wireTo(rnd: Rnd): Record<string, unknown> {
  const lo = pick(rnd, OIDS);
  return { pool: POOL, cont: CONT, oid: { hi: 0n, lo }, target: { rank: 0, target: int(rnd, 2) } };
}

const dkeyOf = (rnd: Rnd) => b(rnd() < 0.8 ? pick(rnd, DKEYS) : `fuzz-${int(rnd, 1000)}`);

/** A well-formed update header with its bulk (only ever sent malformed). */
function updateParts(rnd: Rnd): { header: Record<string, unknown>; bulk: Buffer } {
  const pieces: Buffer[] = [];
  const iods: unknown[] = [];
  if (rnd() < 0.7) {
    const value = randomBytes(rnd, 1 + int(rnd, 64));
    pieces.push(value);
    iods.push({ akey: b(pick(rnd, AKEYS_SINGLE)), kind: 'single', len: value.length });
  }
  if (iods.length === 0 || rnd() < 0.6) {
    const nr = 1 + int(rnd, 8);
    const data = randomBytes(rnd, nr * RECORD_SIZE);
    pieces.push(data);
    iods.push({
      akey: b(AKEY_ARRAY),
      kind: 'array',
      recordSize: RECORD_SIZE,
      extents: [{ idx: BigInt(int(rnd, 200)), nr: BigInt(nr), len: data.length }],
    });
  }
  const header: Record<string, unknown> = { to: wireTo(rnd), dkey: dkeyOf(rnd), iods };
  if (rnd() < 0.2) header.cond = pick(rnd, ['dkey_insert', 'dkey_update', 'akey_insert', 'akey_update']);
  return { header, bulk: Buffer.concat(pieces) };
}

function punchOp(rnd: Rnd): Record<string, unknown> {
  const to = wireTo(rnd);
  switch (int(rnd, 4)) {
    case 0:
      return { kind: 'punch_obj', to };
    case 3:
      return {
        kind: 'punch_obj',
        to,
        shards: [{ rank: 0, target: 1 - (to.target as { target: number }).target }],
      };
    case 1:
      return { kind: 'punch_dkeys', to, dkeys: [dkeyOf(rnd)], mustExist: rnd() < 0.5 };
    default:
      return { kind: 'punch_akeys', to, dkey: dkeyOf(rnd), akeys: [b(pick(rnd, AKEYS_SINGLE))] };
  }
}

function fetchIods(rnd: Rnd): unknown[] {
  const iods: unknown[] = [{ akey: b(pick(rnd, AKEYS_SINGLE)), kind: 'single' }];
  if (rnd() < 0.7) {
    iods.push({
      akey: b(AKEY_ARRAY),
      kind: 'array',
      recordSize: RECORD_SIZE,
      extents: [{ idx: BigInt(int(rnd, 120)), nr: BigInt(1 + int(rnd, 32)) }],
    });
  }
  return iods;
}

/** A well-formed request of `opcode`: reads of the data set, writes to the real container. */
function baseRequest(rnd: Rnd, opcode: number): Request {
  const epoch = EPOCH_MAX;
  switch (opcode) {
    case OPC_OBJ_UPDATE:
      return { opcode, ...updateParts(rnd) };
    case OPC_OBJ_PUNCH:
      return { opcode, header: { op: punchOp(rnd) } };
    case OPC_TX_COMMIT: {
      const ops: unknown[] = [];
      const pieces: Buffer[] = [];
      for (let i = 1 + int(rnd, 3); i > 0; i--) {
        if (rnd() < 0.6) {
          const u = updateParts(rnd);
          ops.push({ kind: 'update', ...u.header });
          pieces.push(u.bulk);
        } else {
          ops.push(punchOp(rnd));
        }
      }
      const header: Record<string, unknown> = { ops };
      if (rnd() < 0.4) header.check = { readEpoch: 1n, readSet: [{ to: wireTo(rnd), dkey: dkeyOf(rnd) }] };
      const bulk = Buffer.concat(pieces);
      return { opcode, header, bulk: bulk.length > 0 ? bulk : undefined };
    }
    case OPC_OBJ_FETCH:
      return { opcode, header: { to: wireTo(rnd), epoch, dkey: dkeyOf(rnd), iods: fetchIods(rnd) } };
    case OPC_OBJ_LIST_DKEYS:
      return { opcode, header: { to: wireTo(rnd), epoch, limit: 1 + int(rnd, 100) } };
    case OPC_OBJ_LIST_AKEYS:
      return { opcode, header: { to: wireTo(rnd), epoch, dkey: dkeyOf(rnd), limit: 1 + int(rnd, 100) } };
    case OPC_OBJ_LIST_RECX:
      return { opcode, header: { to: wireTo(rnd), epoch, dkey: dkeyOf(rnd), akey: b(AKEY_ARRAY) } };
    case OPC_OBJ_QUERY_DKEY: {
      const header: Record<string, unknown> = { to: wireTo(rnd), epoch, which: pick(rnd, ['max', 'min']) };
      if (rnd() < 0.3)
        header.shards = [
          { rank: 0, target: 1 - (header.to as { target: { target: number } }).target.target },
        ];
      return { opcode, header };
    }
    case OPC_OBJ_QUERY_RECX: {
      const header = { to: wireTo(rnd), epoch, dkey: dkeyOf(rnd), akey: b(AKEY_ARRAY), which: 'max' };
      return { opcode, header };
    }
    case OPC_ENGINE_POOL_CREATE:
      return { opcode, header: { pool: `fuzz-pool-${int(rnd, 100)}`, bytesPerTarget: 64 << 20 } };
    case OPC_ENGINE_POOL_DESTROY:
      return { opcode, header: { pool: POOL } };
    case OPC_ENGINE_CONT_CREATE:
      return { opcode, header: { pool: POOL, cont: CONT } };
    case OPC_ENGINE_CONT_DESTROY:
      return { opcode, header: { pool: POOL, cont: CONT } };
    default:
      throw new Error(`no base request for ${opcodeName(opcode)}`);
  }
}

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array);
}

/** Every path below the root, with its value. */
function paths(root: unknown): Array<{ path: Path; value: unknown }> {
  const out: Array<{ path: Path; value: unknown }> = [];
  const walk = (v: unknown, p: Path) => {
    if (!isNode(v)) return;
    const entries: Array<[string | number, unknown]> = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.entries(v);
    for (const [k, x] of entries) {
      out.push({ path: [...p, k], value: x });
      walk(x, [...p, k]);
    }
  };
  walk(root, []);
  return out;
}

function parentOf(root: unknown, p: Path): Record<string | number, unknown> {
  let v = root as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) v = v[k] as Record<string | number, unknown>;
  return v;
}

function setAt(root: unknown, p: Path, value: unknown): void {
  parentOf(root, p)[p.at(-1)!] = value;
}

/** Fields a request may leave out (removing them leaves it well-formed). */
function isOptional(p: Path): boolean {
  const last = p.at(-1);
  if (typeof last !== 'string') return true; // array elements are not "fields"
  if (['cond', 'after', 'mustExist', 'check', 'shards'].includes(last)) return true;
  if (last === 'akey' && p.includes('readSet')) return true;
  return last === 'len' && p.includes('extents');
}

type Kind = 'bigint' | 'number' | 'string' | 'bytes' | 'boolean' | 'array' | 'object';
function kindOf(v: unknown): Kind {
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'array';
  return typeof v as Kind;
}
const SAMPLE: Record<Kind, (rnd: Rnd) => unknown> = {
  bigint: (rnd) => BigInt(int(rnd, 1000)),
  number: (rnd) => (rnd() < 0.5 ? int(rnd, 1000) : rnd() * 10),
  string: (rnd) => pick(rnd, ['', 'x', 'single', 'max', POOL, CONT]),
  bytes: (rnd) => randomBytes(rnd, int(rnd, 8)),
  boolean: (rnd) => rnd() < 0.5,
  array: (rnd) => [int(rnd, 10), 'y'],
  object: () => ({ a: 1, b: 'z' }),
};
const KINDS = Object.keys(SAMPLE) as Kind[];

function wrongType(rnd: Rnd, req: Request): void {
  const { path: p, value } = pick(rnd, paths(req.header));
  let k: Kind;
  do k = pick(rnd, KINDS);
  while (k === kindOf(value));
  setAt(req.header, p, SAMPLE[k](rnd));
}

function missingField(rnd: Rnd, req: Request): void {
  const required = paths(req.header).filter((x) => !isOptional(x.path));
  const { path: p } = pick(rnd, required);
  delete parentOf(req.header, p)[p.at(-1)!];
}

function extraNesting(rnd: Rnd, req: Request): void {
  const all = paths(req.header);
  const nest = (v: unknown): unknown => {
    let out = v;
    for (let d = 1 + int(rnd, rnd() < 0.1 ? 200 : 3); d > 0; d--) out = rnd() < 0.5 ? [out] : { nested: out };
    return out;
  };
  if (rnd() < 0.15 || all.length === 0) {
    req.header = nest(req.header);
    return;
  }
  const { path: p, value } = pick(rnd, all);
  setAt(req.header, p, nest(value));
}

function bulkMismatch(rnd: Rnd, req: Request): void {
  const bulk = req.bulk;
  if (bulk !== undefined && rnd() < 0.7) {
    // Short by some bytes, or with bytes the header does not account for.
    req.bulk =
      rnd() < 0.5
        ? bulk.subarray(0, int(rnd, bulk.length))
        : Buffer.concat([bulk, randomBytes(rnd, 1 + int(rnd, 64))]);
    if (req.bulk.length === 0) req.bulk = undefined;
    return;
  }
  if (bulk !== undefined) {
    // A length in the header that claims more than the bulk holds.
    const lens = paths(req.header).filter((x) => x.path.at(-1) === 'len');
    if (lens.length > 0) {
      setAt(req.header, pick(rnd, lens).path, bulk.length + 1 + int(rnd, 1 << 20));
      return;
    }
  }
  // Bulk sent with an opcode that carries none.
  req.bulk = randomBytes(rnd, 1 + int(rnd, 256));
}

function bigintNumber(rnd: Rnd, req: Request): void {
  const numeric = paths(req.header).filter((x) => typeof x.value === 'bigint' || typeof x.value === 'number');
  if (numeric.length === 0) {
    wrongType(rnd, req);
    return;
  }
  const { path: p, value } = pick(rnd, numeric);
  setAt(req.header, p, typeof value === 'bigint' ? Number(value) : BigInt(value as number));
}

const BAD_NUMBERS = [
  -1,
  -(2 ** 31),
  1.5,
  2 ** 53,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

function badCount(rnd: Rnd, req: Request): void {
  if (req.opcode === OPC_OBJ_FETCH && rnd() < 0.3) {
    const h = req.header as Record<string, unknown>;
    if (rnd() < 0.5) {
      // One iod over the per-I/O limit.
      const nr = BigInt(Math.floor(IO_BYTES_MAX / RECORD_SIZE) + 1 + int(rnd, 1000));
      h.iods = [{ akey: b(AKEY_ARRAY), kind: 'array', recordSize: RECORD_SIZE, extents: [{ idx: 0n, nr }] }];
    } else {
      // Iods each under the limit, together over it (existing akeys: the engine would fill them).
      const n = 2 + int(rnd, 3);
      const nr = BigInt(Math.floor(IO_BYTES_MAX / RECORD_SIZE / (n - 1)));
      h.iods = Array.from({ length: n }, () => ({
        akey: b(AKEY_ARRAY),
        kind: 'array',
        recordSize: RECORD_SIZE,
        extents: [{ idx: 0n, nr }],
      }));
    }
    return;
  }
  const counts = paths(req.header).filter(
    (x) =>
      [
        'idx',
        'nr',
        'len',
        'recordSize',
        'limit',
        'rank',
        'target',
        'bytesPerTarget',
        'epoch',
        'readEpoch',
        'hi',
        'lo',
      ].includes(String(x.path.at(-1))) &&
      (typeof x.value === 'bigint' || typeof x.value === 'number'),
  );
  if (counts.length === 0) {
    wrongType(rnd, req);
    return;
  }
  const { path: p, value } = pick(rnd, counts);
  const field = p.at(-1);
  let bad: unknown;
  if (typeof value === 'bigint') {
    // Only values no request may carry: idx + nr may reach 2^64 exactly, so a large idx is fine.
    const options: bigint[] = [-1n, -(1n << 63n)];
    if (field === 'nr') options.push(0n, (1n << 64n) - 1n, 1n << 40n);
    if (field === 'epoch' || field === 'readEpoch') options.push(0n);
    bad = pick(rnd, options);
  } else {
    const options: number[] = [...BAD_NUMBERS];
    if (field === 'recordSize') options.push(0, RECORD_BYTES_MAX + 1, 2 ** 40);
    if (field === 'len') options.push(2 ** 40, 2 ** 31);
    bad = pick(rnd, options);
  }
  setAt(req.header, p, bad);
}

function oversizeKey(rnd: Rnd, req: Request): void {
  const keys = paths(req.header).filter(
    (x) =>
      (x.value instanceof Uint8Array && x.path.at(-1) !== 'nested') ||
      x.path.at(-1) === 'pool' ||
      x.path.at(-1) === 'cont',
  );
  if (keys.length === 0) {
    wrongType(rnd, req);
    return;
  }
  const { path: p, value } = pick(rnd, keys);
  const len =
    rnd() < 0.15 ? 0 : (typeof value === 'string' ? LABEL_BYTES_MAX : KEY_BYTES_MAX) + 1 + int(rnd, 4000);
  setAt(req.header, p, typeof value === 'string' ? 'n'.repeat(len) : Buffer.alloc(len, 0x6b));
}

function badTarget(rnd: Rnd, req: Request): void {
  const targets = paths(req.header).filter((x) => x.path.at(-1) === 'target' && isNode(x.value));
  if (targets.length === 0) {
    unknownPoolCont(rnd, req);
    return;
  }
  const t = pick(rnd, targets).value as Record<string, unknown>;
  if (rnd() < 0.5) t.rank = pick(rnd, [1, 2, 7, 255, 2 ** 31]);
  else t.target = pick(rnd, [2, 3, 63, 64, 1000, 2 ** 31, 2 ** 52]);
}

function unknownPoolCont(rnd: Rnd, req: Request): void {
  const nowhere = `nowhere-${int(rnd, 1000)}`;
  switch (req.opcode) {
    case OPC_ENGINE_POOL_CREATE:
      // Any pool name would be a new pool: make the quota bad instead.
      badCount(rnd, req);
      return;
    case OPC_ENGINE_POOL_DESTROY:
      (req.header as Record<string, unknown>).pool = nowhere;
      return;
    case OPC_ENGINE_CONT_CREATE:
      // A container of an unknown pool, or the real container claimed for another pool.
      (req.header as Record<string, unknown>).pool = rnd() < 0.5 ? nowhere : POOL_B;
      return;
    case OPC_ENGINE_CONT_DESTROY: {
      const h = req.header as Record<string, unknown>;
      if (rnd() < 0.5) h.pool = rnd() < 0.5 ? nowhere : POOL_B;
      else h.cont = nowhere;
      return;
    }
  }
  // One target (of possibly several in a transaction) names a pool or container not here.
  const tos = paths(req.header).filter((x) => x.path.at(-1) === 'to');
  const to = pick(rnd, tos).value as Record<string, unknown>;
  const r = rnd();
  if (r < 0.4) to.cont = nowhere;
  else if (r < 0.7) to.pool = nowhere;
  else to.pool = POOL_B;
}

/** A well-formed read of the data set: the only frames that may succeed. */
function wellFormedRead(rnd: Rnd): Request {
  return baseRequest(rnd, pick(rnd, READ_OPCODES));
}

const MUTATIONS: Record<
  Exclude<PerRequest, 'unknownOpcode' | 'badBody' | 'wellFormedRead'>,
  (rnd: Rnd, r: Request) => void
> = {
  wrongType,
  missingField,
  extraNesting,
  bulkMismatch,
  bigintNumber,
  badCount,
  oversizeKey,
  badTarget,
  unknownPoolCont,
};

function randomValue(rnd: Rnd, depth: number): unknown {
  const k = pick(rnd, depth > 2 ? KINDS.filter((x) => x !== 'array' && x !== 'object') : KINDS);
  if (k === 'array') return Array.from({ length: int(rnd, 4) }, () => randomValue(rnd, depth + 1));
  if (k === 'object') {
    return Object.fromEntries(
      Array.from({ length: int(rnd, 4) }, (_v, i) => [
        pick(rnd, ['to', 'dkey', 'iods', `f${i}`]),
        randomValue(rnd, depth + 1),
      ]),
    );
  }
  return SAMPLE[k](rnd);
}

function frameBytes(requestId: number, req: Request): Buffer {
  return Buffer.concat(
    encodeFrame({ kind: FRAME_KIND_REQUEST, requestId, opcode: req.opcode }, req.header, req.bulk),
  );
}

/** A frame of the given body bytes (the body need not be msgpack). */
function rawBodyFrame(requestId: number, opcode: number, body: Uint8Array): Buffer {
  const head = Buffer.from(encodeFrame({ kind: FRAME_KIND_REQUEST, requestId, opcode }, undefined)[0]!);
  head.writeUInt32LE(body.length, 16);
  return Buffer.concat([head, body]);
}

/** msgpack of `depth` nested one-element arrays: deeper than a recursive decoder's stack. */
function deepBody(depth: number): Buffer {
  const body = Buffer.alloc(depth + 1, 0x91);
  body[depth] = 0xc0;
  return body;
}

interface Generated {
  category: PerRequest;
  bytes: Buffer;
}

function perRequestFrame(rnd: Rnd, requestId: number, category: PerRequest): Generated {
  switch (category) {
    case 'unknownOpcode': {
      let opcode: number;
      do opcode = int(rnd, 0x10000);
      while (ENGINE_OPCODES.has(opcode));
      const bulk = rnd() < 0.2 ? randomBytes(rnd, int(rnd, 100)) : undefined;
      return { category, bytes: frameBytes(requestId, { opcode, header: randomValue(rnd, 0), bulk }) };
    }
    case 'badBody': {
      const opcode = pick(rnd, FUZZED_OPCODES);
      const body = rnd() < 0.05 ? deepBody(100_000 + int(rnd, 100_000)) : randomBytes(rnd, 1 + int(rnd, 64));
      // A body that happens to decode still has the wrong shape: the handler answers DER_INVAL.
      return { category, bytes: rawBodyFrame(requestId, opcode, body) };
    }
    case 'wellFormedRead':
      return { category, bytes: frameBytes(requestId, wellFormedRead(rnd)) };
    default: {
      for (;;) {
        const req = baseRequest(rnd, pick(rnd, FUZZED_OPCODES));
        MUTATIONS[category](rnd, req);
        try {
          return { category, bytes: frameBytes(requestId, req) };
        } catch {
          // Not encodable (a bigint past 64 bits): draw another.
        }
      }
    }
  }
}

// ---- raw peers ----

interface Tally {
  frames: number;
  errorReplies: number;
  successReplies: number;
  closed: number;
  codes: Record<string, number>;
}
const tally = (): Tally => ({ frames: 0, errorReplies: 0, successReplies: 0, closed: 0, codes: {} });

/** A raw socket speaking frames by hand, to send what a well-behaved client never would. */
class RawPeer {
  replies = 0;
  isClosed = false;
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder(new Set([FRAME_KIND_REPLY, FRAME_KIND_ERROR]));
  private wake: () => void = () => {};

  constructor(
    readonly socket: net.Socket,
    onFrame: (f: Frame) => void,
  ) {
    socket.on('data', (chunk) => {
      this.decoder.push(chunk, (f) => {
        this.replies++;
        onFrame(f);
      });
      this.wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static async connect(port: number, onFrame: (f: Frame) => void): Promise<RawPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawPeer(socket, onFrame);
  }

  /** Until `n` replies arrived or the server closed the connection. */
  async replied(n: number): Promise<void> {
    while (this.replies < n && !this.isClosed) await new Promise<void>((resolve) => (this.wake = resolve));
  }
}

/** A request frame as sent, decoded again for a failure message. */
function describeFrame(bytes: Buffer): string {
  let shown = '';
  new FrameDecoder(new Set([FRAME_KIND_REQUEST])).push(bytes, (f) => {
    const header = JSON.stringify(f.header, (_k, v) =>
      typeof v === 'bigint' ? `${v}n` : v?.type === 'Buffer' ? `<${v.data.length} bytes>` : v,
    );
    shown = `${opcodeName(f.opcode)} ${header?.slice(0, 300)} bulk ${f.bulk?.length ?? 0}`;
  });
  return shown;
}

// ---- fatal bytes ----

function fatalBytes(rnd: Rnd, kind: Fatal, requestId: number): { bytes: Buffer; end: boolean } {
  const valid = perRequestFrame(rnd, requestId, 'wellFormedRead').bytes;
  const head = Buffer.from(valid.subarray(0, 24));
  switch (kind) {
    case 'randomBytes': {
      const bytes = randomBytes(rnd, 24 + int(rnd, 400));
      if (bytes.readUInt32LE(0) === 0x574f4144) bytes[0] ^= 0xff;
      return { bytes, end: false };
    }
    case 'truncated': {
      if (rnd() < 0.3) {
        // A legal but large bulk announced, a little of it sent, then the end of the stream.
        head.writeUInt32LE(0, 16);
        head.writeUInt32LE(FRAME_BULK_BYTES_MAX - int(rnd, 1 << 20), 20);
        return { bytes: Buffer.concat([head, randomBytes(rnd, int(rnd, 65536))]), end: true };
      }
      return { bytes: valid.subarray(0, 1 + int(rnd, valid.length - 1)), end: true };
    }
    case 'badMagic':
      head.writeUInt32LE((head.readUInt32LE(0) ^ (1 + int(rnd, 0xffffffff))) >>> 0, 0);
      break;
    case 'badVersion':
      head.writeUInt8(pick(rnd, [0, 2, 3, 127, 255]), 4);
      break;
    case 'badKind':
      head.writeUInt8(pick(rnd, [FRAME_KIND_REPLY, FRAME_KIND_ERROR, 3, 200, 255]), 5);
      break;
    case 'reservedBits':
      if (rnd() < 0.5) head.writeUInt16LE(1 + int(rnd, 0xffff), 6);
      else head.writeUInt16LE(1 + int(rnd, 0xffff), 14);
      break;
    case 'hugeBodyLength':
      head.writeUInt32LE(
        FRAME_HEADER_BODY_BYTES_MAX + 1 + int(rnd, 0xffffffff - FRAME_HEADER_BODY_BYTES_MAX - 1),
        16,
      );
      break;
    case 'hugeBulkLength':
      head.writeUInt32LE(FRAME_BULK_BYTES_MAX + 1 + int(rnd, 0xffffffff - FRAME_BULK_BYTES_MAX - 1), 20);
      break;
  }
  return { bytes: Buffer.concat([head, valid.subarray(24)]), end: false };
}

// ---- the engine's resident set ----

function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

const MiB = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

describe('daos_engine under fuzzing', () => {
  it('answers or closes on 100,000+ malformed frames, stays up with bounded RSS, keeps its data', async () => {
    const started = Date.now();
    const dir = engineTempDir('daos-engine-fuzz-');
    const engine = await startEngine(dir, 'tcp://127.0.0.1:0', 2);
    const port = Number(engine.address.split(':').at(-1));
    const remote = new RemoteEngine(await transportFor(engine.address).connect(engine.address));
    await remote.poolCreate(POOL, 64 << 20);
    await remote.poolCreate(POOL_B, 64 << 20);
    await remote.contCreate(POOL, CONT);
    await writeDataSet(remote);
    const before = await readDataSet(remote);

    const rssBefore = rssBytes(engine.pid);
    let rssMax = rssBefore;
    const sampler = setInterval(() => {
      try {
        rssMax = Math.max(rssMax, rssBytes(engine.pid));
      } catch {
        // The process is gone: the checks after the storm say so.
      }
    }, RSS_SAMPLE_MS);

    const perCategory = new Map<string, Tally>();
    for (const c of [...PER_REQUEST, ...FATAL]) perCategory.set(c, tally());
    /** What should not have happened, counted by kind with the first example of each. */
    const violationCounts = new Map<string, { count: number; example: string }>();
    const note = (kind: string, example = '') => {
      const v = violationCounts.get(kind);
      if (v) v.count++;
      else violationCounts.set(kind, { count: 1, example });
    };

    // Per-request faults: every frame gets a reply on a connection that stays open.
    const storm = Date.now();
    await Promise.all(
      Array.from({ length: PER_REQUEST_CONNECTIONS }, async (_c, conn) => {
        const rnd = seededRandom(SEED + conn);
        let batch: Generated[] = [];
        let base = 0;
        const peer = await RawPeer.connect(port, (f) => {
          const sent = batch[f.requestId - base - 1];
          if (sent === undefined) return note(`reply to unknown request id ${f.requestId}`);
          const t = perCategory.get(sent.category)!;
          if (f.kind === FRAME_KIND_ERROR) {
            const code = String((f.header as { code?: unknown } | undefined)?.code);
            t.errorReplies++;
            t.codes[code] = (t.codes[code] ?? 0) + 1;
            if (sent.category === 'wellFormedRead' || !EXPECTED_CODES.has(code)) {
              const message = String((f.header as { message?: unknown } | undefined)?.message).slice(0, 200);
              note(
                `${sent.category} ${opcodeName(f.opcode)} ${code}`,
                `${message} for ${describeFrame(sent.bytes)}`,
              );
            }
          } else {
            t.successReplies++;
            if (sent.category !== 'wellFormedRead')
              note(`${sent.category} ${opcodeName(f.opcode)} success`, describeFrame(sent.bytes));
          }
        });
        for (let sent = 0; sent < FRAMES_PER_CONNECTION; sent += BATCH_FRAMES) {
          base = sent;
          batch = Array.from({ length: BATCH_FRAMES }, (_v, i) =>
            perRequestFrame(rnd, sent + i + 1, pick(rnd, PER_REQUEST)),
          );
          for (const g of batch) perCategory.get(g.category)!.frames++;
          peer.socket.write(Buffer.concat(batch.map((g) => g.bytes)));
          await peer.replied(sent + BATCH_FRAMES);
          expect(peer.isClosed, `connection ${conn} closed after ${peer.replies} replies`).toBe(false);
        }
        expect(peer.replies).toBe(FRAMES_PER_CONNECTION);
        peer.socket.destroy();
      }),
    );
    const perRequestMs = Date.now() - storm;

    // Fatal faults: a few answerable frames, then bytes after which the engine must hang up.
    const rnd = seededRandom(SEED + 100);
    for (let c = 0; c < FATAL_CONNECTIONS; c += FATAL_CONNECTIONS_AT_ONCE) {
      await Promise.all(
        Array.from({ length: FATAL_CONNECTIONS_AT_ONCE }, async (_v, j) => {
          const kind = FATAL[(c + j) % FATAL.length]!;
          const t = perCategory.get(kind)!;
          let errors = 0;
          const peer = await RawPeer.connect(port, (f) => {
            if (f.kind === FRAME_KIND_ERROR) errors++;
            else note(`${kind}: success reply to a malformed frame before the fatal bytes`);
          });
          const good = Array.from({ length: FRAMES_BEFORE_FATAL }, (_f, i) => {
            const category = pick(
              rnd,
              PER_REQUEST.filter((x) => x !== 'wellFormedRead'),
            );
            return perRequestFrame(rnd, i + 1, category).bytes;
          });
          const fatal = fatalBytes(rnd, kind, FRAMES_BEFORE_FATAL + 1);
          peer.socket.write(Buffer.concat([...good, fatal.bytes]));
          if (fatal.end) peer.socket.end();
          t.frames += FRAMES_BEFORE_FATAL + 1;
          await peer.closed;
          t.closed++;
          t.errorReplies += errors;
          expect(peer.replies).toBeLessThanOrEqual(FRAMES_BEFORE_FATAL);
        }),
      );
    }
    const stormMs = Date.now() - storm;
    clearInterval(sampler);

    const rssAfter = engine.child.exitCode === null ? rssBytes(engine.pid) : Number.NaN;
    rssMax = Math.max(rssMax, rssAfter);
    const rows = [...perCategory].map(([c, t]) => ({ category: c, ...t, codes: JSON.stringify(t.codes) }));
    const total = rows.reduce((n, r) => n + r.frames, 0);
    console.log(
      [
        `engine fuzz: ${total} frames in ${stormMs} ms (per-request part ${perRequestMs} ms), test ${Date.now() - started} ms`,
        `engine RSS before ${MiB(rssBefore)}, max ${MiB(rssMax)}, after ${MiB(rssAfter)}`,
        ...rows.map(
          (r) =>
            `  ${r.category.padEnd(16)} frames ${String(r.frames).padStart(6)}  error ${String(r.errorReplies).padStart(6)}  success ${String(r.successReplies).padStart(5)}  closed ${String(r.closed).padStart(4)}  ${r.codes}`,
        ),
        ...[...violationCounts].map(([k, v]) => `  VIOLATION ${k} x${v.count}: ${v.example}`),
      ].join('\n'),
    );

    // The engine is up, answers, and its data reads back exactly as before.
    expect(engine.child.exitCode).toBeNull();
    expect(engine.child.signalCode).toBeNull();
    expect(await remote.ping({ after: 'storm' })).toEqual({ after: 'storm' });
    const fresh = new RemoteEngine(await transportFor(engine.address).connect(engine.address));
    expect(await fresh.ping({ fresh: 1 })).toEqual({ fresh: 1 });
    expect(await readDataSet(fresh)).toEqual(before);
    expect(await readDataSet(remote)).toEqual(before);
    await fresh.close();
    await remote.close();

    expect([...violationCounts.keys()]).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(100_000);
    for (const r of rows) {
      if ((FATAL as readonly string[]).includes(r.category)) {
        expect(r.closed, r.category).toBe(r.frames / (FRAMES_BEFORE_FATAL + 1));
      } else {
        expect(r.errorReplies + r.successReplies, r.category).toBe(r.frames);
        if (r.category !== 'wellFormedRead') expect(r.successReplies, r.category).toBe(0);
        else expect(r.errorReplies, r.category).toBe(0);
      }
    }
    expect(rssMax - rssBefore).toBeLessThan(ENGINE_RSS_GROWTH_BYTES_MAX);

    engine.child.kill('SIGTERM');
    expect(await engine.exited).toBe(0);
  });
});
