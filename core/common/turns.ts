/**
 * Work that runs as soon as the current microtask queue allows — without waiting for a poll of
 * the event loop, which costs ~20–25 µs on the machines we measure — but not forever: a caller
 * that awaits such work again and again never lets the loop turn, so timers, sockets and
 * thread-pool completions would wait for the whole chain. Every `perTurn`-th piece of work in a
 * row waits for the next turn instead (setImmediate).
 */
export class TurnBudget {
  private used = 0;

  constructor(private readonly perTurn: number) {}

  /** Run `fn` through `soon` (queueMicrotask, process.nextTick), or at the next loop turn once this turn's budget is spent. */
  schedule(fn: () => void, soon: (fn: () => void) => void): void {
    if (this.used >= this.perTurn) {
      setImmediate(fn);
      return;
    }
    if (this.used++ === 0)
      setImmediate(() => {
        this.used = 0;
      });
    soon(fn);
  }
}
