/**
 * The network namespaces rstrace can reach for the completeness check: the
 * host's (pid 1), its own, the named ones under /run/netns, and the one of
 * every process (/proc/PID/ns/net). Each is kept as a path to enter and the
 * inode that names it in events. Bounded: past MAX_NAMESPACES the rest are
 * left out and counted.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';

export const MAX_NAMESPACES = 256;

export interface ReachableNetns {
  netns: number;
  /** what to enter: /proc/1/ns/net, /run/netns/NAME, /proc/PID/ns/net */
  path: string;
  /** for people: `host`, `rstrace`, the /run/netns name, or `pid 123 (comm)` */
  name: string;
}

export interface NamespaceScan {
  found: ReachableNetns[];
  /** distinct namespaces left out past MAX_NAMESPACES */
  leftOut: number;
}

function inodeOf(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

function commOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** Named namespaces first (their names say most), then processes in pid order. */
export function reachableNamespaces(max = MAX_NAMESPACES, procRoot = '/proc', runNetns = '/run/netns'): NamespaceScan {
  const found: ReachableNetns[] = [];
  const seen = new Set<number>();
  let leftOut = 0;
  const add = (path: string, name: () => string, ino = inodeOf(path)): void => {
    if (ino === null || seen.has(ino)) return;
    seen.add(ino);
    if (found.length >= max) { leftOut++; return; }
    found.push({ netns: ino, path, name: name() });
  };
  add(`${procRoot}/1/ns/net`, () => 'host');
  add(`${procRoot}/self/ns/net`, () => 'rstrace');
  let names: string[] = [];
  try { names = readdirSync(runNetns).sort(); } catch { /* no named namespaces */ }
  for (const n of names) add(`${runNetns}/${n}`, () => n);
  const pids = readdirSync(procRoot).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(a) - Number(b));
  for (const pid of pids) add(`${procRoot}/${pid}/ns/net`, () => `pid ${pid} (${commOf(pid)})`);
  return { found, leftOut };
}

/** A path that still enters namespace `netns`: a process in it now, found by scanning /proc. */
export function findNamespace(netns: number, procRoot = '/proc'): string | null {
  for (const pid of readdirSync(procRoot)) {
    if (!/^\d+$/.test(pid)) continue;
    const path = `${procRoot}/${pid}/ns/net`;
    if (inodeOf(path) === netns) return path;
  }
  return null;
}
