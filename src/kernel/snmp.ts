/**
 * The kernel's own count of RSTs its TCP stack sent, per network namespace:
 * `TcpOutRsts` in /proc/net/snmp (the `Tcp:` header line names the columns,
 * the next `Tcp:` line holds the values).
 */
import { addon } from './addon.js';

/** TcpOutRsts from the text of /proc/net/snmp; null when the text has no such column. */
export function parseOutRsts(text: string): number | null {
  const lines = text.split('\n').filter((l) => l.startsWith('Tcp:'));
  if (lines.length < 2) return null;
  const names = lines[0].trim().split(/\s+/);
  const values = lines[1].trim().split(/\s+/);
  const i = names.indexOf('OutRsts');
  if (i < 1 || i >= values.length) return null;
  const n = Number(values[i]);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

export interface OutRstsReading {
  /** the namespace's inode, from the very descriptor the reading entered */
  netns: number;
  outRsts: number;
}

/**
 * TcpOutRsts inside the namespace named by `nsPath` (/proc/PID/ns/net,
 * /run/netns/NAME). The addon enters it with setns(2) on a thread of its
 * own: /proc/PID/net/snmp would need a live process in the namespace and
 * race with its exit and pid reuse; /run/netns entries often have none.
 * Null when the namespace cannot be entered (gone, no privilege).
 */
export function readOutRsts(nsPath: string): OutRstsReading | null {
  let r: { ino: number; text: string };
  try {
    r = addon().netnsFile(nsPath, 'snmp');
  } catch {
    return null;
  }
  const outRsts = parseOutRsts(r.text);
  return outRsts === null ? null : { netns: r.ino, outRsts };
}
