import { describe, expect, it } from 'vitest';
import { TurnBudget } from './turns.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnBudget', () => {
  it('take: perTurn pieces of work a turn, then none until the loop turns', async () => {
    const b = new TurnBudget(3);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    await nextTurn();
    expect(b.take()).toBe(true);
  });

  it('settle: work begun and done in one turn past the budget waits for the next turn', async () => {
    const b = new TurnBudget(2);
    const begun = [b.mark(), b.mark(), b.mark()];
    const out = begun.map((t, i) => b.settle(t, i));
    expect(out.slice(0, 2)).toEqual([0, 1]);
    expect(out[2]).toBeInstanceOf(Promise);
    let settled = false;
    void (out[2] as Promise<number>).then(() => {
      settled = true;
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(false);
    await nextTurn();
    expect(await out[2]).toBe(2);
    expect(settled).toBe(true);
  });

  it('settle: work that waited for the loop to turn is given back at once, and uses none of the budget', async () => {
    const b = new TurnBudget(1);
    const begun = Array.from({ length: 1000 }, () => b.mark());
    await nextTurn();
    expect(begun.map((t, i) => b.settle(t, i))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    // The budget of this turn is still whole.
    expect([b.take(), b.take()]).toEqual([true, false]);
  });

  it('settleError: a rejection, held back like a result', async () => {
    const b = new TurnBudget(1);
    const t = b.mark();
    b.take();
    const err = new Error('x');
    const late = b.settleError(t, err);
    let rejected = false;
    late.catch(() => {
      rejected = true;
    });
    await Promise.resolve();
    expect(rejected).toBe(false);
    await nextTurn();
    await expect(late).rejects.toBe(err);
    // Work that waited for a turn is rejected at once.
    const old = b.mark();
    await nextTurn();
    const now = b.settleError(old, err);
    let rejectedNow = false;
    now.catch(() => {
      rejectedNow = true;
    });
    await Promise.resolve();
    expect(rejectedNow).toBe(true);
  });
});
