/**
 * `rstrace doctor` end to end: the real CLI on this host, as root and with
 * every capability dropped, and from a checkout whose addon is not built.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RSTRACE } from '../helpers/tracer.js';

interface Check { name: string; status: 'ok' | 'warn' | 'fail'; detail: string; remedy: string }
interface Report { ok: boolean; checks: Check[] }

const HOOKS = ['handle_send_reset', 'handle_receive_reset', 'handle_set_state', 'handle_send_length', 'handle_recv_length', 'handle_net_dev_queue', 'handle_kfree_skb'];
const REQUIRED = HOOKS.slice(0, 3);
const STACK_FRAME = /^\s+at .+[(:]\d+/m;

function run(argv: string[], cwd?: string) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000, cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every capability gone, from the effective set and from anything exec'd later, while uid stays 0. */
const DROP_ALL = ['setpriv', '--inh-caps=-all', '--bounding-set=-all'];

function byName(report: Report, name: string): Check {
  const c = report.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check named ${name} in ${report.checks.map((x) => x.name).join(', ')}`);
  return c;
}

describe('rstrace doctor on this host as root', () => {
  it('--json: exits 0, ok is true, BTF, privileges and all 7 hooks are ok', () => {
    const r = run([RSTRACE, 'doctor', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.ok).toBe(true);
    expect(byName(report, 'BTF')).toMatchObject({ status: 'ok', detail: '/sys/kernel/btf/vmlinux present' });
    expect(byName(report, 'privileges').status).toBe('ok');
    for (const h of HOOKS) expect(byName(report, `hook ${h}`)).toMatchObject({ status: 'ok', remedy: '' });
    expect(byName(report, 'hook handle_send_reset').detail).toContain('tp_btf/tcp_send_reset');
    expect(byName(report, 'kernel').detail).toContain('sk_rst_reason present');
    expect(byName(report, 'libbpf').detail).toMatch(/^v1\.\d+/);
    for (const c of report.checks) {
      expect(Object.keys(c)).toEqual(['name', 'status', 'detail', 'remedy']);
      expect(['ok', 'warn', 'fail']).toContain(c.status);
      if (c.status !== 'ok') expect(c.remedy).not.toBe('');
    }
  });

  it('human output: one aligned line per check, no JSON, a verdict, exit 0', () => {
    const json = JSON.parse(run([RSTRACE, 'doctor', '--json']).stdout) as Report;
    const r = run([RSTRACE, 'doctor']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toMatch(/^\s*[{[]/m);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(json.checks.length + 1);
    json.checks.forEach((c, i) => expect(lines[i]).toMatch(new RegExp(`^${c.status === 'fail' ? 'FAIL' : c.status} +${c.name} +\\S`)));
    expect(lines.find((l) => /^ok +BTF +/.test(l))).toMatch(/\/sys\/kernel\/btf\/vmlinux present$/);
    // the detail column starts at the same place on every line
    const col = (l: string, name: string) => l.indexOf(name) + l.slice(l.indexOf(name) + name.length).search(/\S/) + name.length;
    const cols = new Set(json.checks.map((c, i) => col(lines[i], c.name)));
    expect(cols.size).toBe(1);
    expect(lines.at(-1)).toBe("=> 'rstrace trace' can run on this host");
  });
});

describe('rstrace doctor with every capability dropped', () => {
  it('--json: exits 1, privileges fail naming CAP_BPF and CAP_PERFMON, required hooks fail, valid JSON, no stack trace', () => {
    const r = run([...DROP_ALL, RSTRACE, 'doctor', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.ok).toBe(false);
    const priv = byName(report, 'privileges');
    expect(priv.status).toBe('fail');
    expect(priv.remedy).toContain('CAP_BPF');
    expect(priv.remedy).toContain('CAP_PERFMON');
    for (const h of REQUIRED) {
      const c = byName(report, `hook ${h}`);
      expect(c.status).toBe('fail');
      expect(c.detail).toContain('EPERM');
      expect(c.remedy).toContain('CAP_BPF');
    }
    for (const h of HOOKS.slice(3)) expect(byName(report, `hook ${h}`).status).toBe('warn');
    expect(byName(report, 'BTF').status).toBe('ok');
    expect(byName(report, 'bpf syscall').status).toBe('fail');
  });

  it('human output: FAIL lines carry the remedy after ->, exit 1, nothing on stderr', () => {
    const r = run([...DROP_ALL, RSTRACE, 'doctor']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const priv = r.stdout.split('\n').find((l) => /^FAIL +privileges +/.test(l));
    expect(priv).toMatch(/ -> run as root or grant CAP_BPF and CAP_PERFMON/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toContain('cannot run');
  });
});

describe('rstrace doctor from a checkout whose addon is not built', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'rstrace-doctor-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("exits 1 and says run 'make build', one line each, no stack trace", () => {
    // the compiled CLI without native/build: what a user has before `make build` finishes
    for (const p of ['bin', 'dist', 'package.json']) cpSync(join(root, p), join(dir, p), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const r = run([join(dir, 'bin/rstrace'), 'doctor', '--json'], dir);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.ok).toBe(false);
    expect(byName(report, 'libbpf')).toMatchObject({ status: 'fail', remedy: expect.stringContaining("run 'make build'") });
    for (const h of REQUIRED) expect(byName(report, `hook ${h}`).remedy).toContain("run 'make build'");
    const human = run([join(dir, 'bin/rstrace'), 'doctor'], dir);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^FAIL +libbpf +.* -> run 'make build'/m);
  });
});
