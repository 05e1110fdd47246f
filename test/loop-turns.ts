/**
 * Counts the event loop's turns while a test runs something that must not hold the loop up: a
 * callback that re-arms itself with setImmediate runs once per turn. `stop()` ends the count and
 * returns it.
 */
export function countLoopTurns(): { stop(): number } {
  let turns = 0;
  let stopped = false;
  const spin = () => {
    turns++;
    if (!stopped) setImmediate(spin);
  };
  setImmediate(spin);
  return {
    stop() {
      stopped = true;
      return turns;
    },
  };
}
