/**
 * The Prometheus sink: resets counted by kind, code, owning process and its
 * container or systemd unit, the
 * tracer's own counters, and the process metrics, served over HTTP for a
 * scraper. One rstrace per host; Prometheus aggregates the fleet.
 *
 * The hot path (count(), called by the pipeline's countBatch() per record,
 * with no event built) only bumps plain numbers in series indexed by small
 * integers; they are moved into prom-client's counter when a scrape collects
 * it (collect()), so a reset costs an array index and no allocation, where
 * prom-client's own labelled inc() builds a label hash string and validates
 * labels per call.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, isIPv4, type AddressInfo } from 'node:net';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { codeInfo } from '../codes.js';
import { KIND } from '../decode.js';
import { ownerGroupOf, type OwnerGroup } from '../enrich/container.js';
import { KINDS, type Kind, type ResetEvent, type TraceCounters } from '../event.js';
import { KIND_NUMBER } from '../kernel/names.js';
import type { ResetCounter } from '../pipeline.js';
import { RstraceError } from '../errors.js';
import { KernelCheckMetrics } from '../completeness/metrics.js';

export const DEFAULT_LISTEN = '127.0.0.1:9477';
export const DEFAULT_MAX_COMMS = 100;
/** comm label of a reset that no process owns (a RST for a segment that matched no socket) */
export const COMM_KERNEL = 'kernel';
/** comm label of every process name past the --max-comms limit */
export const COMM_OTHER = 'other';
export const DEFAULT_MAX_CONTAINERS = 100;
/** container or unit label of every group past the --max-containers limit */
export const GROUP_OTHER = 'other';
const OTHER_CONTAINER: OwnerGroup = { key: 'c:', container: GROUP_OTHER, unit: null };
const OTHER_UNIT: OwnerGroup = { key: 'u:', container: null, unit: GROUP_OTHER };

export interface MetricsSinkOptions {
  /** distinct process names kept as `comm` label values; further ones count as "other" (default 100) */
  maxComms?: number;
  /** distinct containers and units (together) kept as `container`/`unit` label values; further ones count as "other" (default 100) */
  maxContainers?: number;
  /** one line, without newline, for warnings (default: stderr) */
  warn?: (line: string) => void;
  /** prom-client's process and Node.js runtime metrics (default true) */
  processMetrics?: boolean;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** One labelled series of rstrace_resets_total; `pending` is what the next scrape adds. */
interface Series {
  readonly labels: { kind: Kind; code: string; code_key: string; comm: string; container: string; unit: string };
  pending: number;
}

/** The series of one (comm, group) pair: its fixed labels, and the series indexed by slotOf(code, kind). */
interface SeriesBySlot {
  readonly labels: { comm: string; container: string; unit: string };
  readonly slots: (Series | undefined)[];
}

/** One comm value's series, by owner group key ('' for none). */
type SeriesByGroup = Map<string, SeriesBySlot>;


/** (code, kind) in one small integer: an array index, no key string. Unknown kinds count as sent, as events show them. */
function slotOf(code: number, kind: number): number {
  return code * 4 + (kind === KIND.RECEIVED ? 1 : kind === KIND.ABORT ? 2 : kind === KIND.IGNORED ? 3 : 0);
}

export class MetricsSink implements ResetCounter {
  readonly registry = new Registry();
  readonly kernelCheck = new KernelCheckMetrics(this.registry);
  private readonly maxComms: number;
  private readonly maxContainers: number;
  private readonly warn: (line: string) => void;
  private readonly resets: Counter<'kind' | 'code' | 'code_key' | 'comm' | 'container' | 'unit'>;
  private readonly lost: Counter;
  private readonly filtered: Counter;
  private readonly delivered: Counter;
  /** per owner (null: no owner), its series by group, then by slotOf(code, kind) */
  private readonly seriesByComm = new Map<string | null, SeriesByGroup>();
  private readonly otherSeries: SeriesByGroup = new Map();
  /** a storm repeats one owner: its series, without the Map lookups */
  private lastComm: string | null | undefined = undefined;
  private lastGroup: OwnerGroup | null | undefined = undefined;
  private lastByGroup: SeriesByGroup = new Map();
  private lastSeries: SeriesBySlot = { labels: { comm: '', container: '', unit: '' }, slots: [] };
  /** real process names admitted as label values so far (at most maxComms) */
  private admitted = 0;
  private foldWarned = false;
  /** container and unit keys admitted as label values (at most maxContainers) */
  private readonly admittedGroups = new Set<string>();
  private groupFoldWarned = false;
  /** the tracer's counters as last seen: they only grow, so the metrics get deltas */
  private seen: TraceCounters = { lost: 0, filtered: 0, delivered: 0 };
  private server: Server | null = null;

