/**
 * The core tracer end to end: the real BPF program, real resets on loopback,
 * the real CLI. Each test asserts only on ports it made itself, since the
 * tracer sees every reset on the host.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnPeer } from '../helpers/peer.js';
import { cleanup } from '../helpers/netns.js';
import { RSTRACE, startTracer, stopAllTracers } from '../helpers/tracer.js';
import { EVENT_FIELDS } from '../../src/event.js';
import { linksHeldBy, waitGone } from '../helpers/bpf.js';

afterEach(async () => {
  await stopAllTracers();
  await cleanup();
});
afterAll(async () => {
  await stopAllTracers();
  await cleanup();
});

/** A port nothing listens on: bind, read the port, close. */
async function closedPort(family: 'tcp4' | 'tcp6'): Promise<number> {
  const p = spawnPeer([family, family === 'tcp4' ? 'bind=127.0.0.1:0' : 'bind=[::1]:0', 'port', 'close']);
  const port = Number(await p.waitLine('port'));
  await p.exited;
  return port;
}

describe('rstrace trace --json on loopback', () => {
  it('reports a refused IPv4 connect as sent code 11 and received code 0 with exact fields', async () => {
    const port = await closedPort('tcp4');
    const t = await startTracer(['--port', String(port)]);
    const client = spawnPeer(['tcp4', 'connect=127.0.0.1:' + port, 'sockname', 'pid']);
    expect((await client.waitEvent(['connected', 'error'])).value).toBe('ECONNREFUSED');
    const clientPort = Number((await client.waitLine('sockname')).split(':').pop());
    const clientPid = Number(await client.waitLine('pid'));
    const sent = await t.waitFor((e) => e.kind === 'sent' && e.lport === port);
    const recv = await t.waitFor((e) => e.kind === 'received' && e.rport === port);
    expect(sent).toMatchObject({
      kind: 'sent', code: 11, codeKey: 'syn-unknown-port', reason: 'NO_SOCKET', family: 'ipv4',
      laddr: '127.0.0.1', lport: port, raddr: '127.0.0.1', rport: clientPort, state: null,
      pid: null, comm: null, attribution: 'none', cookie: null, unread: null, unsent: null,
    });
    expect(recv).toMatchObject({
      kind: 'received', code: 0, codeKey: 'remote-reset', reason: null, family: 'ipv4',
      laddr: '127.0.0.1', lport: clientPort, raddr: '127.0.0.1', rport: port, state: 'SYN_SENT',
      pid: clientPid, comm: 'rstpeer', unread: 0, unsent: 0,
    });
    expect(['context', 'owner']).toContain(recv.attribution);
    expect(recv.cookie).toMatch(/^\d+$/);
    expect(recv.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(Math.abs(Date.parse(recv.time) - Date.now())).toBeLessThan(60_000);
    // the contract: every field, in order, null where unknown
    expect(Object.keys(JSON.parse(t.stdout().split('\n')[0])).slice(0, 20)).toEqual(EVENT_FIELDS.slice(0, 20));
    await client.exited;
  });

  it('reports a refused IPv6 connect with IPv6 addresses', async () => {
    const port = await closedPort('tcp6');
    const t = await startTracer(['--port', String(port)]);
    const client = spawnPeer(['tcp6', `connect=[::1]:${port}`, 'sockname']);
    expect((await client.waitEvent(['connected', 'error'])).value).toBe('ECONNREFUSED');
    const clientPort = Number((await client.waitLine('sockname')).split(':').pop());
    const sent = await t.waitFor((e) => e.kind === 'sent' && e.lport === port);
    const recv = await t.waitFor((e) => e.kind === 'received' && e.rport === port);
    expect(sent).toMatchObject({ code: 11, family: 'ipv6', laddr: '::1', raddr: '::1', lport: port, rport: clientPort, state: null });
    expect(recv).toMatchObject({ code: 0, family: 'ipv6', laddr: '::1', raddr: '::1', lport: clientPort, rport: port, state: 'SYN_SENT' });
    await client.exited;
  });

  it('reports a linger-0 abort between two processes as a sent and a received reset on the right ports', async () => {
    const server = spawnPeer(['tcp4', 'bind=127.0.0.1:0', 'listen=8', 'port', 'accept', 'wait', 'linger0', 'close', 'pid']);
    const port = Number(await server.waitLine('port'));
    const t = await startTracer(['--port', String(port)]);
    const client = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`, 'sockname', 'pid', 'wait-error']);
    await client.waitLine('connected');
    const clientPort = Number((await client.waitLine('sockname')).split(':').pop());
    const clientPid = Number(await client.waitLine('pid'));
    await server.waitLine('waiting');
    server.send('go');
    const serverPid = Number(await server.waitLine('pid'));
    expect(await client.waitLine('error')).toBe('ECONNRESET');
    const sent = await t.waitFor((e) => e.kind === 'sent' && e.lport === port && e.rport === clientPort);
    const recv = await t.waitFor((e) => e.kind === 'received' && e.lport === clientPort && e.rport === port);
    expect(sent).toMatchObject({ code: 6, reason: 'TCP_STATE', state: 'ESTABLISHED', pid: serverPid, attribution: 'context' });
    expect(recv).toMatchObject({ code: 0, state: 'ESTABLISHED', pid: clientPid, comm: 'rstpeer' });
    expect(recv.attribution).toBe('owner'); // processed in the server's task: the owner map names the client
    await Promise.all([client.exited, server.exited]);
  });
});

describe('rstrace trace lifecycle', () => {
  it('on SIGINT detaches, prints a one-line summary on stderr and exits 0, leaving no BPF link', async () => {
    const t = await startTracer(['--port', '1']);
    const held = linksHeldBy(t.child.pid!);
    expect(held.length).toBeGreaterThanOrEqual(3); // send_reset, receive_reset, set_state at least
    expect(await t.stop('SIGINT')).toBe(0);
    expect(t.stderr()).toMatch(/^rstrace: \d+ events, \d+ lost, \d+ filtered$/m);
    expect(await waitGone(held)).toEqual([]);
    expect(t.stdout()).toBe('');
  });

  it('on SIGTERM also exits 0 with the summary', async () => {
    const t = await startTracer(['--port', '1']);
    expect(await t.stop('SIGTERM')).toBe(0);
    expect(t.stderr()).toMatch(/\d+ events, \d+ lost/);
  });

  it('without privileges fails with one line naming root or CAP_BPF and CAP_PERFMON, exit 1', () => {
    const r = spawnSync('setpriv', ['--inh-caps=-all', '--bounding-set=-all', RSTRACE, 'trace', '--duration', '1'], {
      encoding: 'utf8', timeout: 30_000,
    });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/root|CAP_BPF/);
    expect(lines[0]).toMatch(/CAP_PERFMON/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('stops by itself after --count events, printing exactly that many JSON lines', async () => {
    const port = await closedPort('tcp4');
    const t = await startTracer(['--port', String(port), '--count', '3']);
    for (let i = 0; i < 3; i++) {
      const c = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]);
      await c.exited;
    }
    expect(await t.exited).toBe(0);
    const lines = t.stdout().trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(JSON.parse(l).lport === port || JSON.parse(l).rport === port).toBe(true);
  });

  it('stops by itself after --duration and prints the human table without --json', async () => {
    const port = await closedPort('tcp4');
    const t = await startTracer(['--port', String(port), '--duration', '2'], { json: false });
    const c = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]);
    await c.exited;
    const started = Date.now();
    expect(await t.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    const out = t.stdout();
    expect(out.split('\n')[0]).toMatch(/^TIME\s+KIND\s+CODE\s+PID\s+COMM\s+LOCAL\s+REMOTE\s+STATE\s+REASON\s+WHY$/);
    expect(out).toMatch(new RegExp(`sent\\s+11\\s+-\\s+-\\s+127\\.0\\.0\\.1:${port}\\s`));
    expect(out).toMatch(/received\s+0\s+\d+\s+rstpeer/);
  });

  it('rejects a bad option value with one line and exit 2', () => {
    const r = spawnSync(RSTRACE, ['trace', '--count', 'many'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--count/);
  });
});

describe('filters', () => {
  it('--pid keeps only that owner\'s resets (in the kernel) and reports what it filtered', async () => {
    const server = spawnPeer(['tcp4', 'bind=127.0.0.1:0', 'listen=8', 'port', 'accept', 'accept', 'wait', 'close']);
    const port = Number(await server.waitLine('port'));
    const a = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`, 'pid', 'wait', 'linger0', 'close']);
    const b = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`, 'pid', 'wait', 'linger0', 'close']);
    const pidA = Number(await a.waitLine('pid'));
    const pidB = Number(await b.waitLine('pid'));
    const t = await startTracer(['--pid', String(pidA)]);
    await a.waitLine('waiting');
    await b.waitLine('waiting');
    a.send('go');
    b.send('go');
    await Promise.all([a.exited, b.exited]);
    await t.waitFor((e) => e.kind === 'sent' && e.pid === pidA && e.rport === port);
    await new Promise((r) => setTimeout(r, 300));
    server.send('go');
    await t.stop();
    const ours = t.events.filter((e) => e.lport === port || e.rport === port);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((e) => e.pid === pidA)).toBe(true);
    expect(ours.some((e) => e.pid === pidB)).toBe(false);
    const filtered = Number(/(\d+) filtered/.exec(t.stderr())![1]);
    expect(filtered).toBeGreaterThan(0);
  });

  it('--code and --kind filter in user space', async () => {
    const port = await closedPort('tcp4');
    const t = await startTracer(['--port', String(port), '--code', 'syn-unknown-port', '--kind', 'sent']);
    const c = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]);
    await c.exited;
    await t.waitFor((e) => e.lport === port);
    await new Promise((r) => setTimeout(r, 200));
    await t.stop();
    expect(t.events.filter((e) => e.lport === port || e.rport === port).map((e) => [e.kind, e.code])).toEqual([['sent', 11]]);
    expect(t.stderr()).toMatch(/[1-9]\d* filtered/);
  });
});

describe('trace file written live', () => {
  it('export prints exactly, line for line, what --json printed live for the same events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rstrace-live-'));
    try {
      const file = join(dir, 'live.rstrace');
      const port = await closedPort('tcp4');
      const t = await startTracer(['--port', String(port), '-o', file]);
      for (let i = 0; i < 3; i++) await spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]).exited;
      await t.waitFor((e) => e.kind === 'received' && e.rport === port && t.events.length >= 6);
      expect(await t.stop()).toBe(0);
      const exported = spawnSync(RSTRACE, ['export', file], { encoding: 'utf8' });
      expect(exported.status).toBe(0);
      expect(exported.stdout).toBe(t.stdout());
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with a user-space filter (--code) the file holds exactly what the filtered live --json printed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rstrace-filter-'));
    try {
      const file = join(dir, 'filtered.rstrace');
      const port = await closedPort('tcp4');
      const t = await startTracer(['--port', String(port), '--code', 'syn-unknown-port', '-o', file]);
      for (let i = 0; i < 3; i++) await spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]).exited;
      await t.waitFor(() => t.events.length >= 3);
      await new Promise((r) => setTimeout(r, 200));
      expect(await t.stop()).toBe(0);
      expect(t.events.map((e) => e.code)).toEqual([11, 11, 11]);
      const exported = spawnSync(RSTRACE, ['export', file], { encoding: 'utf8' });
      expect(exported.status).toBe(0);
      expect(exported.stdout).toBe(t.stdout());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with -o alone (nothing classified live) export equals what a --json tracer printed for the same resets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rstrace-raw-'));
    try {
      const file = join(dir, 'only.rstrace');
      const port = await closedPort('tcp4');
      const quiet = await startTracer(['--port', String(port), '-o', file], { json: false });
      const t = await startTracer(['--port', String(port)]);
      for (let i = 0; i < 3; i++) await spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]).exited;
      await t.waitFor(() => t.events.length >= 6);
      await new Promise((r) => setTimeout(r, 200));
      expect(await t.stop()).toBe(0);
      expect(await quiet.stop()).toBe(0);
      const exported = spawnSync(RSTRACE, ['export', file], { encoding: 'utf8' });
      expect(exported.status).toBe(0);
      // each tracer takes its own boot-to-wall offset at start: times differ by microseconds, nothing else may
      const untimed = (text: string): string => text.replace(/"time":"[^"]*",/g, '');
      expect(untimed(exported.stdout)).toBe(untimed(t.stdout()));
      expect(exported.stdout.split('\n').length).toBe(7);
      expect(t.events.map((e) => [e.kind, e.code])).toEqual([['sent', 11], ['received', 0], ['sent', 11], ['received', 0], ['sent', 11], ['received', 0]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('after kill -9 the file still yields every event flushed before the kill', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rstrace-kill-'));
    try {
      const file = join(dir, 'killed.rstrace');
      const port = await closedPort('tcp4');
      const t = await startTracer(['--port', String(port), '-o', file]);
      for (let i = 0; i < 2; i++) await spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]).exited;
      await t.waitFor(() => t.events.filter((x) => x.lport === port || x.rport === port).length >= 4);
      await new Promise((r) => setTimeout(r, 1500)); // the file is flushed at least once a second
      t.child.kill('SIGKILL');
      await t.exited;
      const exported = spawnSync(RSTRACE, ['export', file], { encoding: 'utf8' });
      expect(exported.status).toBe(0);
      expect(exported.stdout).toBe(t.stdout());
      const report = spawnSync(RSTRACE, ['report', file, '--json'], { encoding: 'utf8' });
      expect(report.status).toBe(0);
      expect(JSON.parse(report.stdout).total).toBe(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});


describe('command line', () => {
  it('an unknown command is a usage error, not a trace', () => {
    const r = spawnSync(RSTRACE, ['bogus'], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("rstrace: unknown command 'bogus': see 'rstrace --help' for the commands");
  });

  it('help names every command', () => {
    const r = spawnSync(RSTRACE, ['--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const c of ['trace', 'report', 'export', 'codes', 'doctor', 'metrics']) expect(r.stdout).toContain(c);
  });
});
