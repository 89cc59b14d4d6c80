/**
 * The systemd unit a cgroup v2 path belongs to: its deepest `.service` or
 * `.scope` component (`/system.slice/nginx.service` -> `nginx.service`,
 * `/user.slice/user-1000.slice/session-2.scope` -> `session-2.scope`). A path
 * with neither (the root, a plain directory, a slice alone) has no unit.
 */
export function unitOf(cgroup: string | null): string | null {
  if (cgroup === null) return null;
  const parts = cgroup.split('/');
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i];
    if (p.endsWith('.service') || p.endsWith('.scope')) return p;
  }
  return null;
}
