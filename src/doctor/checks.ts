/**
 * `rstrace doctor`, second half: host facts -> one check per line, each with
 * what to do about it. Pure: facts in, report out.
 */
import { FIREWALL_PROGRAM, OPTIONAL_PROGRAMS } from '../kernel/support.js';
import { errnoName } from '../kernel/names.js';
import { canLoadTracing, hasCap, privilegesRemedyFor, SEE_PRIVILEGES, type CapName } from '../kernel/privileges.js';
import { oneLine } from '../text/inert.js';
import { BTF_PATH, type AddonFacts, type HostFacts } from './facts.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** what to do about it; empty when the status is ok */
  remedy: string;
}

export interface DoctorReport {
  /** true when `rstrace trace` can work here: no check failed */
  ok: boolean;
  checks: Check[];
}

/** The BPF programs in bpf/rstrace.bpf.c. Any program not listed is treated as required. */
export const HOOKS: { name: string; section: string; required: boolean }[] = [
  { name: 'handle_send_reset', section: 'tp_btf/tcp_send_reset' },
  { name: 'handle_receive_reset', section: 'tp_btf/tcp_receive_reset' },
  { name: 'handle_set_state', section: 'tp_btf/inet_sock_set_state' },
  { name: 'handle_send_length', section: 'tp_btf/sock_send_length' },
  { name: 'handle_recv_length', section: 'tp_btf/sock_recv_length' },
  { name: 'handle_net_dev_queue', section: 'tp_btf/net_dev_queue' },
  { name: 'handle_kfree_skb', section: 'tp_btf/kfree_skb' },
].map((h) => ({ ...h, required: !(h.name in OPTIONAL_PROGRAMS) }));

/** What a trace lacks without each optional program. */
const WITHOUT: Readonly<Record<string, string>> = {
  handle_send_length: 'owners of accepted sockets are learned from /proc instead',
  handle_recv_length: 'owners of accepted sockets are learned from /proc instead',
  handle_net_dev_queue: 'firewall-made RSTs (code 4) are not seen, even with trace --firewall',
  handle_kfree_skb: 'ignored RSTs (code 19) and RSTs that end a TIME_WAIT stand-in are not seen',
};
const without = (name: string): string => WITHOUT[name] ?? 'a part of the events is missing';

