/**
 * Event filters shared by `trace`, `report`, `export` and `metrics`: one
 * value parser per option (commander runs them, through
 * src/commands/options.ts; a bad value is a usage error naming the option),
 * then matching events cheaply.
 */
import { posix } from 'node:path';
import { KINDS, type Kind, type ResetEvent } from './event.js';
import { parseCode } from './codes.js';
import { RstraceError } from './errors.js';
import { formatIsoMs, isoToMs } from './enrich/clock.js';
import { mountsOfType, readMountinfo } from './kernel/mounts.js';
import type { CgroupName } from './enrich/cgroup.js';
import { cgroupUnder, unitMatches, unitOf as unitOfPath } from './enrich/container.js';

export interface EventFilter {
  /** owning process id */
  pids?: number[];
  comms?: string[];
  /** local or remote port */
  ports?: number[];
  netns?: number[];
  /** cgroup ids (exact; in the kernel when it is the only one) */
  cgroups?: number[];
  /** cgroup v2 paths below the root: the cgroup or any below it */
  cgroupPaths?: string[];
  /** container id prefixes */
  containers?: string[];
  /** systemd units (NAME also matches NAME.service, NAME.scope) */
  units?: string[];
  codes?: number[];
  kinds?: Kind[];
  /** ms since the epoch, inclusive */
  since?: number;
  /** ms since the epoch, inclusive */
  until?: number;
}

const MAX_U32 = 0xffffffff;

/**
 * One value of each list option -> its typed value; a bad value is a usage
 * error (RstraceError, exit 2) naming the option. The commander parsers
 * (src/commands/options.ts) wrap these, so a bad value takes commander's error path.
 */
