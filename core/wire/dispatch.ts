/**
 * The server side shared by every transport: run a handler and turn its result or its failure
 * into an outcome, and bound how many requests of one connection run at once.
 */
import { DaosError, type DerName } from '../common/errors.js';
import { opcodeName } from './opcodes.js';
import type { Handler } from './transport.js';

/** Longest error message put in an error reply. */
export const ERROR_MESSAGE_CHARS_MAX = 4096;

export type Outcome =
  | { ok: true; header: unknown; bulk: Uint8Array | undefined; sent?: () => void }
  | { ok: false; code: DerName; message: string };

/** The error outcome of anything thrown. */
export function errorOutcome(err: unknown): Outcome & { ok: false } {
  const code: DerName = err instanceof DaosError ? err.code : 'DER_MISC';
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, code, message: message.slice(0, ERROR_MESSAGE_CHARS_MAX) };
}

/** Run `handler` for one request; never throws. */
export async function dispatch(
  handler: Handler,
  opcodes: ReadonlySet<number>,
  opcode: number,
  header: unknown,
  bulk: Uint8Array | undefined,
  context?: unknown,
): Promise<Outcome> {
  if (!opcodes.has(opcode)) return { ok: false, code: 'DER_UNREG', message: `unknown ${opcodeName(opcode)}` };
  try {
    const reply = await handler(opcode, header, bulk, context);
    if (typeof reply !== 'object' || reply === null) {
      return { ok: false, code: 'DER_MISC', message: `handler of ${opcodeName(opcode)} returned no reply` };
    }
    const replyBulk = reply.bulk !== undefined && reply.bulk.length > 0 ? reply.bulk : undefined;
    return { ok: true, header: reply.header, bulk: replyBulk, sent: reply.sent };
  } catch (err) {
    return errorOutcome(err);
  }
}

/** Runs tasks with at most `max` at once; the rest wait in FIFO order. */
export class RunGate {
  private running = 0;
  private readonly waiting: Array<() => Promise<void>> = [];
  private head = 0;

  /** `onSettle` runs after each task ends: a caller may resume reading then. */
  constructor(
    private readonly max: number,
    private readonly onSettle?: () => void,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new DaosError('DER_INVAL', `bad concurrency bound ${max}`);
  }

  /** Tasks waiting for a slot. */
  get waitingCount(): number {
    return this.waiting.length - this.head;
  }

  /** True when a new task would have to wait. */
  get full(): boolean {
    return this.running >= this.max;
  }

  /** Start `task` now or when a slot frees; a task must not throw. */
  run(task: () => Promise<void>): void {
    if (this.running < this.max) this.start(task);
    else this.waiting.push(task);
  }

  private start(task: () => Promise<void>): void {
    this.running++;
    void task().finally(() => {
      this.running--;
      if (this.head < this.waiting.length) {
        const next = this.waiting[this.head]!;
        this.head++;
        if (this.head === this.waiting.length) {
          this.waiting.length = 0;
          this.head = 0;
        }
        this.start(next);
      }
      this.onSettle?.();
    });
  }
}
