/**
 * `diagnose()` is pure: these play hosts this VM is not (old kernel, no BTF,
 * no capabilities, no addon, a missing optional hook) and check the verdict.
 */
import { describe, expect, it } from 'vitest';
import { diagnose, kernelVersion, HOOKS } from '../../src/doctor/checks.js';
import { memlockFromLimits, parseLockdown, statusField, type HostFacts } from '../../src/doctor/facts.js';
import { renderDoctor } from '../../src/doctor/run.js';
import { hasCap } from '../../src/kernel/privileges.js';
import { mountsOfType } from '../../src/kernel/mounts.js';
import type { HookProbe } from '../../src/kernel/addon.js';

const ROOT_CAPS = 0x1ffffffffffn;
const allOk: HookProbe[] = HOOKS.map((h) => ({ name: h.name, section: h.section, ok: true }));

function host(over: Partial<HostFacts> = {}): HostFacts {
  return {
    release: '6.18.44-fc-v595',
    btfPresent: true,
    euid: 0,
    capEff: ROOT_CAPS,
    seccomp: 0,
    unprivilegedBpfDisabled: 2,
    addon: { libbpf: 'v1.1', resetReasons: 26, probes: allOk },
    lockdown: { mode: 'integrity', source: '/sys/kernel/security/lockdown' },
    kprobesConfigured: false,
    tracefsMounts: ['/sys/kernel/tracing'],
    cgroup2Mounts: ['/sys/fs/cgroup'],
    memlockSoft: 8 << 20,
    execPath: '/usr/bin/node',
    ...over,
  };
}

const check = (facts: HostFacts, name: string) => diagnose(facts).checks.find((c) => c.name === name)!;

