/**
 * Loop turns seen since the first piece of work of any budget: advanced by one setImmediate a turn
 * that every TurnBudget shares (the engine's calls, the data files' reads and the targets' commit
 * batches each ran one of their own, three a turn, ~170 bytes and a check-phase callback each).
 */
let turnsSeen = 0;
let clockTicking = false;

function currentTurn(): number {
  if (!clockTicking) {
    clockTicking = true;
    setImmediate(nextTurnSeen);
  }
  return turnsSeen;
}

function nextTurnSeen(): void {
  clockTicking = false;
  turnsSeen++;
}

/**
 * Work that runs as soon as the current microtask queue allows — without waiting for a poll of
 * the event loop, which costs ~20–25 µs on the machines we measure — but not forever: a caller
 * that awaits such work again and again never lets the loop turn, so timers, sockets and
 * thread-pool completions would wait for the whole chain. Every `perTurn`-th piece of work in a
 * row waits for the next turn instead (setImmediate).
 */
export class TurnBudget {
  private used = 0;
  /** The turn `used` counts work of. */
  private usedTurn = -1;
  /** Work put off to the next turn, run there by one setImmediate (not one each). */
  private waiting: Array<() => void> = [];

  constructor(private readonly perTurn: number) {}

  /** The current loop turn, as a number to hand to `settle` when the work begun now is done. */
  mark(): number {
    return currentTurn();
  }

  /** Count one piece of work: true to run it now, false once this turn's budget is spent (wait for the next). */
  take(): boolean {
    const turn = currentTurn();
    if (turn !== this.usedTurn) {
      this.usedTurn = turn;
      this.used = 0;
    }
    if (this.used >= this.perTurn) return false;
    this.used++;
    return true;
  }

  /** Run `fn` through `soon` (queueMicrotask, process.nextTick), or at the next loop turn once this turn's budget is spent. */
  schedule(fn: () => void, soon: (fn: () => void) => void): void {
    if (this.take()) soon(fn);
    else this.nextTurn(fn);
  }

  /**
   * The outcome of work begun in turn `begun` (from `mark`) and now done: given back at once when
   * the loop has turned since (the work waited for I/O) or this turn's budget has room, else at
   * the next turn. Only work begun and done within one turn counts: a chain of such calls is what
   * keeps the loop from turning, while a thousand calls begun together and answered by reads a
   * turn later are not, and need no promise each to hold their results back.
   */
  settle<T>(begun: number, value: T): T | Promise<T> {
    if (begun !== turnsSeen || this.take()) return value;
    return new Promise<T>((resolve) => this.nextTurn(() => resolve(value)));
  }

  /** `settle` for work that failed with `err`. */
  settleError(begun: number, err: unknown): Promise<never> {
    if (begun !== turnsSeen || this.take()) return Promise.reject(err);
    return new Promise<never>((_, reject) => this.nextTurn(() => reject(err)));
  }

  /** Run `fn` at the next loop turn, in order with the rest put off (a window of 1,000 calls past the budget is one immediate). */
  private nextTurn(fn: () => void): void {
    if (this.waiting.push(fn) > 1) return;
    setImmediate(() => {
      const due = this.waiting;
      this.waiting = [];
      for (const f of due) f();
    });
  }
}
