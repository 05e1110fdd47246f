/**
 * Limits of the data-plane wire as named constants, with their unit in the name. Every length a
 * peer announces is checked against one of these before a byte of it is buffered.
 */
import { IO_BYTES_MAX } from '../common/limits.js';

/** Bytes of the fixed little-endian frame header. */
export const FRAME_FIXED_HEADER_BYTES = 24;
/** Largest msgpack header body of one frame. */
export const FRAME_HEADER_BODY_BYTES_MAX = 1024 * 1024;
/** Largest bulk of one frame: one full I/O plus room for framing of its pieces. */
export const FRAME_BULK_BYTES_MAX = IO_BYTES_MAX + 1024 * 1024;
/** Requests one client connection keeps in flight; more wait, FIFO, for a slot. */
export const REQUESTS_IN_FLIGHT_MAX = 256;
/** Requests one client connection lets wait for a slot; beyond this, DER_AGAIN. */
export const REQUESTS_WAITING_MAX = 4096;
/** Requests a server runs at once for one connection; it stops reading the socket beyond this. */
export const SERVER_REQUESTS_RUNNING_MAX = 256;
/** Default per-request timeout, counted from the call (waiting for a slot included). */
export const RPC_TIMEOUT_MS_DEFAULT = 30_000;
/** Longest per-request timeout (the largest delay setTimeout honours). */
export const RPC_TIMEOUT_MS_MAX = 2 ** 31 - 1;
/** A server closes a connection whose partial frame makes no progress for this long. */
export const FRAME_STALL_TIMEOUT_MS = 30_000;
/** A server stops reading a connection while this many reply bytes wait to be written. */
export const REPLY_WRITE_BUFFERED_BYTES_MAX = 64 * 1024 * 1024;
/** How long connect() waits for the socket to open. */
export const CONNECT_TIMEOUT_MS = 10_000;
