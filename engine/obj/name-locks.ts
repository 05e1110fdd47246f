/**
 * In-memory locks over hierarchical names ("a/b/c"): a name conflicts with itself, its ancestors
 * and its descendants, so locking an object excludes locking any of its dkeys, and the reverse.
 * A caller takes all its names at once (no deadlock between callers); waiters retry on every release.
 */
export class NameLocks {
  private readonly held = new Map<string, number>();
  private waiters: Array<() => void> = [];

  /** Resolves, once none of `names` conflicts with a held name, to the function that releases them. */
  async acquire(names: readonly string[]): Promise<() => void> {
    const unique = [...new Set(names)];
    while (this.conflicts(unique)) await new Promise<void>((resolve) => this.waiters.push(resolve));
    for (const n of unique) this.held.set(n, (this.held.get(n) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const n of unique) {
        const c = this.held.get(n)! - 1;
        if (c === 0) this.held.delete(n);
        else this.held.set(n, c);
      }
      const wake = this.waiters;
      this.waiters = [];
      for (const w of wake) w();
    };
  }

  /** Names held now (for tests and diagnostics). */
  get size(): number {
    return this.held.size;
  }

  private conflicts(names: string[]): boolean {
    if (this.held.size === 0) return false;
    for (const n of names) {
      for (const h of this.held.keys()) {
        if (h === n || h.startsWith(`${n}/`) || n.startsWith(`${h}/`)) return true;
      }
    }
    return false;
  }
}
