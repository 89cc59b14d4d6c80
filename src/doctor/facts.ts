/**
 * `rstrace doctor`, first half: read the host (/proc, /sys, the addon's hook
 * probes) into `HostFacts`, once, without ever throwing; `checks.ts` turns
 * the facts into lines, so tests can play any host.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release as osRelease } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { addon, type HookProbe, type NativeError } from '../kernel/addon.js';
import { RstraceError } from '../errors.js';
import { errnoName } from '../kernel/names.js';
import { mountsOfType, readMountinfo } from '../kernel/mounts.js';
import { oneLine } from '../text/inert.js';

export const BTF_PATH = '/sys/kernel/btf/vmlinux';

export type LockdownMode = 'none' | 'integrity' | 'confidentiality';

/** Everything doctor looks at, read once. `null` means "could not be read". */
export interface HostFacts {
  release: string;
  btfPresent: boolean;
  euid: number | null;
  /** CapEff from /proc/self/status */
  capEff: bigint | null;
  /** /proc/self/status Seccomp: 0 none, 1 strict, 2 filter */
  seccomp: number | null;
  unprivilegedBpfDisabled: number | null;
  /** the addon loaded: its libbpf version, the BTF reset reasons, the hook probes */
  addon: AddonFacts | { error: string; remedy: string };
  lockdown: { mode: LockdownMode; source: string } | null;
  /** CONFIG_KPROBES from the kernel config, when the config is readable */
  kprobesConfigured: boolean | null;
  tracefsMounts: string[];
  cgroup2Mounts: string[];
  /** "Max locked memory" soft limit in bytes; Infinity for unlimited */
  memlockSoft: number | null;
  /** the node binary that runs rstrace: file capabilities go there, not on the script */
  execPath: string;
}

export interface AddonFacts {
  libbpf: string;
  /** number of values of enum sk_rst_reason; null when the kernel has none */
  resetReasons: number | null;
  probes: HookProbe[] | { error: string };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** A field of /proc/self/status, e.g. "CapEff". */
export function statusField(status: string, field: string): string | null {
  const m = new RegExp(`^${field}:\\s*(\\S+)`, 'm').exec(status);
  return m ? m[1] : null;
}

/** The soft "Max locked memory" limit from /proc/self/limits text, in bytes. */
export function memlockFromLimits(limits: string): number | null {
  const m = /^Max locked memory\s+(\S+)/m.exec(limits);
  if (!m) return null;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** "none [integrity] confidentiality" -> integrity */
export function parseLockdown(text: string): LockdownMode | null {
  const m = /\[(none|integrity|confidentiality)\]/.exec(text);
  return m ? (m[1] as LockdownMode) : null;
}

function kernelConfig(release: string): string | null {
  try {
    return gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    return readText(`/boot/config-${release}`);
  }
}

/**
 * The lockdown mode: from securityfs when it is mounted, otherwise what the
 * kernel command line or the build configuration forces.
 */
function lockdownFacts(config: string | null): HostFacts['lockdown'] {
  const live = readText('/sys/kernel/security/lockdown');
  if (live !== null) {
    const mode = parseLockdown(live);
    if (mode) return { mode, source: '/sys/kernel/security/lockdown' };
  }
  const cmdline = readText('/proc/cmdline') ?? '';
  const arg = /(?:^|\s)lockdown=(integrity|confidentiality|none)\b/.exec(cmdline);
  if (arg) return { mode: arg[1] as LockdownMode, source: 'lockdown= on the kernel command line; securityfs not mounted' };
  if (config !== null) {
    const forced = /^CONFIG_LOCK_DOWN_KERNEL_FORCE_(NONE|INTEGRITY|CONFIDENTIALITY)=y/m.exec(config);
    if (forced) {
      const mode = forced[1].toLowerCase() as LockdownMode;
      return { mode, source: `CONFIG_LOCK_DOWN_KERNEL_FORCE_${forced[1]}; securityfs not mounted` };
    }
    if (!/^CONFIG_SECURITY_LOCKDOWN_LSM=y/m.test(config)) return { mode: 'none', source: 'kernel built without CONFIG_SECURITY_LOCKDOWN_LSM' };
  }
  return null;
}

function addonFacts(): HostFacts['addon'] {
  let a: ReturnType<typeof addon>;
  try {
    a = addon();
  } catch (err) {
    if (err instanceof RstraceError) return { error: err.message, remedy: err.remedy };
    return { error: `the native addon did not load: ${oneLine(errorMessage(err))}`, remedy: "run 'make build' in the rstrace checkout" };
  }
  let libbpf = 'unknown';
  let resetReasons: number | null = null;
  try {
    libbpf = a.libbpfVersion();
    const values = a.btfEnum('sk_rst_reason');
    resetReasons = values && values.length ? values.length : null;
  } catch { /* reported through the checks that need them */ }
  let probes: AddonFacts['probes'];
  try {
    probes = a.probeHooks();
  } catch (err) {
    const e = err as NativeError;
    probes = { error: oneLine(errorMessage(err)) + (e.errno ? ` (${errnoName(e.errno)})` : '') };
  }
  return { libbpf, resetReasons, probes };
}

/** Reads the host. Never throws: whatever cannot be read is null. */
export function gatherFacts(): HostFacts {
  const status = readText('/proc/self/status') ?? '';
  const capHex = statusField(status, 'CapEff');
  const seccomp = statusField(status, 'Seccomp');
  const unpriv = readText('/proc/sys/kernel/unprivileged_bpf_disabled');
  const mountinfo = readMountinfo();
  const limits = readText('/proc/self/limits');
  const release = osRelease();
  const config = kernelConfig(release);
  return {
    release,
    btfPresent: existsSync(BTF_PATH),
    euid: typeof process.geteuid === 'function' ? process.geteuid() : null,
    capEff: capHex && /^[0-9a-f]+$/i.test(capHex) ? BigInt('0x' + capHex) : null,
    seccomp: seccomp !== null && /^\d+$/.test(seccomp) ? Number(seccomp) : null,
    unprivilegedBpfDisabled: unpriv !== null && /^\s*\d+\s*$/.test(unpriv) ? Number(unpriv) : null,
    addon: addonFacts(),
    lockdown: lockdownFacts(config),
    kprobesConfigured: config === null ? null : /^CONFIG_KPROBES=y/m.test(config),
    tracefsMounts: mountsOfType(mountinfo, 'tracefs'),
    cgroup2Mounts: mountsOfType(mountinfo, 'cgroup2'),
    memlockSoft: limits === null ? null : memlockFromLimits(limits),
    execPath: process.execPath,
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
