/**
 * Limits of erasure coding as named constants, with their unit in the name.
 */

/** Default EC cell size (DAOS's DAOS_EC_CELL_DEF, 128 KiB); a cell holds floor(this / rsize) records. */
export const EC_CELL_BYTES_DEFAULT = 128 * 1024;
/**
 * Largest cell one codec call takes. The native library counts bytes in uint32 (k cells in one
 * buffer), so k * this must stay below 2^32 for every k it supports (k <= 24).
 */
export const EC_CODEC_CELL_BYTES_MAX = 64 * 1024 * 1024;
/** Most pieces one geometry call returns: a bound against splitting a 2^64-record extent cell by cell. */
export const EC_PIECES_MAX = 1 << 20;
/**
 * Record indexes of an EC object's arrays stay below this (2^60): the top four bits of an index
 * on a shard tag parity cells (bit 63, then the parity cell's number in bits 60..62), so that a
 * target holding two roles of one group (a rebalance moving a shard onto another member) keeps
 * each role's records apart. DAOS reserves bit 63 the same way.
 */
export const EC_RECORD_INDEX_LIMIT = 1n << 60n;
/** Bit 63 of an index on a shard: a parity cell. */
export const EC_PARITY_BIT = 1n << 63n;
/** Where the parity cell's number (0..p-1) sits in a parity index. */
export const EC_PARITY_CELL_SHIFT = 60n;
