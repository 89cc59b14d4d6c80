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
  /** the millisecond of the last iso() that took the fast path, and its text up to the ms digits */
  private cachedMs = NaN;
  private cachedMsPrefix = '';
  /** The time of the last iso(), as numbers: ms since the epoch, and ns past that ms (0-999999). */
  lastMs = NaN;
  lastSubNs = 0;

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
    let sec = bootSec + this.offSec;
    let nsec = bootNsec + this.offNsec;
    if (nsec >= 1e9) { sec += 1; nsec -= 1e9; }
    if (!(nsec >= 0 && nsec < 1e9 && (nsec | 0) === nsec && Number.isSafeInteger(sec))) {
      this.lastMs = NaN;
      return formatIsoNs(sec, nsec, this);
    }
    // formatIsoNs's text, from a per-millisecond prefix and two 3-digit groups: no number is printed per event
    const msPart = Math.floor(nsec / 1e6);
    const sub = nsec - msPart * 1e6;
    const ms = sec * 1000 + msPart;
    if (ms !== this.cachedMs) {
      this.cachedMs = ms;
      this.cachedMsPrefix = `${this.prefixFor(sec)}.${DIGITS3[msPart]}`;
    }
    this.lastMs = ms;
    this.lastSubNs = sub;
    const us = Math.floor(sub / 1000);
    // the short tail first: under 13 characters V8 copies it flat, so the result is one concatenation, not three
    return this.cachedMsPrefix + (DIGITS3[us] + DIGITS3_Z[sub - us * 1000]);
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

/** '000' to '999' */
const DIGITS3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** '000Z' to '999Z' */
const DIGITS3_Z: readonly string[] = DIGITS3.map((d) => `${d}Z`);

export function formatIsoNs(sec: number, nsec: number, cache?: { prefixFor(sec: number): string }): string {
  const prefix = cache ? cache.prefixFor(sec) : new Date(sec * 1000).toISOString().slice(0, 19);
  return `${prefix}.${String(nsec).padStart(9, '0')}Z`;
}

// Every other wall-clock text in rstrace comes from here too, so that a live
// table, a report and an export can never disagree on how a time is written.

/** Nanoseconds since the epoch (as trace files and tests carry them) as the event's ISO time. */
export function formatEpochNs(nsSinceEpoch: bigint): string {
  let sec = nsSinceEpoch / 1_000_000_000n;
  let nsec = nsSinceEpoch % 1_000_000_000n;
  if (nsec < 0n) { nsec += 1_000_000_000n; sec -= 1n; }
  return formatIsoNs(Number(sec), Number(nsec));
}

/** Milliseconds since the epoch as ISO-8601 UTC (report buckets, start times). */
export function formatIsoMs(ms: number): string {
  return new Date(ms).toISOString();
}

/** Now, as ISO-8601 UTC with milliseconds (a trace's start time). */
export function isoNow(): string {
  return formatIsoMs(Date.now());
}

/** "07:21:07.512345" from an event's ISO time: the live table's TIME column (UTC, microseconds). */
export function timeOfDay(iso: string): string {
  return iso.slice(11, 26);
}

/** "2026-11-26 07:00:00.123" from an ISO time, for reports a person reads (UTC, milliseconds). */
export function displayTime(iso: string): string {
  return iso.replace('T', ' ').replace(/(\.\d{3})\d*Z$/, '$1').replace(/Z$/, '');
}

/** ms since the epoch of an event's ISO time (sub-ms digits dropped); NaN if unreadable. */
export function isoToMs(time: string): number {
  // Date.parse rejects 9 fractional digits on some engines: keep 3.
  if (time.length === 30 && time.charCodeAt(19) === 46) return Date.parse(time.slice(0, 23) + 'Z');
  return Date.parse(time);
}

/** `isoToMs` for a stream of event times: storms share their second, so its part is parsed once. */
export class IsoMsParser {
  private prefix = '';
  private secMs = 0;

  parse(time: string): number {
    if (time.length === 30 && time.charCodeAt(19) === 46 /* . */) {
      const a = time.charCodeAt(20) - 48, b = time.charCodeAt(21) - 48, c = time.charCodeAt(22) - 48;
      if (a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9) {
        const ms = a * 100 + b * 10 + c;
        if (this.prefix !== '' && time.startsWith(this.prefix)) return this.secMs + ms;
        const secMs = Date.parse(time.slice(0, 19) + 'Z');
        if (!Number.isNaN(secMs)) {
          this.prefix = time.slice(0, 19);
          this.secMs = secMs;
          return secMs + ms;
        }
      }
    }
    return Date.parse(time);
  }
}
