/**
 * The deployment files in deploy/ are checked as what they claim to be: the
 * systemd unit passes `systemd-analyze verify`, and its ExecStart runs, as a
 * user that is not root with exactly the unit's ambient capabilities, and
 * counts a real reset and records it in rotated trace files in its state
 * directory; the DaemonSet manifest parses and carries the host access,
 * capabilities, mounts (the trace directory a hostPath), port and limits that
 * rstrace needs, and its arguments start a working agent that does the same.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, refusedConnect } from '../helpers/loopback.js';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
const UNIT = join(ROOT, 'deploy/rstrace.service');
const DAEMONSET = join(ROOT, 'deploy/rstrace-daemonset.yaml');
const CAPS = ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN', 'CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH'];
const NOBODY = 65534;

const tmp = mkdtempSync(join(tmpdir(), 'rsth6-deploy-'));
chmodSync(tmp, 0o711); // the unit's user (nobody here) reaches its state directory inside
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const STATE_DIR = '/var/lib/rstrace';
let stateDirs = 0;
/** A fresh stand-in for the state directory, owned by `uid` and private, as systemd makes it. */
function stateDir(uid: number): string {
  const d = join(tmp, `state-${stateDirs++}`);
  mkdirSync(d, { mode: 0o700 });
  chownSync(d, uid, uid);
  return d;
}

/** The rotated trace files in `dir`: each private, owned by `uid`, named for the series; their resets, summed by report. */
function recordedResets(dir: string, uid: number): number {
  const files = readdirSync(dir);
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) {
    expect(f).toMatch(/^rstrace-\d{8}T\d{6}Z-\d{6}\.trace$/);
    const st = statSync(join(dir, f));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(uid);
  }
  const r = spawnSync(join(ROOT, 'bin/rstrace'), ['report', dir, '--json'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  return (JSON.parse(r.stdout) as { total: number }).total;
}

/** `Key=value` lines of a unit's [Service] section, in order (keys may repeat). */
function serviceSection(text: string): [string, string][] {
  const out: [string, string][] = [];
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) { section = head[1]; continue; }
    const eq = line.indexOf('=');
    if (section === 'Service' && eq > 0) out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}

function value(entries: [string, string][], key: string): string | undefined {
  return entries.filter(([k]) => k === key).pop()?.[1];
}



/**
 * Runs `argv` (an rstrace metrics command line) until it serves, provokes
 * `connects` refused connects to a closed port of this test's own, and
 * returns the sent resets it counted for code 11 and its exit code.
 */
