/**
 * `rstrace metrics` end to end: the real CLI traces real refused connects on
 * loopback, and a real Prometheus (Debian's `prometheus` package) scrapes it
 * every second; the test reads the counts back through Prometheus' HTTP API,
 * as a dashboard would. Everything listens on 127.0.0.1 ports picked by the
 * kernel; the tracer only counts the test's own closed port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, refusedConnect } from '../helpers/loopback.js';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Fatal, stopChild as stop, until } from '../helpers/until.js';

const RSTRACE = fileURLToPath(new URL('../../bin/rstrace', import.meta.url));
const PROMETHEUS = '/usr/bin/prometheus';
const CONNECTS = 3;

interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  proc.on('error', (err) => { out += `\nspawn ${cmd}: ${err.message}\n`; });
  return { proc, output: () => out, exited };
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

let rstrace: Child | undefined;
let prometheus: Child | undefined;
let tmp: string | undefined;
let promBase = '';
let rstraceAddr = '';
let testPort = 0;

async function query(expr: string): Promise<PromSample[]> {
  const res = await fetch(`${promBase}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error ?? res.status}`);
  return body.data!.result;
}

function showOutputOnFailure(): void {
  onTestFailed(() => {
    console.error(`--- rstrace output ---\n${rstrace?.output() ?? '(not started)'}`);
    console.error(`--- prometheus output (last 8 kB) ---\n${prometheus?.output().slice(-8192) ?? '(not started)'}`);
  });
}

beforeAll(async () => {
  if (!existsSync(PROMETHEUS)) {
    throw new Error(`${PROMETHEUS} is missing: run 'make build' (it installs Debian's prometheus package) or 'apt-get install -y prometheus'`);
  }
  tmp = mkdtempSync(join(tmpdir(), 'rstrace-metrics-e2e-'));
  testPort = await freePort();
  const rstracePort = await freePort();
  const promPort = await freePort();
  rstraceAddr = `127.0.0.1:${rstracePort}`;
  promBase = `http://127.0.0.1:${promPort}`;

  // --duration is a backstop: the tracer ends by itself should afterAll never run.
  rstrace = start(RSTRACE, ['metrics', '--listen', rstraceAddr, '--port', String(testPort), '--duration', '300']);
  await until('rstrace attached (stderr line containing "attached")', 30_000, async () => {
    if (rstrace!.proc.exitCode !== null) throw new Fatal(`rstrace exited with ${rstrace!.proc.exitCode}: ${rstrace!.output()}`);
    return /attached/.test(rstrace!.output()) ? true : undefined;
  });

  writeFileSync(join(tmp, 'prometheus.yml'), [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: rstrace',
    `    static_configs: [{ targets: ['${rstraceAddr}'] }]`,
    '',
  ].join('\n'));
  prometheus = start(PROMETHEUS, [
    `--config.file=${join(tmp, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(tmp, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  await until('prometheus ready (/-/ready)', 30_000, async () => {
    if (prometheus!.proc.exitCode !== null) throw new Fatal(`prometheus exited with ${prometheus!.proc.exitCode}: ${prometheus!.output().slice(-4096)}`);
    const res = await fetch(`${promBase}/-/ready`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? true : undefined;
  });
}, 90_000);

afterAll(async () => {
  await Promise.all([stop(prometheus), stop(rstrace, 'SIGINT')]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}, 30_000);

describe('rstrace metrics scraped by a real Prometheus', () => {
  it('Prometheus sees the target up and the refused connects as code 11 sent by the kernel and code 0 received by the connecting process', async () => {
    showOutputOnFailure();
    await until('up{job="rstrace"} == 1', 30_000, async () => {
      const up = await query('up{job="rstrace"}');
      return up.length === 1 && up[0].value[1] === '1' ? true : undefined;
    });

    for (let i = 0; i < CONNECTS; i++) expect(await refusedConnect(testPort)).toBe('ECONNREFUSED');
    const myComm = readFileSync('/proc/self/comm', 'utf8').trim();

    /** the one series of the selector, once its value has reached `want` (more is a failure) */
    const reach = (selector: string, want: number): Promise<PromSample[]> => {
      let last: PromSample[] = [];
      return until(`${selector} == ${want}`, 30_000, async () => {
        const r = await query(selector);
        last = r;
        const total = r.reduce((n, s) => n + Number(s.value[1]), 0);
        if (total > want) throw new Fatal(`${selector} is ${total}, more than the ${want} resets provoked: ${JSON.stringify(r)}`);
        return total === want ? r : undefined;
      }, () => JSON.stringify(last));
    };
    const sent = await reach('rstrace_resets_total{code="11"}', CONNECTS);
    const received = await reach('rstrace_resets_total{code="0"}', CONNECTS);

    expect(sent.map((s) => s.metric)).toEqual([{
      __name__: 'rstrace_resets_total', instance: rstraceAddr, job: 'rstrace',
      kind: 'sent', code: '11', code_key: 'syn-unknown-port', comm: 'kernel',
    }]);
    expect(received.map((s) => s.metric)).toEqual([{
      __name__: 'rstrace_resets_total', instance: rstraceAddr, job: 'rstrace',
      kind: 'received', code: '0', code_key: 'remote-reset', comm: myComm,
    }]);
    // Nothing else was counted: the tracer filters on the test's port.
    expect((await query('sum(rstrace_resets_total)'))[0].value[1]).toBe(String(2 * CONNECTS));

    const up = await query('up{job="rstrace"}');
    expect(up.map((s) => s.value[1])).toEqual(['1']);
    expect((await query('rstrace_lost_events_total{job="rstrace"}')).map((s) => s.value[1])).toEqual(['0']);
    // The tracer's counters reach the sink once a second, the resets at every scrape: allow one more round.
    await until('rstrace_delivered_events_total >= resets provoked', 10_000, async () => {
      const d = await query('rstrace_delivered_events_total{job="rstrace"}');
      return d.length === 1 && Number(d[0].value[1]) >= 2 * CONNECTS ? true : undefined;
    });
    expect(await query('process_resident_memory_bytes{job="rstrace"}')).toHaveLength(1);
  }, 120_000);

  it('stops on SIGINT with exit 0 and a summary, and frees its port', async () => {
    showOutputOnFailure();
    expect(await stop(rstrace, 'SIGINT')).toBe(0);
    expect(rstrace!.output()).toMatch(/serving metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    expect(rstrace!.output()).toMatch(new RegExp(`rstrace: ${2 * CONNECTS} events, 0 lost, \\d+ filtered`));
    await expect(fetch(`http://${rstraceAddr}/metrics`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }, 30_000);
});
