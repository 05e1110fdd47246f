/**
 * Space allocated ahead of a data file's writes. A buffered write into blocks the file system
 * has not allocated yet pays for their allocation on the way (ext4's delayed allocation); into
 * blocks allocated beforehand it does not: 1 MiB writes took 214–258 µs (median 225) into space
 * allocated with `fallocate -n` against 241–455 (median 274) into a fresh file (this VM, page
 * cache backed, six rounds of 256 each way, 2026-11-28). Node has no fallocate(2), so the calls
 * go to util-linux's `fallocate -n` (FALLOC_FL_KEEP_SIZE: the file's size, which recovery reads,
 * does not change), run by one shell per process that reads requests from a pipe: spawning a
 * process from Node stops its main thread for the fork, 13–52 ms here, so that happens once,
 * not per request. Where the shell or `fallocate` is missing or the file system refuses, a data
 * file simply goes on without (see DataFile.queueWrite).
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** A data file's space is allocated ahead once its writes reach this far. */
export const PREALLOC_FROM_BYTES = 256 * 1024 * 1024;
/** Allocated ahead at least this far past the end of the last queued write. */
export const PREALLOC_AHEAD_BYTES = 256 * 1024 * 1024;
/** Bytes allocated per request. */
export const PREALLOC_STEP_BYTES = 512 * 1024 * 1024;

/** Each request line: offset, length, path (the rest of the line); the answer is fallocate's exit code. */
const HELPER_SCRIPT =
  'while read -r off len path; do fallocate -n -o "$off" -l "$len" -- "$path" 2>/dev/null; echo $?; done';

interface Helper {
  child: ChildProcess;
  waiting: Array<(ok: boolean) => void>;
  partial: string;
}

/** The process's helper: undefined until first asked, null once it could not run. */
let helper: Helper | undefined | null;

function startHelper(): Helper | null {
  let h: Helper;
  try {
    const child = spawn('sh', ['-c', HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'ignore'] });
    h = { child, waiting: [], partial: '' };
  } catch {
    return null;
  }
  const gone = () => {
    helper = null;
    for (const done of h.waiting.splice(0)) done(false);
  };
  h.child.on('error', gone);
  h.child.on('exit', gone);
  h.child.stdin!.on('error', gone);
  h.child.stdout!.setEncoding('utf8');
  h.child.stdout!.on('data', (chunk: string) => {
    const lines = (h.partial + chunk).split('\n');
    h.partial = lines.pop()!;
    for (const line of lines) h.waiting.shift()?.(line.trim() === '0');
  });
  // Neither keeps the process alive: at its exit the pipe closes and the shell's loop ends.
  h.child.unref();
  (h.child.stdin as unknown as { unref?: () => void }).unref?.();
  (h.child.stdout as unknown as { unref?: () => void }).unref?.();
  return h;
}

/**
 * Allocate `len` bytes at `off` of the file at `path` without changing its size; `done(true)`
 * once allocated, `done(false)` if that could not be done (no helper, no `fallocate`, a file
 * system without it, a path with a line break).
 */
export function preallocate(path: string, off: number, len: number, done: (ok: boolean) => void): void {
  if (helper === undefined) helper = startHelper();
  if (helper === null || path.includes('\n')) {
    done(false);
    return;
  }
  helper.waiting.push(done);
  helper.child.stdin!.write(`${off} ${len} ${path}\n`);
}
