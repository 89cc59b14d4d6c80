/**
 * The privileges a live trace needs, named once: `trace` says them when the
 * kernel refuses, `doctor` checks them, `--help` mentions them.
 */

/** Linux capability numbers (include/uapi/linux/capability.h). */
export const CAP = {
  DAC_READ_SEARCH: 2,
  NET_ADMIN: 12,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  SYS_RESOURCE: 24,
  PERFMON: 38,
  BPF: 39,
} as const;
export type CapName = keyof typeof CAP;

export function hasCap(capEff: bigint | null, cap: CapName): boolean {
  return capEff !== null && ((capEff >> BigInt(CAP[cap])) & 1n) === 1n;
}

/** Loading and attaching tracing programs: CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN for both. */
export function canLoadTracing(capEff: bigint | null): boolean {
  const admin = hasCap(capEff, 'SYS_ADMIN');
  return (admin || hasCap(capEff, 'BPF')) && (admin || hasCap(capEff, 'PERFMON'));
}

const GRANT = 'run as root or grant CAP_BPF and CAP_PERFMON';

/** What to do without them: the one remedy; `doctor` adds how to grant them to a service. */
export const PRIVILEGES_REMEDY = `${GRANT} (and CAP_NET_ADMIN)`;

/** The short form, for doctor's lines after its privileges line. */
export const SEE_PRIVILEGES = `${GRANT} (see privileges)`;

/** The remedy with the ways to grant them, naming the node binary that file capabilities must go on. */
export function privilegesRemedyFor(execPath: string): string {
  return `${PRIVILEGES_REMEDY}: AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_NET_ADMIN in a systemd unit, or setcap cap_bpf,cap_perfmon,cap_net_admin+ep on a copy of ${execPath} kept for rstrace (file capabilities on the bin/rstrace script are ignored)`;
}

/** The line for `--help` of the commands that attach. */
export const PRIVILEGES_HELP = "Needs root (or CAP_BPF + CAP_PERFMON) and a kernel with BTF; see 'rstrace doctor'.";
