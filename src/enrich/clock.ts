/**
 * Boot-time clock -> wall-clock ISO-8601 with nanoseconds. Records carry
 * CLOCK_BOOTTIME (it keeps counting through suspend); the offset to
 * CLOCK_REALTIME is taken once, when the trace starts, and stored in trace
 * files so that a file is read with the clock it was written with.
 */

export class WallClock {
  private readonly offSec: number;
  private readonly offNsec: number;
  private cachedSec = -1;
  private cachedPrefix = '';

  /** @param bootToWallNs CLOCK_REALTIME - CLOCK_BOOTTIME, in ns */
  constructor(readonly bootToWallNs: bigint) {
    this.offSec = Number(bootToWallNs / 1_000_000_000n);
    this.offNsec = Number(bootToWallNs % 1_000_000_000n);
  }

  /** Wall-clock time as [seconds since the epoch, nanoseconds]. */
  wall(bootSec: number, bootNsec: number): [number, number] {
    let sec = bootSec + this.offSec;
    let nsec = bootNsec + this.offNsec;
    if (nsec >= 1e9) { sec += 1; nsec -= 1e9; }
    return [sec, nsec];
  }

  iso(bootSec: number, bootNsec: number): string {
    const [sec, nsec] = this.wall(bootSec, bootNsec);
    return formatIsoNs(sec, nsec, this);
  }

  /** Events come in bursts within one second: the date part is built once per second. */
  prefixFor(sec: number): string {
    if (sec !== this.cachedSec) {
      this.cachedSec = sec;
      this.cachedPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
    }
    return this.cachedPrefix;
  }
}

export function formatIsoNs(sec: number, nsec: number, cache?: { prefixFor(sec: number): string }): string {
  const prefix = cache ? cache.prefixFor(sec) : new Date(sec * 1000).toISOString().slice(0, 19);
  return `${prefix}.${String(nsec).padStart(9, '0')}Z`;
}
