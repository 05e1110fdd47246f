/**
 * The shapes of object I/O shared by client and engine: record extents, iods, conditions and
 * results. engine/vos stores them; core/daos builds them; the wire (a later issue) carries them.
 */

/** A run of array records: `nr` records from index `idx`. */
export interface Recx {
  idx: bigint;
  nr: bigint;
}

/** Conditions of DAOS's conditional ops. A failed condition fails the op with DER_EXIST / DER_NONEXIST. */
export type UpdateCond = 'dkey_insert' | 'dkey_update' | 'akey_insert' | 'akey_update';
export type FetchCond = 'dkey_fetch' | 'akey_fetch';

/**
 * One akey of an update. Array extents with `data` absent punch those records (they read as holes).
 * `csums` (a checksummed container): the CRC32C of each 32 KiB chunk of the value or extent data
 * (core/csum `chunkCsums`); the engine checks them (DER_CSUM) and stores them with the data.
 */
export type UpdateIod =
  | { akey: Uint8Array; kind: 'single'; value: Uint8Array; csums?: Uint32Array }
  | {
      akey: Uint8Array;
      kind: 'array';
      recordSize: number;
      extents: Array<Recx & { data?: Uint8Array; csums?: Uint32Array }>;
    };

/**
 * One akey of a fetch. An array fetch may name `out`, the caller's buffer for the data (as DAOS
 * takes the caller's scatter-gather list): it must hold the requested bytes, and the result's
 * `data` is then a view of it.
 */
export type FetchIod =
  | { akey: Uint8Array; kind: 'single' }
  | { akey: Uint8Array; kind: 'array'; recordSize: number; extents: Recx[]; out?: Uint8Array };

/** An array fetch result: requested extents concatenated (holes zero-filled) and the data sub-ranges. */
export interface ArrayFetchResult {
  data: Uint8Array;
  map: Recx[];
}

/**
 * The result of one fetch iod. Single: the value, or undefined when none is visible. Array: the
 * requested extents' bytes concatenated in request order (holes zero-filled) and `map`, the
 * sub-ranges that hold data, in index order (holes are what it leaves out).
 */
export type FetchResult = Uint8Array | undefined | ArrayFetchResult;
