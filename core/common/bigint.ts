/** Math.min and Math.max do not take bigints (record indexes and epochs are bigints). */

export function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function bigMax(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
