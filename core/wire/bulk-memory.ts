/**
 * Keeping the memory of freed bulks for the next ones, in a process that receives many large bulks
 * (an engine: every request bulk that spans socket reads gets a fresh buffer of its own).
 *
 * glibc's malloc gives a block at or over its mmap threshold a mapping of its own, unmapped when
 * freed, and hands free memory at the top of its heap back to the kernel once it passes the trim
 * threshold. Both start low (128 KiB and 128 KiB), and grow only when a mapped block is freed: to
 * that block's size and twice it, up to 32 MiB. With a steady stream of 1 MiB bulks freed in
 * batches by the garbage collector, the heap shrinks and regrows, and every bulk's pages fault in
 * again one by one while the kernel copies the socket's bytes into them (a profile of an engine
 * at 4 × 1 MiB updates in flight: 10% of its time in those faults).
 */

/**
 * One mapped block of this size, freed, raises the mmap threshold to it and the trim threshold to
 * twice it: below glibc's 32 MiB ceiling for the raise, and past the ~64 MiB of garbage buffers V8
 * lets accumulate before it collects them.
 */
export const BULK_HEAP_TUNE_BYTES = 30 * 1024 * 1024;

let tuned = false;

/**
 * Raise malloc's thresholds once for this process (see above): allocate one untouched block of
 * BULK_HEAP_TUNE_BYTES and drop it; the garbage collector frees it soon after (the raise happens
 * then). Only its first page is ever touched. Harmless where malloc is not glibc's: the block is
 * just freed. The process's heap may then hold up to twice that of free memory.
 */
export function keepFreedBulkMemory(): void {
  if (tuned) return;
  tuned = true;
  Buffer.allocUnsafeSlow(BULK_HEAP_TUNE_BYTES);
}