  constructor(opts: MetricsSinkOptions = {}) {
    const maxComms = opts.maxComms ?? DEFAULT_MAX_COMMS;
    if (!Number.isSafeInteger(maxComms) || maxComms < 0) {
      throw new RstraceError(`--max-comms: '${maxComms}' is not valid`, 'give a whole number of 0 or more, e.g. --max-comms 100', 2);
    }
    this.maxComms = maxComms;
    const maxContainers = opts.maxContainers ?? DEFAULT_MAX_CONTAINERS;
    if (!Number.isSafeInteger(maxContainers) || maxContainers < 0) {
      throw new RstraceError(`--max-containers: '${maxContainers}' is not valid`, 'give a whole number of 0 or more, e.g. --max-containers 100', 2);
    }
    this.maxContainers = maxContainers;
    this.warn = opts.warn ?? ((line) => process.stderr.write(line + '\n'));

    const flushResets = (): void => {
      for (const byGroup of this.seriesByComm.values()) for (const bySlot of byGroup.values()) this.flush(bySlot);
      for (const bySlot of this.otherSeries.values()) this.flush(bySlot);
    };
    this.resets = new Counter({
      name: 'rstrace_resets_total',
      help: 'TCP resets on this host by kind (sent, received, abort), reset code and its key (rstrace codes), '
        + `and owning process name (comm; "${COMM_KERNEL}" when no process owns the socket, `
        + `"${COMM_OTHER}" past the first ${maxComms} names), and the owner's container id or else its systemd unit `
        + `(from its cgroup; "" when none, "${GROUP_OTHER}" past the first ${maxContainers} containers and units)`,
      labelNames: ['kind', 'code', 'code_key', 'comm', 'container', 'unit'] as const,
      registers: [this.registry],
      collect: flushResets,
    });
    this.lost = new Counter({
      name: 'rstrace_lost_events_total',
      help: 'trace records the kernel could not hand to rstrace (ring buffer full): resets may be missing from rstrace_resets_total',
      registers: [this.registry],
    });
    this.filtered = new Counter({
      name: 'rstrace_filtered_events_total',
      help: 'trace records dropped by the filters rstrace was started with (--pid, --port, ...), in the kernel or in user space',
      registers: [this.registry],
    });
    this.delivered = new Counter({
      name: 'rstrace_delivered_events_total',
      help: 'trace records that reached rstrace from the kernel',
      registers: [this.registry],
    });
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts a batch of events. */
  writeBatch(events: readonly ResetEvent[]): void {
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      this.count(KIND_NUMBER[e.kind], e.code, e.comm, ownerGroupOf(e.cgroup));
    }
  }

  /**
   * Counts one reset (the pipeline's countBatch() calls this per record):
   * an array index and a number increment; prom-client hears of it when a
   * scrape collects.
   */
  count(kind: number, code: number, comm: string | null, group: OwnerGroup | null = null): void {
    let bySlot = this.lastSeries;
    if (comm !== this.lastComm || group !== this.lastGroup) {
      if (comm !== this.lastComm) {
        this.lastByGroup = this.seriesByComm.get(comm) ?? this.admit(comm);
        this.lastComm = comm;
      }
      const g = this.admitGroup(group);
      bySlot = this.lastByGroup.get(g === null ? '' : g.key) ?? this.newGroup(this.lastByGroup, g);
      this.lastGroup = group;
      this.lastSeries = bySlot;
    }
    const slot = slotOf(code, kind);
    const series = bySlot.slots[slot] ?? this.newSeries(bySlot, slot, code);
    series.pending++;
  }

