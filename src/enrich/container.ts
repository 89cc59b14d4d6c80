/**
 * What a cgroup v2 path says about its owner: the container id when a
 * runtime made the cgroup, and the systemd unit. Pure string work on paths as
 * /proc/PID/cgroup prints them; the runtimes' shapes:
 *
 *   docker (systemd driver)   /system.slice/docker-<64 hex>.scope
 *   docker (cgroupfs driver)  /docker/<64 hex>
 *   containerd CRI            /kubepods.slice/.../kubepods-besteffort-pod<uid>.slice/cri-containerd-<64 hex>.scope
 *   CRI-O                     /kubepods.slice/.../crio-<64 hex>.scope   (crio-conmon-<id>.scope is its monitor, not the container)
 *   podman                    /machine.slice/libpod-<64 hex>.scope[/container], /libpod_parent/libpod-<64 hex>
 *   kubelet cgroupfs driver   /kubepods/burstable/pod<uid>/<64 hex>
 *
 * The innermost container wins (kind: a cri-containerd scope inside a docker one).
 */

/** The owner's group for metrics: a container, else a systemd unit; one object per distinct group. */
export interface OwnerGroup {
  /** `c:<id>` or `u:<unit>`: one string per group */
  readonly key: string;
  readonly container: string | null;
  readonly unit: string | null;
}

const SCOPED = /^(?:docker|cri-containerd|crio|libpod|containerd|nerdctl)-([0-9a-f]{64})\.scope$/;
const BARE = /^(?:libpod-)?([0-9a-f]{64})$/;
const UNIT = /\.(?:service|scope)$/;

/** The container id the path names (64 hex digits), or null. */
export function containerOf(path: string | null): string | null {
  if (path === null) return null;
  const parts = path.split('/');
  for (let i = parts.length - 1; i >= 0; i--) {
    const m = SCOPED.exec(parts[i]) ?? BARE.exec(parts[i]);
    if (m) return m[1];
  }
  return null;
}

/** The systemd unit: the last `.service` or `.scope` component of the path (a service's sub-cgroups belong to it), or null. */
export function unitOf(path: string | null): string | null {
  if (path === null) return null;
  const parts = path.split('/');
  for (let i = parts.length - 1; i >= 0; i--) if (UNIT.test(parts[i])) return parts[i];
  return null;
}

/**
 * `--unit NAME`: NAME as given matches the unit exactly; a NAME without a
 * unit suffix also matches NAME.service and NAME.scope (`--unit nginx`).
 */
export function unitMatches(unit: string | null, wanted: string): boolean {
  if (unit === null) return false;
  if (unit === wanted) return true;
  return !UNIT.test(wanted) && (unit === `${wanted}.service` || unit === `${wanted}.scope`);
}

/** `--cgroup PATH`: PATH is the path itself or one of its ancestors, whole components only. */
export function cgroupUnder(path: string | null, prefix: string): boolean {
  if (path === null) return false;
  if (prefix === '/') return true;
  return path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === 47 /* / */);
}

const groups = new Map<string, OwnerGroup | null>();
const MAX_GROUPS = 4096;

/**
 * The owner group of a path, memoized (the same object for the same path,
 * so that a counting sink can compare groups by identity).
 */
export function ownerGroupOf(path: string | null): OwnerGroup | null {
  if (path === null) return null;
  const known = groups.get(path);
  if (known !== undefined) return known;
  const container = containerOf(path);
  const unit = container === null ? unitOf(path) : null;
  const g = container !== null ? { key: `c:${container}`, container, unit: null }
    : unit !== null ? { key: `u:${unit}`, container: null, unit } : null;
  if (groups.size >= MAX_GROUPS) groups.clear();
  groups.set(path, g);
  return g;
}