async function metricsCountResets(argv: string[], connects: number): Promise<{ counted: number; exit: number | null; output: string }> {
  const port = await freePort();
  const child = spawn(argv[0], [...argv.slice(1), '--port', String(port), '--duration', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { output += c; });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { output += c; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    let url = '';
    for (let i = 0; i < 40 && !url; i++) {
      const m = /serving metrics on (http:\/\/\S+\/metrics)/.exec(output);
      if (m && output.includes('attached')) url = m[1];
      else await new Promise((r) => setTimeout(r, 100));
    }
    if (!url) throw new Error(`rstrace did not start serving: ${output}`);
    for (let i = 0; i < connects; i++) await refusedConnect(port);
    let counted = 0;
    for (let i = 0; i < 40 && counted < connects; i++) {
      const body = await (await fetch(url, { signal: AbortSignal.timeout(3000) })).text();
      counted = 0;
      for (const line of body.split('\n')) {
        if (line.startsWith('rstrace_resets_total{') && line.includes('kind="sent"') && line.includes('code="11"')) {
          counted += Number(line.slice(line.lastIndexOf(' ') + 1));
        }
      }
      if (counted < connects) await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    return { counted, exit: await exited, output };
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

describe('systemd unit deploy/rstrace.service', () => {
  const text = readFileSync(UNIT, 'utf8');
  const service = serviceSection(text);

  it('passes systemd-analyze verify with its ExecStart pointing at this checkout', () => {
    const copy = join(tmp, 'rstrace.service');
    writeFileSync(copy, text.replaceAll('/opt/rstrace', ROOT));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('runs the agent without root, with exactly the capabilities rstrace needs, restarting on failure', () => {
    expect(value(service, 'DynamicUser')).toBe('yes');
    expect(value(service, 'User')).toBeUndefined();
    expect(value(service, 'AmbientCapabilities')?.split(/\s+/).sort()).toEqual([...CAPS].sort());
    expect(value(service, 'CapabilityBoundingSet')?.split(/\s+/).sort()).toEqual([...CAPS].sort());
    expect(value(service, 'NoNewPrivileges')).toBe('yes');
    expect(value(service, 'Restart')).toBe('on-failure');
    expect(value(service, 'RestartPreventExitStatus')).toBe('2');
    expect(value(service, 'StateDirectory')).toBe('rstrace');
    expect(value(service, 'ExecStart')).toMatch(/^\/opt\/rstrace\/bin\/rstrace metrics /);
  });

  it('records rotated trace files, bounded in size and number, in its state directory', () => {
    const exec = value(service, 'ExecStart')!;
    expect(exec).toContain(` -o ${STATE_DIR}/rstrace.trace `);
    expect(exec).toMatch(/ --rotate-size \d+M /);
    expect(exec).toMatch(/ --rotate-keep \d+/);
    expect(`/var/lib/${value(service, 'StateDirectory')}`).toBe(STATE_DIR);
    expect(value(service, 'StateDirectoryMode')).toBe('0700');
  });

  it("its ExecStart, run as nobody with only the unit's ambient capabilities, counts real resets", async () => {
    const state = stateDir(NOBODY);
    const exec = value(service, 'ExecStart')!.replaceAll('/opt/rstrace', ROOT).replaceAll(STATE_DIR, state).split(/\s+/);
    // the unit's loopback address, on a port of the kernel's choosing so that tests never collide
    const listen = exec.indexOf('--listen');
    expect(listen).toBeGreaterThan(0);
    exec[listen + 1] = '127.0.0.1:0';
    const caps = CAPS.map((c) => `+${c.slice(4).toLowerCase()}`).join(',');
    const argv = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups',
      `--inh-caps=-all,${caps}`, `--ambient-caps=${caps}`, `--bounding-set=-all,${caps}`, ...exec];
    const r = await metricsCountResets(argv, 3);
    expect(r.output).not.toMatch(/permission denied|operation not permitted/i);
    expect(r.counted).toBe(3);
    expect(r.exit).toBe(0);
    expect(recordedResets(state, NOBODY)).toBe(6); // each refused connect: the RST sent and the RST received
  });
});

describe('Kubernetes DaemonSet deploy/rstrace-daemonset.yaml', () => {
  interface Container {
    args: string[];
    env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    ports: { containerPort: number; hostPort?: number }[];
    securityContext: { capabilities: { add: string[]; drop: string[] }; runAsUser?: number };
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  }
  interface Manifest {
    kind: string;
    spec: { template: { spec: { hostPID: boolean; hostNetwork: boolean; containers: Container[]; volumes: { name: string; hostPath: { path: string; type?: string } }[] } } };
  }
  const doc = parse(readFileSync(DAEMONSET, 'utf8')) as Manifest;
  const pod = doc.spec.template.spec;
  const c = pod.containers[0];

  it('is a DaemonSet with the host PID and network namespaces', () => {
    expect(doc.kind).toBe('DaemonSet');
    expect(pod.hostPID).toBe(true);
    expect(pod.hostNetwork).toBe(true);
    expect(pod.containers).toHaveLength(1);
  });

  it('adds exactly the capabilities rstrace needs and drops the rest', () => {
    expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
    expect([...c.securityContext.capabilities.add].sort()).toEqual(CAPS.map((x) => x.slice(4)).sort());
  });

  it('mounts BTF and the cgroup tree read-only, and serves the metrics port', () => {
    const mount = (path: string) => c.volumeMounts.find((m) => m.mountPath === path);
    for (const path of ['/sys/kernel/btf', '/sys/fs/cgroup']) {
      const m = mount(path);
      expect(m?.readOnly, path).toBe(true);
      expect(pod.volumes.find((v) => v.name === m!.name)?.hostPath.path).toBe(path);
    }
    expect(c.ports.map((p) => p.containerPort)).toEqual([9477]);
    expect(c.args.join(' ')).toContain('--listen $(NODE_IP):9477');
    expect(c.env.find((e) => e.name === 'NODE_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.hostIP');
  });

  it('records rotated trace files in a hostPath directory of the node', () => {
    const args = c.args.join(' ');
    expect(args).toContain(`-o ${STATE_DIR}/rstrace.trace`);
    expect(args).toMatch(/--rotate-size \d+M/);
    expect(args).toMatch(/--rotate-keep \d+/);
    const mount = c.volumeMounts.find((m) => m.mountPath === STATE_DIR);
    expect(mount?.readOnly).toBeFalsy();
    expect(pod.volumes.find((v) => v.name === mount!.name)?.hostPath).toEqual({ path: STATE_DIR, type: 'DirectoryOrCreate' });
  });

  it('has memory limits above the 120 MB storm target', () => {
    const mib = (q: string): number => {
      const m = /^(\d+)(Mi|Gi)$/.exec(q);
      if (!m) throw new Error(`unexpected quantity ${q}`);
      return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
    };
    expect(mib(c.resources.limits.memory)).toBeGreaterThanOrEqual(128);
    expect(mib(c.resources.requests.memory)).toBeLessThanOrEqual(mib(c.resources.limits.memory));
    expect(c.resources.limits.cpu).toBeDefined();
  });

  it('its arguments start a working rstrace metrics (NODE_IP = 127.0.0.1, port of the kernel\'s choosing)', async () => {
    const state = stateDir(0);
    const args = c.args.map((a) => (a === '$(NODE_IP):9477' ? '127.0.0.1:0' : a.replace(STATE_DIR, state)));
    const r = await metricsCountResets([join(ROOT, 'bin/rstrace'), ...args], 2);
    expect(r.counted).toBe(2);
    expect(r.exit).toBe(0);
    expect(recordedResets(state, 0)).toBe(4);
  });
});

describe('Prometheus rules deploy/rstrace-rules.yml', () => {
  const RULES = join(ROOT, 'deploy/rstrace-rules.yml');

  it('pass promtool check rules', () => {
    const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stdout).toContain('SUCCESS: 4 rules found');
    expect(r.status).toBe(0);
  });

  it('fire the lost-events alert when a host loses records, and not before; sum resets per cause across hosts', () => {
    const test = join(tmp, 'rules.test.yml');
    writeFileSync(test, [
      `rule_files: ['${RULES}']`,
      'evaluation_interval: 1m',
      'tests:',
      '  - interval: 1m',
      '    input_series:',
      "      - { series: 'rstrace_lost_events_total{job=\"rstrace\",instance=\"a:9477\"}', values: '0 0 0 0 0 0 0 0 0 0 40 40 40 40 40 40 40 40 40 40 40' }",
      "      - { series: 'rstrace_lost_events_total{job=\"rstrace\",instance=\"b:9477\"}', values: '0x20' }",
      "      - { series: 'rstrace_resets_total{job=\"rstrace\",instance=\"a:9477\",kind=\"sent\",code=\"11\",code_key=\"syn-unknown-port\",comm=\"kernel\",container=\"\"}', values: '0+60x20' }",
      "      - { series: 'rstrace_resets_total{job=\"rstrace\",instance=\"b:9477\",kind=\"sent\",code=\"11\",code_key=\"syn-unknown-port\",comm=\"kernel\",container=\"\"}', values: '0+120x20' }",
      '    alert_rule_test:',
      '      - { eval_time: 9m, alertname: RstraceLostEvents, exp_alerts: [] }',
      '      - eval_time: 12m',
      '        alertname: RstraceLostEvents',
      '        exp_alerts:',
      "          - exp_labels: { severity: warning, job: rstrace, instance: 'a:9477' }",
      '            exp_annotations:',
      "              summary: 'rstrace on a:9477 lost 40 reset records in 5 minutes'",
      "              description: \"A reset storm outran the agent: rstrace_resets_total and the trace files are incomplete for this host. See the agent's log and 'rstrace report /var/lib/rstrace'.\"",
      '      - { eval_time: 20m, alertname: RstraceLostEvents, exp_alerts: [] }',
      '    promql_expr_test:',
      "      - { expr: 'code_key:rstrace_resets:rate5m', eval_time: 10m, exp_samples: [{ labels: 'code_key:rstrace_resets:rate5m{code_key=\"syn-unknown-port\"}', value: 3 }] }",
      '',
    ].join('\n'));
    const r = spawnSync('promtool', ['test', 'rules', test], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