  /**
   * The tracer's counters, as totals since it started. They only ever grow;
   * the metrics take the growth since the last call. A total lower than the
   * last one (a new tracer behind the same sink) becomes the new baseline
   * rather than a decrease.
   */
  updateCounters(c: TraceCounters): void {
    this.seen.lost = this.advance(this.lost, this.seen.lost, c.lost);
    this.seen.filtered = this.advance(this.filtered, this.seen.filtered, c.filtered);
    this.seen.delivered = this.advance(this.delivered, this.seen.delivered, c.delivered);
  }

  /** The exposition text, as a scrape of /metrics gets it. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Serves GET /metrics on `addr` (HOST:PORT, [IPV6]:PORT, or :PORT for every
   * address) and resolves with the address actually bound (port 0 picks one).
   */
  async listen(addr: string): Promise<ListenAddress> {
    if (this.server) throw new RstraceError('the metrics endpoint is already listening', 'this is a bug in rstrace; please report it', 1);
    const want = parseListenAddress(addr);
    const server = createServer((req, res) => void this.handle(req, res));
    // Prometheus keeps its scrape connection alive; an idle one must not hold close().
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, addr)));
      server.listen({ host: want.host, port: want.port, exclusive: true }, () => resolve());
    });
    server.on('error', (err) => this.warn(`rstrace: warning: metrics endpoint: ${err.message}`));
    this.server = server;
    const a = server.address() as AddressInfo;
    const bound = { host: a.address, port: a.port };
    if (!isLoopback(bound.host)) {
      this.warn(`rstrace: warning: metrics listen on ${formatHostPort(bound)} is reachable from other hosts; resets carry process names`);
    }
    return bound;
  }

  /** Stops serving; idempotent. Counters stay readable through metrics(). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/') return send(res, 404, 'text/plain; charset=utf-8', 'not found: metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
    }
    if (path === '/') {
      return send(res, 200, 'text/html; charset=utf-8',
        '<!doctype html><title>rstrace</title><p>rstrace: TCP resets on this host. Metrics: <a href="/metrics">/metrics</a></p>\n', req.method === 'HEAD');
    }
    try {
      send(res, 200, this.registry.contentType, await this.registry.metrics(), req.method === 'HEAD');
    } catch (err) {
      send(res, 500, 'text/plain; charset=utf-8', `collecting metrics failed: ${(err as Error).message}\n`);
    }
  }

  /** The series map of a process name seen for the first time: its own, or "other" past the limit. */
  private admit(comm: string | null): SeriesByGroup {
    if (comm !== null && this.admitted >= this.maxComms) {
      if (!this.foldWarned) {
        this.foldWarned = true;
        this.warn(`rstrace: warning: more than ${this.maxComms} process names own resets; further ones are counted as comm="${COMM_OTHER}" (raise --max-comms to keep more)`);
      }
      return this.otherSeries;
    }
    if (comm !== null) this.admitted++;
    const byGroup: SeriesByGroup = new Map();
    this.seriesByComm.set(comm, byGroup);
    return byGroup;
  }

  /** A container or unit: itself when admitted (or room is left), else the "other" of its kind. */
  private admitGroup(group: OwnerGroup | null): OwnerGroup | null {
    if (group === null || this.admittedGroups.has(group.key)) return group;
    if (this.admittedGroups.size < this.maxContainers) {
      this.admittedGroups.add(group.key);
      return group;
    }
    if (!this.groupFoldWarned) {
      this.groupFoldWarned = true;
      this.warn(`rstrace: warning: more than ${this.maxContainers} containers and units own resets; further ones are counted as container="${GROUP_OTHER}" or unit="${GROUP_OTHER}" (raise --max-containers to keep more)`);
    }
    return group.container !== null ? OTHER_CONTAINER : OTHER_UNIT;
  }

  /** The slots of one (comm, group) pair; the comm and group labels are fixed here, once. */
  private newGroup(byGroup: SeriesByGroup, group: OwnerGroup | null): SeriesBySlot {
    const comm = byGroup === this.otherSeries ? COMM_OTHER : (this.lastComm ?? COMM_KERNEL);
    const bySlot: SeriesBySlot = { labels: { comm, container: group?.container ?? '', unit: group?.unit ?? '' }, slots: [] };
    byGroup.set(group === null ? '' : group.key, bySlot);
    return bySlot;
  }

  private newSeries(bySlot: SeriesBySlot, slot: number, code: number): Series {
    const kind = KINDS[slot & 3];
    const series: Series = { labels: { kind, code: String(code), code_key: codeInfo(code)?.key ?? 'unknown', ...bySlot.labels }, pending: 0 };
    bySlot.slots[slot] = series;
    return series;
  }

  private flush(bySlot: SeriesBySlot): void {
    for (const s of bySlot.slots) {
      if (s !== undefined && s.pending > 0) {
        this.resets.inc(s.labels, s.pending);
        s.pending = 0;
      }
    }
  }

  private advance(counter: Counter, last: number, now: number): number {
    if (now > last) counter.inc(now - last);
    return now;
  }
}