export const FILTER_VALUE = {
  pid: (v: string): number => integer('--pid', v, 0, MAX_U32, 'a process id, e.g. --pid 1234 or --pid 1234,5678'),
  comm: (v: string): string => v,
  port: (v: string): number => integer('--port', v, 0, 65535, 'a port number 0-65535, e.g. --port 443,8080'),
  netns: (v: string): number => integer('--netns', v, 1, MAX_U32, 'a network namespace inode, as `stat -Lc %i /proc/PID/ns/net` prints it'),
  cgroup: (v: string): number | string => parseCgroup(v),
  container: (v: string): string => {
    // `docker://ID` and `containerd://ID` as Kubernetes' containerID prints them
    const id = v.trim().replace(/^[a-z-]+:\/\//, '').toLowerCase();
    if (!/^[0-9a-f]{1,64}$/.test(id)) throw optionError('--container', v, 'a container id or its first hex digits, e.g. --container 3f2a9c');
    return id;
  },
  unit: (v: string): string => {
    if (v.includes('/')) throw optionError('--unit', v, 'a systemd unit name, e.g. --unit nginx.service or --unit nginx');
    return v;
  },
  code: (v: string): number => {
    const c = parseCode(v);
    if (!c) throw optionError('--code', v, 'a reset code number or key; `rstrace codes` lists them');
    return c.code;
  },
  kind: (v: string): Kind => {
    if (!(KINDS as readonly string[]).includes(v)) throw optionError('--kind', v, `one of ${KINDS.join(', ')}`);
    return v as Kind;
  },
} as const;

/** A list option's text: commas split, blanks dropped. */
export function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** --since after --until is a usage error. */
export function checkTimeRange(f: EventFilter): void {
  if (f.since !== undefined && f.until !== undefined && f.since > f.until) {
    throw new RstraceError(`--since ${formatIsoMs(f.since)} is after --until ${formatIsoMs(f.until)}`, 'swap them', 2);
  }
}

export function isEmptyFilter(f: EventFilter): boolean {
  return Object.values(f).every((v) => v === undefined);
}

/** true when `e` passes every condition of `f`; an empty filter passes everything. */
export function matchesFilter(e: ResetEvent, f: EventFilter): boolean {
  if (f.pids !== undefined && (e.pid === null || !f.pids.includes(e.pid))) return false;
  if (f.comms !== undefined && (e.comm === null || !f.comms.includes(e.comm))) return false;
  if (f.ports !== undefined && !f.ports.includes(e.lport) && !f.ports.includes(e.rport)) return false;
  if (f.netns !== undefined && (e.netns === null || !f.netns.includes(e.netns))) return false;
  if (!ownerCgroupMatches(f, e.cgroupId, e.cgroup, e.container, f.units === undefined ? null : unitOfEvent(e))) return false;
  if (f.codes !== undefined && !f.codes.includes(e.code)) return false;
  if (f.kinds !== undefined && !f.kinds.includes(e.kind)) return false;
  if (f.since !== undefined || f.until !== undefined) {
    const ms = eventTimeMs(e.time);
    if (Number.isNaN(ms)) return false;
    if (f.since !== undefined && ms < f.since) return false;
    if (f.until !== undefined && ms > f.until) return false;
  }
  return true;
}

/** The cgroup part of a filter (--cgroup, --container, --unit) on an owner's cgroup id and names. */
function ownerCgroupMatches(f: EventFilter, id: number | null, path: string | null, container: string | null, unit: string | null): boolean {
  // one --cgroup list: ids and paths alike, any of them
  if ((f.cgroups !== undefined || f.cgroupPaths !== undefined)
    && !(id !== null && f.cgroups?.includes(id)) && !f.cgroupPaths?.some((p) => cgroupUnder(path, p))) return false;
  if (f.containers !== undefined && (container === null || !f.containers.some((c) => container.startsWith(c)))) return false;
  if (f.units !== undefined && !f.units.some((u) => unitMatches(unit, u))) return false;
  return true;
}

/** At most this many cgroups are judged for the kernel (its map's size); the rest pass to user space. */
const KERNEL_CGROUP_VERDICTS = 65536;

/**
 * The kernel's share of the cgroup filters (--cgroup, --container, --unit):
 * for every cgroup known now, whether it matches, as the flat
 * [id, matches, ...] list the tracer takes; empty when there is no such filter.
 * The kernel drops the records of known cgroups that do not match (and of
 * resets with no socket, which have no cgroup); cgroups made later pass to
 * user space, which judges them by name.
 */
export function kernelCgroupVerdicts(f: EventFilter, known: Iterable<readonly [number, CgroupName]>): (number | boolean)[] {
  if (f.cgroups === undefined && f.cgroupPaths === undefined && f.containers === undefined && f.units === undefined) return [];
  const out: (number | boolean)[] = [];
  for (const [id, name] of known) {
    if (out.length >= 2 * KERNEL_CGROUP_VERDICTS) break;
    out.push(id, ownerCgroupMatches(f, id, name.path, name.container, name.unit));
  }
  return out;
}

/** ms since the epoch of an event's ISO time (sub-ms digits dropped); NaN if unreadable. */
export const eventTimeMs = isoToMs;

/**
 * `--cgroup`: a number is a cgroup id (the inode of its cgroup2 directory),
 * matched exactly; anything else is a cgroup v2 path, as /proc/PID/cgroup
 * prints it (/system.slice/nginx.service) or under a cgroup2 mount
 * (/sys/fs/cgroup/system.slice), that matches itself and everything below.
 * Nothing is looked up: a trace file read elsewhere names other hosts' cgroups.
 */
export function parseCgroup(pathOrId: string): number | string {
  const text = pathOrId.trim();
  if (/^\d+$/.test(text)) {
    const id = Number(text);
    if (!Number.isSafeInteger(id) || id === 0) throw optionError('--cgroup', text, 'a cgroup id (the inode of its cgroup2 directory) or a cgroup path');
    return id;
  }
  const expected = 'a cgroup v2 path as /proc/PID/cgroup shows it (e.g. /system.slice/nginx.service) or a numeric cgroup id';
  if (text === '' || text.includes('\0') || text.split('/').includes('..')) throw optionError('--cgroup', text, expected);
  let path = posix.normalize(text.startsWith('/') ? text : `/${text}`);
  for (const m of cgroup2Mounts()) {
    if (path === m || path.startsWith(`${m}/`)) { path = path.slice(m.length) || '/'; break; }
  }
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** Mount points of cgroup2 file systems, deepest first, and the usual places. */
function cgroup2Mounts(): string[] {
  const found = mountsOfType(readMountinfo(), 'cgroup2');
  return [...new Set([...found, '/sys/fs/cgroup/unified', '/sys/fs/cgroup'])].sort((a, b) => b.length - a.length);
}

/** The event's unit, from its cgroup path (the last .service/.scope component); one memo for a run of events. */
let unitPath: string | null = null;
let unitName: string | null = null;
function unitOfEvent(e: ResetEvent): string | null {
  if (e.cgroup !== unitPath) { unitPath = e.cgroup; unitName = unitOfPath(e.cgroup); }
  return unitName;
}

/** `--since`/`--until`: ISO time ("2026-11-26T07:00:00Z", "2026-11-26 07:00"), relative ("10m" = 10 minutes ago), or "now". */
export function parseWhen(option: string, text: string, now: number = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(t);
  if (rel) {
    const unit = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[rel[2] as 'ms' | 's' | 'm' | 'h' | 'd' | 'w'];
    return now - Number(rel[1]) * unit;
  }
  // A date and time without a zone is UTC, like every time rstrace prints.
  let iso = t.replace(' ', 'T');
  if (/^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?)?$/.test(iso)) iso += iso.includes('T') ? 'Z' : 'T00:00:00Z';
  const ms = /^\d{4}-\d\d-\d\d/.test(iso) ? eventTimeMs(iso) : NaN;
  if (Number.isNaN(ms)) {
    throw optionError(option, text, 'an ISO time (2026-11-26T07:00:00Z, UTC when no zone is given) or a duration ago (30s, 10m, 2h, 1d)');
  }
  return ms;
}

function integer(option: string, text: string, min: number, max: number, expected: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw optionError(option, text, expected);
  return n;
}

function optionError(option: string, value: string, expected: string): RstraceError {
  return new RstraceError(`${option}: '${value}' is not valid`, `give ${expected}`, 2);
}