/** "6.18.44-fc-v595" -> [6, 18]; null when it does not look like a Linux release. */
export function kernelVersion(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function atLeast(v: [number, number] | null, major: number, minor: number): boolean {
  return v !== null && (v[0] > major || (v[0] === major && v[1] >= minor));
}

function kernelCheck(f: HostFacts, addonOk: boolean): Check {
  const v = kernelVersion(f.release);
  const linux = v ? `Linux ${v[0]}.${v[1]}` : 'not a Linux version number';
  const reasons = addonOk ? (f.addon as AddonFacts).resetReasons : null;
  if (reasons !== null) {
    return { name: 'kernel', status: 'ok', detail: `${f.release} (${linux}): enum sk_rst_reason present (${reasons} values), events carry the kernel's own reason`, remedy: '' };
  }
  // No addon, or no BTF: the version is all there is to go on.
  if (!addonOk || !f.btfPresent) {
    const likely = atLeast(v, 6, 10) ? 'sk_rst_reason expected (6.10 or later)' : 'older than 6.10: reason will be null, codes inferred from TCP state and flags';
    return { name: 'kernel', status: atLeast(v, 6, 10) ? 'ok' : 'warn', detail: `${f.release} (${linux}): ${likely}; not confirmed from BTF`, remedy: atLeast(v, 6, 10) ? '' : 'upgrade to Linux 6.10 or later for the kernel\'s own reset reasons' };
  }
  return {
    name: 'kernel',
    status: 'warn',
    detail: `${f.release} (${linux}): no enum sk_rst_reason in BTF (added in 6.10): reason is null and codes are inferred from TCP state and flags`,
    remedy: "upgrade to Linux 6.10 or later for the kernel's own reset reasons",
  };
}

function btfCheck(f: HostFacts): Check {
  return f.btfPresent
    ? { name: 'BTF', status: 'ok', detail: `${BTF_PATH} present`, remedy: '' }
    : { name: 'BTF', status: 'fail', detail: `${BTF_PATH} missing: this kernel was built without CONFIG_DEBUG_INFO_BTF`, remedy: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distribution kernel since 2020 is)' };
}

function privilegesCheck(f: HostFacts): Check {
  const who = f.euid === 0 ? 'root (uid 0)' : f.euid === null ? 'unknown user' : `uid ${f.euid}`;
  if (f.capEff === null) {
    return { name: 'privileges', status: 'warn', detail: `${who}; capabilities unknown (/proc/self/status has no CapEff)`, remedy: 'the hook checks below tell whether loading works' };
  }
  const relevant: CapName[] = ['BPF', 'PERFMON', 'NET_ADMIN', 'SYS_ADMIN'];
  const held = relevant.filter((c) => hasCap(f.capEff, c)).map((c) => `CAP_${c}`);
  const caps = held.length ? `effective ${held.join(' ')}` : 'none of CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_ADMIN effective';
  if (!canLoadTracing(f.capEff)) {
    const missing = (['BPF', 'PERFMON'] as CapName[]).filter((c) => !hasCap(f.capEff, c)).map((c) => `CAP_${c}`);
    const dropped = f.euid === 0 ? ' (root whose capabilities were dropped: a container or setpriv/capsh?)' : '';
    return { name: 'privileges', status: 'fail', detail: `${who}, ${caps}${dropped}: missing ${missing.join(' and ')}, so BPF programs cannot be loaded`, remedy: privilegesRemedyFor(f.execPath) };
  }
  // Sockets that predate the trace are attributed from /proc/PID/fd, which
  // for other users' processes needs both of these.
  const procCaps: CapName[] = ['SYS_PTRACE', 'DAC_READ_SEARCH'];
  const procMissing = procCaps.filter((c) => !hasCap(f.capEff, c)).map((c) => `CAP_${c}`);
  if (procMissing.length) {
    return {
      name: 'privileges',
      status: 'warn',
      detail: `${who}, ${caps}: enough to trace; without ${procMissing.join(' and ')}, sockets opened before the trace by other users' processes stay unattributed (/proc/PID/fd is not readable)`,
      remedy: 'also grant cap_sys_ptrace,cap_dac_read_search, or run as root',
    };
  }
  return { name: 'privileges', status: 'ok', detail: `${who}, ${caps}`, remedy: '' };
}

function bpfSyscallCheck(f: HostFacts): Check {
  const notes: string[] = [];
  const u = f.unprivilegedBpfDisabled;
  if (u === null) notes.push('unprivileged_bpf_disabled unreadable');
  else notes.push(`unprivileged_bpf_disabled=${u} (${u === 0 ? 'unprivileged users may call bpf()' : 'only privileged users may call bpf()'}; rstrace needs privileges either way)`);
  if (f.seccomp === 2) notes.push('a seccomp filter is active (container runtimes\' default profiles refuse bpf())');
  const note = notes.join('; ');
  if ('error' in f.addon) return { name: 'bpf syscall', status: 'fail', detail: `not tried: ${f.addon.error}; ${note}`, remedy: f.addon.remedy };
  const probes = f.addon.probes;
  if ('error' in probes) return { name: 'bpf syscall', status: 'fail', detail: `the hook probe failed: ${probes.error}; ${note}`, remedy: canLoadTracing(f.capEff) ? "run 'rstrace doctor' again; if it persists, report this line" : SEE_PRIVILEGES };
  const loaded = probes.filter((p) => p.ok || (p.error ?? '').startsWith('attach'));
  if (loaded.length) return { name: 'bpf syscall', status: 'ok', detail: `programs load; ${note}`, remedy: '' };
  const first = probes[0];
  const why = first ? `${first.error ?? 'failed'} (${errnoName(first.errno ?? 0)})` : 'no programs in the BPF object';
  return { name: 'bpf syscall', status: 'fail', detail: `loading is refused: ${why}; ${note}`, remedy: refusedRemedy(f, first?.errno ?? 0) };
}

/** What to do when the kernel refused to load or attach, by errno. */
function refusedRemedy(f: HostFacts, errno: number): string {
  if (errno === 1 || errno === 13) {
    if (!canLoadTracing(f.capEff)) return SEE_PRIVILEGES;
    if (errno === 13) return "the verifier or a security module refused it: report this line with 'uname -r'";
    return 'the capabilities are there but the kernel refused: run on the host rather than in a container or user namespace, and check lockdown, SELinux/AppArmor and seccomp policy';
  }
  if (errno === 2 || errno === 3) return 'this kernel lacks the tracepoint: upgrade the kernel';
  if (errno === 22 || errno === 95 || errno === 524) return 'this kernel cannot attach tp_btf programs here (they need Linux 5.5 or later with BTF): upgrade the kernel';
  if (errno === 12 || errno === 7) return 'raise the locked-memory limit (ulimit -l unlimited, or LimitMEMLOCK=infinity in a systemd unit)';
  return "report this line with 'uname -r'";
}

function hookChecks(f: HostFacts): Check[] {
  if ('error' in f.addon || 'error' in f.addon.probes) {
    const why = 'error' in f.addon ? f.addon.error : (f.addon.probes as { error: string }).error;
    const remedy = 'error' in f.addon ? f.addon.remedy : canLoadTracing(f.capEff) ? "report this line with 'uname -r'" : SEE_PRIVILEGES;
    return HOOKS.map((h) => ({
      name: `hook ${h.name}`,
      status: h.required ? 'fail' : 'warn',
      detail: `${h.section}: not probed: ${why}`,
      remedy: h.required ? remedy : `${remedy}; optional: ${without(h.name)}`,
    }));
  }
  return f.addon.probes.map((p) => {
    const known = HOOKS.find((h) => h.name === p.name);
    const required = known ? known.required : true;
    const section = p.section || known?.section || '?';
    const role = required ? 'required' : p.name === FIREWALL_PROGRAM ? 'optional, attached by trace --firewall only: it runs for every packet sent' : 'optional';
    if (p.ok) return { name: `hook ${p.name}`, status: 'ok', detail: `${section} loads and attaches (${role})`, remedy: '' };
    const errno = p.errno ?? 0;
    const trivial = /Couldn't load trivial BPF program/.test(p.details ?? '');
    const hint = trivial && canLoadTracing(f.capEff) ? ': the kernel refused even a trivial program' : '';
    const detail = `${section} (${role}): ${oneLine(p.error ?? 'failed')} (${errnoName(errno)})${hint}`;
    const remedy = refusedRemedy(f, errno);
    return required
      ? { name: `hook ${p.name}`, status: 'fail', detail, remedy }
      : { name: `hook ${p.name}`, status: 'warn', detail: `${detail}; ${without(p.name)}`, remedy: `not needed to trace; to have it: ${remedy}` };
  });
}

function fentryCheck(f: HostFacts): Check {
  const parts = ['not needed: rstrace attaches tp_btf tracepoints only'];
  if (f.lockdown === null) parts.push('lockdown mode unknown (securityfs not mounted and no kernel config)');
  else if (f.lockdown.mode === 'none') parts.push(`lockdown none (${f.lockdown.source})`);
  else if (f.lockdown.mode === 'integrity') parts.push(`lockdown integrity (${f.lockdown.source}): fentry/fexit may be refused (hardened kernels refuse ftrace-based attachment), so bpftrace kfunc scripts can fail`);
  else parts.push(`lockdown confidentiality (${f.lockdown.source}): fentry/fexit, kprobes and reading kernel memory from BPF are refused (the hook lines show whether rstrace's programs still load)`);
  if (f.kprobesConfigured === false) parts.push('kprobes unavailable (CONFIG_KPROBES is not set)');
  return { name: 'fentry', status: 'ok', detail: parts.join('; '), remedy: '' };
}

function tracefsCheck(f: HostFacts): Check {
  const usual = f.tracefsMounts.filter((m) => m === '/sys/kernel/tracing' || m === '/sys/kernel/debug/tracing');
  const mounts = usual.length ? usual : f.tracefsMounts;
  if (mounts.length) return { name: 'tracefs', status: 'ok', detail: `mounted at ${mounts.join(', ')} (rstrace does not need it: tp_btf attaches through BTF)`, remedy: '' };
  return {
    name: 'tracefs',
    status: 'warn',
    detail: 'not mounted; rstrace does not need it (tp_btf attaches through BTF), bpftrace and perf do',
    remedy: 'only for bpftrace/perf: mount -t tracefs nodev /sys/kernel/tracing',
  };
}

function libbpfCheck(f: HostFacts): Check {
  if ('error' in f.addon) return { name: 'libbpf', status: 'fail', detail: f.addon.error, remedy: f.addon.remedy };
  return { name: 'libbpf', status: 'ok', detail: `${f.addon.libbpf} (the system libbpf the addon links)`, remedy: '' };
}

function memlockCheck(f: HostFacts): Check {
  const v = kernelVersion(f.release);
  const limit = f.memlockSoft === null ? 'unknown' : f.memlockSoft === Infinity ? 'unlimited' : formatBytes(f.memlockSoft);
  if (atLeast(v, 5, 11)) {
    return { name: 'memlock', status: 'ok', detail: `${limit}; does not matter: Linux 5.11 and later charge BPF memory to the memory cgroup`, remedy: '' };
  }
  if (f.memlockSoft === Infinity || hasCap(f.capEff, 'SYS_RESOURCE')) {
    return { name: 'memlock', status: 'ok', detail: `${limit}${f.memlockSoft === Infinity ? '' : '; libbpf raises it (CAP_SYS_RESOURCE held)'}: kernels before 5.11 count BPF maps against it`, remedy: '' };
  }
  return {
    name: 'memlock',
    status: 'warn',
    detail: `${limit}: kernels before 5.11 count BPF maps against it and rstrace cannot raise it without CAP_SYS_RESOURCE`,
    remedy: 'ulimit -l unlimited before starting rstrace (LimitMEMLOCK=infinity in a systemd unit)',
  };
}

function cgroupCheck(f: HostFacts): Check {
  if (f.cgroup2Mounts.length) {
    return { name: 'cgroup v2', status: 'ok', detail: `cgroup2 mounted at ${f.cgroup2Mounts.join(', ')} (cgroup ids and --cgroup PATH resolve there)`, remedy: '' };
  }
  return {
    name: 'cgroup v2',
    status: 'warn',
    detail: 'no cgroup2 mount: cgroup ids are still recorded, but --cgroup takes only a numeric id',
    remedy: 'mount -t cgroup2 none /sys/fs/cgroup/unified (or boot with systemd.unified_cgroup_hierarchy=1)',
  };
}

function formatBytes(n: number): string {
  if (n >= 1 << 30 && n % (1 << 30) === 0) return `${n / (1 << 30)} GiB`;
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}

/** The checks, in the order a user reads them. Pure: facts in, report out. */
export function diagnose(f: HostFacts): DoctorReport {
  const addonOk = !('error' in f.addon);
  const checks = [
    kernelCheck(f, addonOk),
    btfCheck(f),
    privilegesCheck(f),
    bpfSyscallCheck(f),
    ...hookChecks(f),
    fentryCheck(f),
    tracefsCheck(f),
    libbpfCheck(f),
    memlockCheck(f),
    cgroupCheck(f),
  ].map((c) => ({ ...c, detail: oneLine(c.detail), remedy: oneLine(c.remedy) }));
  // Only BTF, privileges and the required hooks (plus what they depend on:
  // the addon, bpf()) can fail, so "nothing failed" is "trace can work".
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}