/** HOST:PORT, [IPV6]:PORT or :PORT (every address) -> host (undefined: every address) and port. */
export function parseListenAddress(addr: string): { host: string | undefined; port: number } {
  const bad = (why: string): RstraceError => new RstraceError(`--listen: '${addr}' is not a listen address (${why})`,
    'give HOST:PORT, [IPV6]:PORT or :PORT, e.g. --listen 127.0.0.1:9477', 2);
  const m = /^(?:\[([^\]]*)\]|([^[\]:]*)):([^:]*)$/.exec(addr.trim());
  if (!m) throw bad(addr.includes(':') ? 'an IPv6 address goes in brackets: [::1]:9477' : 'no port');
  const [, v6, other, portText] = m;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad('the port must be a number from 0 to 65535');
  const port = Number(portText);
  if (v6 !== undefined) {
    if (isIP(v6) !== 6) throw bad(`'${v6}' is not an IPv6 address`);
    return { host: v6, port };
  }
  if (other === '') return { host: undefined, port };
  // A dotted quad must be an address; anything else must be a host name.
  if (/^[\d.]+$/.test(other) ? !isIPv4(other) : !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(other)) {
    throw bad(`'${other}' is not an IPv4 address or host name`);
  }
  return { host: other, port };
}

/** 127.0.0.0/8, ::1, and IPv4-mapped loopback. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^::ffff:/, '');
  return isIPv4(h) ? h.startsWith('127.') : h === '::1';
}

function formatHostPort(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function listenError(err: NodeJS.ErrnoException, addr: string): RstraceError {
  const where = `metrics listen on ${addr}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new RstraceError(`${where}: address already in use`,
        `stop what listens there (ss -ltnp shows it) or choose another port with --listen`, 1);
    case 'EACCES':
      return new RstraceError(`${where}: permission denied`, 'use a port above 1023 or run as root', 1);
    case 'EADDRNOTAVAIL':
      return new RstraceError(`${where}: no such address on this host`, 'give an address of this host (ip -br addr lists them), e.g. --listen 127.0.0.1:9477', 2);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new RstraceError(`${where}: host name not found`, 'give an IP address, e.g. --listen 127.0.0.1:9477', 2);
    default:
      return new RstraceError(`${where}: ${err.message}`, 'choose another address with --listen', 1);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(headOnly ? undefined : body);
}
