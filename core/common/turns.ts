/**
 * Work that runs as soon as the current microtask queue allows — without waiting for a poll of
 * the event loop, which costs ~20–25 µs on the machines we measure — but not forever: a caller
 * that awaits such work again and again never lets the loop turn, so timers, sockets and
 * thread-pool completions would wait for the whole chain. Every `perTurn`-th piece of work in a
 * row waits for the next turn instead (setImmediate).
 */
export class TurnBudget {
  private used = 0;
  /** Work put off to the next turn, run there by one setImmediate (not one each). */
  private waiting: Array<() => void> = [];

  constructor(private readonly perTurn: number) {}

  /** Count one piece of work: true to run it now, false once this turn's budget is spent (wait for the next). */
  take(): boolean {
    if (this.used >= this.perTurn) return false;
    if (this.used++ === 0)
      setImmediate(() => {
        this.used = 0;
      });
    return true;
  }

  /** Run `fn` through `soon` (queueMicrotask, process.nextTick), or at the next loop turn once this turn's budget is spent. */
  schedule(fn: () => void, soon: (fn: () => void) => void): void {
    if (this.take()) soon(fn);
    else this.nextTurn(fn);
  }

  /** `p`, or once this turn's budget is spent, `p` settled no sooner than the next loop turn. */
  pace<T>(p: Promise<T>): Promise<T> {
    if (this.take()) return p;
    return new Promise<T>((resolve, reject) =>
      p.then(
        (v) => this.nextTurn(() => resolve(v)),
        (e: unknown) => this.nextTurn(() => reject(e)),
      ),
    );
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
