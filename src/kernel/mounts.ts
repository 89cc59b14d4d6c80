/** Mount points from /proc/self/mountinfo: cgroup2 for --cgroup paths, tracefs and cgroup2 for doctor. */
import { readFileSync } from 'node:fs';

/** Mount points of the given file system type, from /proc/self/mountinfo text. */
export function mountsOfType(mountinfo: string, fstype: string): string[] {
  const found: string[] = [];
  for (const line of mountinfo.split('\n')) {
    // "43 23 0:13 / /sys/kernel/tracing rw,relatime - tracefs nodev rw"
    const [left, right] = line.split(' - ');
    if (right?.split(' ')[0] === fstype) {
      const mountPoint = left.split(' ')[4];
      // mountinfo escapes space, tab, newline and backslash as octal
      if (mountPoint) found.push(mountPoint.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
    }
  }
  return found;
}

/** This process's mountinfo; empty when /proc is not readable. */
export function readMountinfo(): string {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}
