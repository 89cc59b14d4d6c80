/**
 * One agent process does it all: `rstrace metrics --json -o DIR/agent.trace
 * --rotate-size 64K` serves Prometheus (a real one, Debian's package, scraping
 * every second), prints JSON lines and writes a rotated series, from one set of
 * hooks, through a bounded storm of refused connects to the test's own closed
 * port. The counts must agree exactly: events provoked == JSON lines == the
 * sum over the rotated files == the counter Prometheus scraped; `report` and
 * `export` over the directory give the same events as the JSON lines.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, refusedConnect } from '../helpers/loopback.js';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Fatal, stopChild, until } from '../helpers/until.js';

const stop = (c: Child | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => stopChild(c, signal, 15_000);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RSTRACE = join(ROOT, 'bin/rstrace');
const LOADGEN = join(ROOT, 'bench/build/loadgen');
const PROMETHEUS = '/usr/bin/prometheus';
/** refused connects, 2 events each, at a rate that makes the storm last several scrapes */
const CONNECTS = 20_000;
const RATE = 5_000;

interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function start(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out.push(c); });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  proc.on('error', (e) => { err += `\nspawn ${cmd}: ${e.message}\n`; });
  return { proc, stdout: () => out.join(''), stderr: () => err, exited };
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(RSTRACE, args, { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let agent: Child | undefined;
let prometheus: Child | undefined;
let tmp = '';
let traces = '';
let promBase = '';
let testPort = 0;

async function scraped(expr: string): Promise<number | undefined> {
  const res = await fetch(`${promBase}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { result: { value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error ?? res.status}`);
  const r = body.data!.result;
  return r.length === 0 ? undefined : r.reduce((n, s) => n + Number(s.value[1]), 0);
}

beforeAll(async () => {
  for (const need of [PROMETHEUS, LOADGEN]) if (!existsSync(need)) throw new Error(`${need} is missing: run 'make build'`);
  tmp = mkdtempSync(join(tmpdir(), 'rsth6-agent-'));
  traces = join(tmp, 'traces');
  spawnSync('mkdir', ['-m', '0700', traces]);
  testPort = await freePort();
  const agentAddr = `127.0.0.1:${await freePort()}`;
  const promPort = await freePort();
  promBase = `http://127.0.0.1:${promPort}`;

  // --duration is a backstop should afterAll never run; --port keeps the agent to this test's resets
  agent = start(RSTRACE, ['metrics', '--listen', agentAddr, '--json', '-o', join(traces, 'agent.trace'),
    '--rotate-size', '64K', '--rotate-keep', '1000', '--port', String(testPort), '--duration', '300']);
  await until('the agent attached', 30_000, async () => {
    if (agent!.proc.exitCode !== null) throw new Fatal(`rstrace exited with ${agent!.proc.exitCode}: ${agent!.stderr()}`);
    return /attached/.test(agent!.stderr()) ? true : undefined;
  });

  writeFileSync(join(tmp, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: rsth6-agent',
    `    static_configs: [{ targets: ['${agentAddr}'] }]`,
    '',
  ].join('\n'));
  prometheus = start(PROMETHEUS, [
    `--config.file=${join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${join(tmp, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  await until('prometheus scraping the agent', 60_000, async () => {
    if (prometheus!.proc.exitCode !== null) throw new Fatal(`prometheus exited: ${prometheus!.stderr().slice(-4096)}`);
    return (await scraped('up{job="rsth6-agent"}')) === 1 ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  await Promise.all([stop(prometheus), stop(agent, 'SIGINT')]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 30_000);

const onPort = (port: number) => (line: string): boolean => {
  const e = JSON.parse(line) as { lport: number; rport: number };
  return e.lport === port || e.rport === port;
};

describe('one agent: metrics, JSON lines and rotated trace files from one set of hooks', () => {
  let provoked = 0;
  let jsonLines: string[] = [];

  it('counts a storm exactly in Prometheus, in the JSON lines and across the rotated files', async () => {
    onTestFailed(() => {
      console.error(`--- agent stderr ---\n${agent?.stderr()}`);
      console.error(`--- prometheus (last 4 kB) ---\n${prometheus?.stderr().slice(-4096)}`);
    });
    expect((await scraped('sum(rstrace_resets_total{job="rsth6-agent"})')) ?? 0).toBe(0);

    const gen = spawnSync(LOADGEN, ['--mode', 'refused', '--port', String(testPort), '--count', String(CONNECTS), '--rate', String(RATE),
      '--seconds', '20', '--threads', '2'], { encoding: 'utf8', timeout: 60_000 });
    expect(gen.status, gen.stderr).toBe(0);
    const load = JSON.parse(gen.stdout) as { resets: number; probes: number; errors: number };
    expect(load.errors).toBe(0);
    provoked = 2 * (load.resets + load.probes);
    expect(load.resets).toBe(CONNECTS);

    const total = await until(`the scraped counter reaching ${provoked}`, 60_000, async () => {
      const n = (await scraped('sum(rstrace_resets_total{job="rsth6-agent"})')) ?? 0;
      if (n > provoked) throw new Fatal(`Prometheus counted ${n}, more than the ${provoked} resets provoked`);
      return n === provoked ? n : undefined;
    });
    expect(total).toBe(provoked);
    expect(await scraped('rstrace_lost_events_total{job="rsth6-agent"}')).toBe(0);

    // SIGINT: the agent drains the ring, writes the last trailer and ends its output
    expect(await stop(agent, 'SIGINT')).toBe(0);
    expect(agent!.stderr()).toContain(`rstrace: ${provoked} events, 0 lost`);
    jsonLines = agent!.stdout().trimEnd().split('\n');
    expect(jsonLines.filter(onPort(testPort))).toHaveLength(provoked);

    const files = readdirSync(traces).sort();
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      expect(f).toMatch(/^agent-\d{8}T\d{6}Z-\d{6}\.trace$/);
      expect(statSync(join(traces, f)).mode & 0o777).toBe(0o600);
    }
    let sum = 0;
    for (const f of files) {
      const r = cli(['report', join(traces, f), '--json']);
      expect(r.stderr, f).toBe(''); // complete: no cut, no damage, a trailer
      const rep = JSON.parse(r.stdout) as { total: number; countersIncomplete: boolean };
      expect(rep.countersIncomplete, f).toBe(false);
      sum += rep.total;
    }
    expect(sum).toBe(provoked);
  }, 180_000);

  it('report and export over the directory read the series in time order: the same events as the JSON lines', () => {
    expect(jsonLines.length).toBeGreaterThan(0);
    const rep = cli(['report', traces, '--port', String(testPort), '--json']);
    expect(rep.status).toBe(0);
    expect(rep.stderr).toBe('');
    const report = JSON.parse(rep.stdout) as { total: number; lost: number; byKind: Record<string, number> };
    expect(report.total).toBe(provoked);
    expect(report.lost).toBe(0);
    expect(report.byKind).toMatchObject({ sent: provoked / 2, received: provoked / 2 });

    const exp = cli(['export', traces]);
    expect(exp.status).toBe(0);
    expect(exp.stderr).toBe('');
    expect(exp.stdout.trimEnd().split('\n')).toEqual(jsonLines);
  }, 120_000);
});

describe('trace --metrics: the live trace serves metrics from its own hooks', () => {
  it('prints the JSON lines and counts the same resets on its endpoint', async () => {
    const port = await freePort();
    const t = start(RSTRACE, ['trace', '--json', '--metrics', '127.0.0.1:0', '--port', String(port), '--duration', '60']);
    try {
      const url = await until('trace serving metrics', 30_000, async () => {
        if (t.proc.exitCode !== null) throw new Fatal(`rstrace exited with ${t.proc.exitCode}: ${t.stderr()}`);
        const m = /serving metrics on (http:\/\/\S+\/metrics)/.exec(t.stderr());
        return m && t.stderr().includes('attached') ? m[1] : undefined;
      });
      for (let i = 0; i < 3; i++) expect(await refusedConnect(port)).toBe('ECONNREFUSED');
      await until('6 resets on the endpoint', 20_000, async () => {
        const body = await (await fetch(url, { signal: AbortSignal.timeout(3000) })).text();
        const n = body.split('\n').filter((l) => l.startsWith('rstrace_resets_total{')).reduce((k, l) => k + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
        if (n > 6) throw new Fatal(`counted ${n}: ${body}`);
        return n === 6 ? true : undefined;
      });
      expect(await stop(t, 'SIGINT')).toBe(0);
      expect(t.stdout().trimEnd().split('\n').filter(onPort(port))).toHaveLength(6);
    } finally {
      await stop(t, 'SIGKILL');
    }
  }, 60_000);
});

describe('agent options refused before anything is attached', () => {
  it.each([
    [['trace', '--rotate-size', '64M'], /^rstrace: --rotate-size, --rotate-every and --rotate-keep need -o FILE: /],
    [['metrics', '-o', '/tmp/rsth6.trace', '--rotate-keep', '3'], /^rstrace: --rotate-keep needs --rotate-size or --rotate-every: /],
    [['trace', '-o', '/tmp/rsth6.trace', '--rotate-every', '1h', '-c', '5'], /^rstrace: --count cannot be used with rotation: /],
    [['trace', '-o', '/tmp/rsth6.trace', '--rotate-size', '1K'], /^rstrace: --rotate-size: '1K' is not valid: give a size of at least 64K/],
    [['trace', '--metrics', 'nowhere'], /^rstrace: --metrics: 'nowhere' is not a listen address/],
    [['export', '/nonexistent', '--format', 'parquet'], /^rstrace: --format parquet needs -o FILE: /],
  ])('%j', (args, message) => {
    const r = cli(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