describe('doctor diagnose', () => {
  it('a healthy 6.18 host is ok, every check ok, one check per hook', () => {
    const r = diagnose(host());
    expect(r.ok).toBe(true);
    expect(r.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(r.checks.map((c) => c.name)).toEqual([
      'kernel', 'BTF', 'privileges', 'bpf syscall',
      ...HOOKS.map((h) => `hook ${h.name}`),
      'fentry', 'tracefs', 'libbpf', 'memlock', 'cgroup v2',
    ]);
  });

  it('a kernel without sk_rst_reason warns that reason is null but still passes', () => {
    const r = diagnose(host({ release: '6.1.0-18-amd64', addon: { libbpf: 'v1.1', resetReasons: null, probes: allOk } }));
    expect(r.ok).toBe(true);
    const k = r.checks[0];
    expect(k).toMatchObject({ name: 'kernel', status: 'warn' });
    expect(k.detail).toContain('reason is null');
    expect(k.remedy).toContain('6.10');
  });

  it('no BTF fails with CONFIG_DEBUG_INFO_BTF named', () => {
    const r = diagnose(host({ btfPresent: false }));
    expect(r.ok).toBe(false);
    expect(check(host({ btfPresent: false }), 'BTF')).toMatchObject({ status: 'fail' });
    expect(check(host({ btfPresent: false }), 'BTF').detail).toContain('built without CONFIG_DEBUG_INFO_BTF');
  });

  it('no capabilities fails privileges with a remedy naming CAP_BPF and CAP_PERFMON', () => {
    const eperm: HookProbe[] = HOOKS.map((h) => ({ name: h.name, section: h.section, ok: false, errno: 1, error: 'load: Operation not permitted' }));
    const f = host({ euid: 1000, capEff: 0n, addon: { libbpf: 'v1.1', resetReasons: 26, probes: eperm } });
    const r = diagnose(f);
    expect(r.ok).toBe(false);
    const p = check(f, 'privileges');
    expect(p.status).toBe('fail');
    expect(p.remedy).toMatch(/CAP_BPF.*CAP_PERFMON/);
    expect(check(f, 'hook handle_send_reset')).toMatchObject({ status: 'fail', remedy: expect.stringContaining('CAP_BPF') });
    expect(check(f, 'hook handle_recv_length').status).toBe('warn');
    expect(check(f, 'bpf syscall').status).toBe('fail');
  });

  it('CAP_BPF + CAP_PERFMON alone can trace; missing /proc capabilities is a warning', () => {
    const caps = (1n << 39n) | (1n << 38n);
    const f = host({ euid: 1000, capEff: caps });
    expect(diagnose(f).ok).toBe(true);
    expect(check(f, 'privileges')).toMatchObject({ status: 'warn', remedy: expect.stringContaining('cap_sys_ptrace') });
  });

  it('CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON', () => {
    expect(check(host({ euid: 1000, capEff: 1n << 21n }), 'privileges').status).not.toBe('fail');
  });

  it('an optional hook that does not attach is a warning: owners come from /proc', () => {
    const probes = allOk.map((p) => (p.name === 'handle_send_length' ? { ...p, ok: false, errno: 2, error: 'load: No such file or directory' } : p));
    const f = host({ addon: { libbpf: 'v1.1', resetReasons: 26, probes } });
    expect(diagnose(f).ok).toBe(true);
    const c = check(f, 'hook handle_send_length');
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('owners of accepted sockets are learned from /proc instead');
  });

  it('without net_dev_queue or kfree_skb the warning says which RSTs go unseen', () => {
    const probes = allOk.map((p) => (p.name === 'handle_net_dev_queue' || p.name === 'handle_kfree_skb' ? { ...p, ok: false, errno: 2, error: 'load: No such file or directory' } : p));
    const f = host({ addon: { libbpf: 'v1.1', resetReasons: 26, probes } });
    expect(diagnose(f).ok).toBe(true);
    expect(check(f, 'hook handle_net_dev_queue')).toMatchObject({ status: 'warn', detail: expect.stringContaining('firewall-made RSTs (code 4) are not seen') });
    expect(check(f, 'hook handle_kfree_skb')).toMatchObject({ status: 'warn', detail: expect.stringContaining('ignored RSTs (code 19)') });
  });

  it('a required hook that does not attach fails with its errno', () => {
    const probes = allOk.map((p) => (p.name === 'handle_set_state' ? { ...p, ok: false, errno: 22, error: 'attach: Invalid argument' } : p));
    const f = host({ addon: { libbpf: 'v1.1', resetReasons: 26, probes } });
    expect(diagnose(f).ok).toBe(false);
    expect(check(f, 'hook handle_set_state')).toMatchObject({ status: 'fail', detail: 'tp_btf/inet_sock_set_state (required): attach: Invalid argument (EINVAL)' });
    expect(check(f, 'bpf syscall').status).toBe('ok');
  });

  it("without the addon every line that needs it says run 'make build'", () => {
    const f = host({ addon: { error: 'the native addon is not built', remedy: "run 'make build' in the rstrace checkout" } });
    const r = diagnose(f);
    expect(r.ok).toBe(false);
    expect(check(f, 'libbpf')).toMatchObject({ status: 'fail', remedy: expect.stringContaining("run 'make build'") });
    for (const h of HOOKS) expect(check(f, `hook ${h.name}`).remedy).toContain("run 'make build'");
  });

  it('memlock matters only before 5.11', () => {
    expect(check(host({ memlockSoft: 65536 }), 'memlock').status).toBe('ok');
    const old = host({ release: '5.4.0-150-generic', memlockSoft: 65536, capEff: (1n << 39n) | (1n << 38n), euid: 1000 });
    expect(check(old, 'memlock')).toMatchObject({ status: 'warn', remedy: expect.stringContaining('ulimit -l unlimited') });
  });

  it('tracefs and cgroup2 absent are warnings, never failures', () => {
    const f = host({ tracefsMounts: [], cgroup2Mounts: [] });
    expect(diagnose(f).ok).toBe(true);
    expect(check(f, 'tracefs').status).toBe('warn');
    expect(check(f, 'cgroup v2').status).toBe('warn');
  });

  it('renders one aligned line per check, remedies after ->, and a verdict', () => {
    const f = host({ btfPresent: false });
    const lines = renderDoctor(diagnose(f)).trimEnd().split('\n');
    expect(lines).toHaveLength(diagnose(f).checks.length + 1);
    expect(lines[1]).toMatch(/^FAIL  BTF {2,}\/sys\/kernel\/btf\/vmlinux missing.* -> use a kernel built with CONFIG_DEBUG_INFO_BTF/);
    const column = lines[0].indexOf('6.18');
    expect(lines[1].indexOf('/sys')).toBe(column);
    expect(lines.at(-1)).toContain('cannot run');
  });

  it('kernel text with control characters is printed inert', () => {
    const probes = allOk.map((p) => (p.name === 'handle_send_reset' ? { ...p, ok: false, errno: 13, error: 'load: \x1b[31mbad\nline' } : p));
    const out = renderDoctor(diagnose(host({ addon: { libbpf: 'v1.1', resetReasons: 26, probes } })));
    expect(out).not.toContain('\x1b');
    expect(out.trimEnd().split('\n')).toHaveLength(diagnose(host()).checks.length + 1);
  });
});

describe('doctor parsers', () => {
  it('reads CapEff bits', () => {
    const cap = BigInt('0x' + statusField('Name:\tx\nCapEff:\t000001fffeffffff\n', 'CapEff'));
    expect(hasCap(cap, 'BPF')).toBe(true);
    expect(hasCap(cap, 'SYS_RESOURCE')).toBe(false);
  });
  it('reads mountinfo, limits, lockdown and the release', () => {
    const mi = '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n43 23 0:13 / /sys/kernel/tracing rw,relatime - tracefs nodev rw\n';
    expect(mountsOfType(mi, 'cgroup2')).toEqual(['/sys/fs/cgroup/unified']);
    expect(mountsOfType(mi, 'tracefs')).toEqual(['/sys/kernel/tracing']);
    expect(memlockFromLimits('Max locked memory         8388608              8388608              bytes\n')).toBe(8388608);
    expect(memlockFromLimits('Max locked memory         unlimited            unlimited            bytes\n')).toBe(Infinity);
    expect(parseLockdown('none [integrity] confidentiality\n')).toBe('integrity');
    expect(kernelVersion('6.18.44-fc-v595')).toEqual([6, 18]);
  });
});
