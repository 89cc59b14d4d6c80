/**
 * What `top` counts: every event once, by reset code, owner, remote peer
 * and service port, with the rate of each over the last refresh. Counting is
 * a few map lookups per event and keeps nothing of the event itself (the
 * pipeline reuses it), so a storm of hundreds of thousands of events a second
 * costs no allocation; a storm repeats its keys, which are compared with the
 * previous event's before any lookup.
 */
import type { ResetEvent } from '../event.js';
import { displayAddress } from '../text/endpoint.js';
import { ServicePorts } from './service-port.js';

/** owner of a reset that matched no socket */
export const OWNER_KERNEL = 'kernel (no socket)';
/** what keys past MAX_KEYS of one dimension count as */
export const KEY_OTHER = 'other';
/** distinct keys kept per dimension: a scan of many peers cannot grow memory without bound */
export const MAX_KEYS = 4096;

export interface Row<K> {
  key: K;
  total: number;
  /** per second, over the last tick() */
  rate: number;
}

class Counted<K> {
  total = 0;
  atTick = 0;
  rate = 0;
  constructor(readonly key: K) {}
}

/** One dimension: its keys, bounded, with the last key's entry at hand. */
class Dimension<K extends string | number> {
  private readonly entries = new Map<K | typeof KEY_OTHER, Counted<K | typeof KEY_OTHER>>();
  private lastKey: K | undefined;
  private last: Counted<K | typeof KEY_OTHER> | undefined;

  add(key: K): void {
    if (key !== this.lastKey || this.last === undefined) {
      let c = this.entries.get(key);
      if (c === undefined) {
        const k: K | typeof KEY_OTHER = this.entries.size < MAX_KEYS ? key : KEY_OTHER;
        c = this.entries.get(k) ?? new Counted<K | typeof KEY_OTHER>(k);
        this.entries.set(k, c);
      }
      this.lastKey = key;
      this.last = c;
    }
    this.last.total++;
  }

  tick(seconds: number): void {
    for (const c of this.entries.values()) {
      c.rate = seconds > 0 ? (c.total - c.atTick) / seconds : 0;
      c.atTick = c.total;
    }
  }

  /** Busiest now first, then most in total. */
  rows(): Row<K | typeof KEY_OTHER>[] {
    return [...this.entries.values()]
      .map((c) => ({ key: c.key, total: c.total, rate: c.rate }))
      .sort((a, b) => b.rate - a.rate || b.total - a.total || String(a.key).localeCompare(String(b.key)));
  }
}

export class TopTally {
  total = 0;
  rate = 0;
  peakRate = 0;
  private atTick = 0;
  readonly codes = new Dimension<number>();
  readonly owners = new Dimension<string>();
  readonly peers = new Dimension<string>();
  readonly ports = new Dimension<number>();
  private readonly servicePorts: ServicePorts;

  constructor(ephemeral?: readonly [number, number]) {
    this.servicePorts = new ServicePorts(ephemeral);
  }

  readonly visit = (e: ResetEvent): void => {
    this.total++;
    this.codes.add(e.code);
    this.owners.add(e.container ?? e.comm ?? OWNER_KERNEL);
    this.peers.add(displayAddress(e.raddr));
    this.ports.add(this.servicePorts.of(e));
  };

  /** A refresh: rates over the `seconds` since the last one. */
  tick(seconds: number): void {
    this.rate = seconds > 0 ? (this.total - this.atTick) / seconds : 0;
    if (this.rate > this.peakRate) this.peakRate = this.rate;
    this.atTick = this.total;
    this.codes.tick(seconds);
    this.owners.tick(seconds);
    this.peers.tick(seconds);
    this.ports.tick(seconds);
  }
}
