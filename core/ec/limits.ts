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
