/** Math.min and Math.max do not take bigints (record indexes and epochs are bigints). */

export function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Array.prototype.sort's comparator for bigints, ascending. */
export function bigCompare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
