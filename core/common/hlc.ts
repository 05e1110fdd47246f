/**
 * Hybrid logical clock epochs, as DAOS's HLC: a 64-bit number whose high bits are physical time
 * in nanoseconds and whose low 18 bits are a logical counter. Epochs only move forward; a
 * timestamp from another node pushes the local clock past it.
 */

/** The newest epoch: reads at it see everything committed (DAOS_EPOCH_MAX). */
export const EPOCH_MAX = (1n << 64n) - 1n;
/** Bits of logical counter below the physical time. */
export const HLC_LOGICAL_BITS = 18n;
const LOGICAL_MASK = (1n << HLC_LOGICAL_BITS) - 1n;
/** HLC physical time counts nanoseconds from 2021-01-01 (DAOS's HLC start), keeping epochs small. */
const HLC_START_NS = 1_609_459_200_000_000_000n;

const wallBaseNs = BigInt(Date.now()) * 1_000_000n - HLC_START_NS;
const hrBase = process.hrtime.bigint();

function physicalNs(): bigint {
  return wallBaseNs + (process.hrtime.bigint() - hrBase);
}

export class Hlc {
  private last = 0n;

  /** A new epoch, larger than every epoch this clock has given out or seen. */
  now(): bigint {
    const p = physicalNs() & ~LOGICAL_MASK;
    this.last = p > this.last ? p : this.last + 1n;
    return this.last;
  }

  /** Merge a timestamp from elsewhere, so that later `now()` calls order after it. */
  update(remote: bigint): void {
    if (remote > this.last && remote !== EPOCH_MAX) this.last = remote;
  }

  /** The last epoch handed out or seen, without advancing. */
  peek(): bigint {
    return this.last;
  }
}

/** The process's clock: every component of an embedded system shares it. */
export const hlc = new Hlc();

/** Wall-clock milliseconds of an epoch, for humans. */
export function epochToDate(epoch: bigint): Date {
  return new Date(Number((epoch + HLC_START_NS) / 1_000_000n));
}
