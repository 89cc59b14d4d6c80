/**
 * Bad conditions, for real: overload with a stopped consumer, kill -9, two
 * tracers at once, hostile process names, a kernel without sk_rst_reason.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnPeer, RSTPEER } from '../helpers/peer.js';
import { cleanup } from '../helpers/netns.js';
import { RSTRACE, startTracer, stopAllTracers } from '../helpers/tracer.js';
import { linksHeldBy, waitGone } from '../helpers/bpf.js';
import { readTraceFile } from '../../src/tracefile/reader.js';

const LOADGEN = new URL('../../bench/build/loadgen', import.meta.url).pathname;
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rstrace-test-'));
  dirs.push(d);
  return d;
}

afterEach(async () => {
  await stopAllTracers();
  await cleanup();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function closedPort(): Promise<number> {
  const p = spawnPeer(['tcp4', 'bind=127.0.0.1:0', 'port', 'close']);
  const port = Number(await p.waitLine('port'));
  await p.exited;
  return port;
}

describe('overload', () => {
  it('counts losses when the consumer is stopped during a storm, reports them live, in the trailer and in report, and recovers', async () => {
    const port = await closedPort();
    const file = join(tempDir(), 'storm.rstrace');
    const t = await startTracer(['--port', String(port), '-o', file], { json: false });
    const pid = t.child.pid!;
    process.kill(pid, 'SIGSTOP');
    // 16 MiB of ring buffer is ~110k records: a 2 s storm of refused connects overflows it.
    const storm = spawnSync(LOADGEN, ['--mode', 'refused', '--threads', '2', '--seconds', '2', '--count', '2000000', '--port', String(port)], { encoding: 'utf8', timeout: 30_000 });
    expect(storm.status).toBe(0);
    process.kill(pid, 'SIGCONT');
    // It recovers: a reset after the overload is still delivered.
    await new Promise((r) => setTimeout(r, 1500));
    const after = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]);
    await after.exited;
    await new Promise((r) => setTimeout(r, 500));
    expect(await t.stop()).toBe(0);
    expect(t.stderr()).toMatch(/warning: \d+ events lost in the kernel \(ring buffer full\)/);
    const summary = /(\d+) events, (\d+) lost/.exec(t.stderr());
    expect(summary).not.toBeNull();
    const lost = Number(summary![2]);
    expect(lost).toBeGreaterThan(0);
    const trace = readTraceFile(file);
    expect(trace.trailer?.lost).toBe(lost);
    const attempts = JSON.parse(storm.stdout).attempts as number;
    // delivered + lost accounts for every reset of the storm (two per connect) and the late one
    expect(trace.events.length + lost).toBeGreaterThanOrEqual(2 * attempts);
    expect(trace.events.at(-1)?.kind).toBe('received');
    const report = spawnSync(RSTRACE, ['report', file, '--json'], { encoding: 'utf8' });
    expect(report.status).toBe(0);
    expect(JSON.stringify(JSON.parse(report.stdout))).toContain(`"lost":${lost}`);
  }, 60_000);
});

describe('exits', () => {
  it('after kill -9 no BPF link or program of the tracer stays attached', async () => {
    const t = await startTracer(['--port', '1']);
    const held = linksHeldBy(t.child.pid!);
    expect(held.length).toBeGreaterThanOrEqual(3);
    t.child.kill('SIGKILL');
    await t.exited;
    expect(await waitGone(held)).toEqual([]);
  });

  it('SIGHUP also flushes, writes the trailer and exits 0', async () => {
    const file = join(tempDir(), 'hup.rstrace');
    const t = await startTracer(['--port', '1', '-o', file], { json: false });
    expect(await t.stop('SIGHUP')).toBe(0);
    expect(readTraceFile(file).trailer).not.toBeNull();
  });

  it('two tracers at once work independently and both see the same reset', async () => {
    const port = await closedPort();
    const a = await startTracer(['--port', String(port)]);
    const b = await startTracer(['--port', String(port)]);
    const c = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]);
    await c.exited;
    const ea = await a.waitFor((e) => e.lport === port && e.code === 11);
    const eb = await b.waitFor((e) => e.lport === port && e.code === 11);
    expect(ea.rport).toBe(eb.rport);
    expect(await a.stop()).toBe(0);
    // b keeps working after a detached
    const c2 = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`]);
    await c2.exited;
    await b.waitFor((e) => e.lport === port && e.rport !== ea.rport && e.code === 11);
  });
});

describe('hostile input', () => {
  it('prints a process name with terminal escape sequences inert in the table', async () => {
    const dir = tempDir();
    const evil = join(dir, 'x\u001b[2Jevil');
    copyFileSync(RSTPEER, evil);
    spawnSync('chmod', ['+x', evil]);
    const server = spawnPeer(['tcp4', 'bind=127.0.0.1:0', 'listen=4', 'port', 'accept', 'sleep=300', 'close']);
    const port = Number(await server.waitLine('port'));
    const t = await startTracer(['--port', String(port)], { json: false });
    const client = spawn(evil, ['tcp4', `connect=127.0.0.1:${port}`, 'send=10', 'wait-error'], { stdio: 'ignore' });
    await new Promise((r) => client.on('exit', r));
    await server.exited;
    await new Promise((r) => setTimeout(r, 300));
    await t.stop();
    const out = t.stdout();
    expect(out).toContain('x\\x1b[2Jevil');
    expect(out).not.toContain('\u001b');
  });
});

describe('kernel variance', () => {
  it('without sk_rst_reason (pretended) reasons are null and codes are still right', async () => {
    const server = spawnPeer(['tcp4', 'bind=127.0.0.1:0', 'listen=4', 'port', 'accept', 'wait', 'close', 'pid']);
    const port = Number(await server.waitLine('port'));
    const t = await startTracer(['--port', String(port), '--assume-no-reason']);
    const client = spawnPeer(['tcp4', `connect=127.0.0.1:${port}`, 'send=100', 'wait-error']);
    await server.waitLine('waiting');
    // the server closes only once the 100 bytes are queued for it (else it is a clean close)
    expect(await client.waitLine('sent')).toBe('100');
    await new Promise((r) => setTimeout(r, 100));
    server.send('go');
    const serverPid = Number(await server.waitLine('pid'));
    const sent = await t.waitFor((e) => e.kind === 'sent' && e.lport === port);
    expect(sent).toMatchObject({ code: 16, reason: null, unread: 100, pid: serverPid, state: 'ESTABLISHED' });
    await client.exited;
    const closed = await closedPort();
    const t2 = await startTracer(['--port', String(closed), '--assume-no-reason']);
    const c = spawnPeer(['tcp4', `connect=127.0.0.1:${closed}`]);
    await c.exited;
    expect(await t2.waitFor((e) => e.kind === 'sent' && e.lport === closed)).toMatchObject({ code: 11, reason: null });
  });
});
