/**
 * `report --html` end to end: a real trace of real resets in a namespace of
 * this test (refused connects from a process named `</script>` plus a bidi
 * override, closes with unread data), the real CLI writing the page, and
 * Debian's headless Chromium rendering it with no network. The page must
 * draw its chart, show the totals `report --json` gives, name no address
 * outside itself, and show the hostile name as inert text.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/summarize.js';
import { summarize } from '../../src/report/summarize.js';
import { renderHtml } from '../../src/report/html/page.js';
import { chromiumInstalled, dumpDom, screenshot } from '../helpers/chromium.js';
import { cleanup, createNetns, exec, netnsInode } from '../helpers/netns.js';
import { spawnPeer } from '../helpers/peer.js';
import { sampleEvent } from '../helpers/sample-events.js';
import { RSTRACE, startTracer, stopAllTracers } from '../helpers/tracer.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Where the screenshot goes for a developer to look at (build/ is not committed). */
const SHOTS = join(root, 'build', 'report-html');
const HOSTILE_COMM = '</script>\u202ex';
const REFUSED_PORT = 7001;
const SERVICE_PORT = 8443;
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;

/** A client that takes the hostile name, then connects to a port nothing listens on, `n` times. */
const REFUSER = `
import socket, sys
with open('/proc/self/comm', 'wb') as f: f.write(sys.argv[1].encode())
for _ in range(int(sys.argv[3])):
    s = socket.socket()
    try: s.connect(('127.0.0.1', int(sys.argv[2])))
    except ConnectionRefusedError: pass
    s.close()
`;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(RSTRACE, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `<tag data-figure="NAME" data-value="V">TEXT<`: every figure on the page, with its value and text. */
function figures(dom: string): Map<string, { value: number; text: string }> {
  const out = new Map<string, { value: number; text: string }>();
  for (const m of dom.matchAll(/data-figure="([\w-]+)" data-value="(\d+)">([^<]*)</g)) out.set(m[1], { value: Number(m[2]), text: m[3] });
  return out;
}

/** The rows of one table (`data-list`): data-key -> data-count. */
function rows(dom: string, list: string): Map<string, number> {
  const table = dom.match(new RegExp(`<table data-list="${list}">([\\s\\S]*?)</table>`));
  if (!table) throw new Error(`no table ${list} on the page`);
  return new Map([...table[1].matchAll(/<tr data-key="([^"]*)" data-count="(\d+)">/g)].map((m) => [m[1], Number(m[2])]));
}

/** Chromium comes with `make deps` (Debian package chromium): without it these tests fail, they do not skip. */
function needChromium(): void {
  if (!chromiumInstalled()) throw new Error('chromium is not installed: run `make deps` (Debian package chromium)');
}

describe('report --html of a real trace, rendered in headless Chromium', () => {
  let dir = '';
  let json: Report;
  let html = '';
  let dom = '';
  let liveCount = 0;

  beforeAll(async () => {
    needChromium();
    dir = mkdtempSync(join(tmpdir(), 'rsth5-html-'));
    const ns = await createNetns('rsth5');
    const file = join(dir, 'real.rstrace');
    const tracer = await startTracer(['--netns', String(netnsInode(ns)), '-o', file]);
    const refused = await exec(ns, ['python3', '-c', REFUSER, HOSTILE_COMM, String(REFUSED_PORT), '3']);
    expect(refused.code).toBe(0);
    for (let i = 0; i < 2; i++) {
      const server = spawnPeer(['tcp4', `bind=127.0.0.1:${SERVICE_PORT}`, 'reuseaddr', 'listen=8', 'port', 'accept', 'sleep=300', 'close'], { netns: ns });
      await server.waitLine('port');
      const client = spawnPeer(['tcp4', `connect=127.0.0.1:${SERVICE_PORT}`, 'send=100', 'recv'], { netns: ns });
      await client.exited;
      await server.exited;
    }
    // 3 refused (sent 11 + received 0 each), 2 closed with data (sent 16 + received 0 each)
    await tracer.waitFor(() => tracer.events.length >= 10);
    expect(await tracer.stop()).toBe(0);
    liveCount = tracer.events.length;

    const asJson = cli(['report', file, '--json']);
    expect(asJson.status).toBe(0);
    json = JSON.parse(asJson.stdout) as Report;
    const page = join(dir, 'report.html');
    const asHtml = cli(['report', file, '--html', '-o', page]);
    expect(asHtml.status).toBe(0);
    expect(asHtml.stdout).toBe('');
    html = readFileSync(page, 'utf8');
    dom = dumpDom(page);
    mkdirSync(SHOTS, { recursive: true });
    screenshot(page, join(SHOTS, 'report.png'));
    copyFileSync(page, join(SHOTS, 'report.html'));
  }, 180_000);

  afterAll(async () => {
    await stopAllTracers();
    await cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the trace holds exactly the resets provoked, and --json counts them', () => {
    expect(liveCount).toBe(10);
    expect(json.total).toBe(10);
    const counts = Object.fromEntries(json.byCode.filter((c) => c.count).map((c) => [c.code, c.count]));
    expect(counts).toEqual({ 0: 5, 11: 3, 16: 2 });
    expect(json.unowned).toBe(3);
    expect(json.topProcesses.find((p) => p.comm === HOSTILE_COMM)?.count).toBe(3);
    expect(json.topServicePorts).toEqual([{ port: REFUSED_PORT, count: 6 }, { port: SERVICE_PORT, count: 4 }]);
  });

  it('embeds exactly the --json report, once', () => {
    const embedded = [...html.matchAll(/<script type="application\/json" id="rstrace-report">([^<]*)<\/script>/g)];
    expect(embedded.length).toBe(1);
    expect(JSON.parse(embedded[0][1])).toEqual(json);
  });

  it('the chart drew its bars on a canvas', () => {
    expect(dom).toMatch(/<html[^>]* data-rendered="1"/);
    const chart = dom.match(/<div class="chart" id="over-time" data-painted="(\d+)">([\s\S]*?)<\/div>/);
    expect(chart).not.toBeNull();
    expect(Number(chart![1])).toBeGreaterThan(50);
    expect(dom).toMatch(/<canvas /);
  });

  it('the totals on the page equal report --json, as numbers and as shown', () => {
    const f = figures(dom);
    const expected: Record<string, number> = {
      total: json.total, unowned: json.unowned, suspicious: json.suspicious.total,
      lost: json.lost, filtered: json.filtered, excluded: json.excluded,
    };
    for (const [name, value] of Object.entries(expected)) {
      expect(f.get(name), name).toEqual({ value, text: value.toLocaleString('en-US') });
    }
    expect(rows(dom, 'byCode')).toEqual(new Map(json.byCode.filter((c) => c.count).map((c) => [String(c.code), c.count])));
    expect(rows(dom, 'topServicePorts')).toEqual(new Map(json.topServicePorts.map((p) => [String(p.port), p.count])));
    expect(rows(dom, 'topPeers')).toEqual(new Map(json.topPeers.map((p) => [p.raddr, p.count])));
    expect([...rows(dom, 'topProcesses').values()]).toEqual(json.topProcesses.map((p) => p.count));
    // the completeness check of the trace, one row per namespace
    expect(json.kernel?.length).toBeGreaterThan(0);
    expect(rows(dom, 'kernel')).toEqual(new Map(json.kernel!.map((k) => [String(k.netns), k.seenSent])));
  });

  it('the hostile process name is inert text: no markup, no bidi override, in the file or the page', () => {
    expect(html.match(/<\/script>/g)?.length).toBe(3); // the JSON, uPlot and the page's script
    expect(html.match(/<script/g)?.length).toBe(3);
    expect(html).not.toMatch(BIDI);
    expect(dom).not.toMatch(BIDI);
    expect(dom).toContain('<td class="text">&lt;/script&gt;\\u202ex</td>');
  });

  it('names no address outside itself and forbids fetching', () => {
    expect(html).not.toMatch(/https?:\/\/|\/\/[a-z0-9.-]+\.[a-z]{2,}\//i);
    expect(html).not.toMatch(/\s(src|href)=/i);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
  });
});

describe('report --html: containers, units and suspicious resets, rendered in Chromium', () => {
  it('shows the tops and the suspicious tables from the report, hostile strings inert', () => {
    needChromium();
    const cri = '/kubepods.slice/kubepods-pod1.slice/cri-containerd-4f2a.scope';
    const events = [
      sampleEvent({ container: '4f2a', cgroup: cri }),
      sampleEvent({ container: '4f2a', cgroup: cri }),
      sampleEvent({ container: '<img src=x onerror=alert(1)>', cgroup: '/system.slice/evil\u2067.service' }),
      sampleEvent({ kind: 'ignored', code: 19, codeKey: 'ignored-rst', raddr: '10.9.9.9', signals: ['out-of-window'], cgroup: null }),
      sampleEvent({ kind: 'received', code: 0, codeKey: 'remote-reset', raddr: '10.8.8.8', signals: ['reset-seq-change', 'out-of-window'], cgroup: null }),
    ];
    const report = summarize(events, { lost: 0, filtered: 0, truncated: false, files: ['sample.rstrace'] });
    const dir = mkdtempSync(join(tmpdir(), 'rsth5-html-'));
    try {
      const page = join(dir, 'sample.html');
      writeFileSync(page, renderHtml(report));
      const dom = dumpDom(page);
      expect(rows(dom, 'topContainers')).toEqual(new Map([['4f2a', 2], ['&lt;img src=x onerror=alert(1)&gt;', 1]]));
      expect(rows(dom, 'topUnits')).toEqual(new Map([['cri-containerd-4f2a.scope', 2], ['evil\\u2067.service', 1]]));
      expect(rows(dom, 'suspiciousBySignal')).toEqual(new Map([['out-of-window', 2], ['reset-seq-change', 1]]));
      expect(rows(dom, 'suspiciousByPeer')).toEqual(new Map([['10.8.8.8', 1], ['10.9.9.9', 1]]));
      expect(figures(dom).get('ignored')).toEqual({ value: 1, text: '1' });
      expect(figures(dom).get('withSignals')).toEqual({ value: 2, text: '2' });
      expect(dom).not.toContain('<img');
      expect(dom).not.toMatch(BIDI);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('report --html of an empty trace, rendered in Chromium', () => {
  it('renders its zeros and says there is nothing over time', () => {
    needChromium();
    const dir = mkdtempSync(join(tmpdir(), 'rsth5-html-'));
    try {
      const page = join(dir, 'empty.html');
      writeFileSync(page, renderHtml(summarize([], { lost: 2, filtered: 0, truncated: false, files: ['empty.rstrace'] })));
      const dom = dumpDom(page);
      expect(dom).toMatch(/<html[^>]* data-rendered="0"/);
      expect(dom).toContain('no resets with a time');
      expect(figures(dom).get('total')).toEqual({ value: 0, text: '0' });
      expect(figures(dom).get('lost')).toEqual({ value: 2, text: '2' });
      expect(dom).toContain('The kernel dropped records');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('report --html usage', () => {
  it('--json and --html together are bad usage (exit 2, one line)', () => {
    const r = cli(['report', '/nonexistent.rstrace', '--json', '--html']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('rstrace: --json and --html cannot be combined: give one of them (or neither, for the text report)\n');
  });
});
