/**
 * The completeness check against the kernel's own TcpOutRsts, on the real
 * kernel, in namespaces this test creates: a mixed run (refused connects,
 * SO_LINGER {1,0} aborts, over IPv4 and IPv6, in three namespaces) with a
 * --port filter so that some RSTs are dropped in the kernel; and a real
 * mismatch: an IPv6 RST the stack hooks but cannot route back (no route to
 * the SYN's source), so tcp_send_reset fires and TcpOutRsts does not move
 * (tcp_v6_send_response counts only after a successful route lookup).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { NetnsCheck } from '../../src/completeness/check.js';
import { readTraceFile } from '../../src/tracefile/reader.js';
import { cleanup, createNetns, netnsInode, run, vethPair } from '../helpers/netns.js';
import { spawnPeer } from '../helpers/peer.js';
import { RSTRACE, startTracer, stopAllTracers } from '../helpers/tracer.js';

const KEPT = 4101;
const FILTERED = 4102;
const dir = mkdtempSync(join(tmpdir(), 'rsth2-'));

afterEach(async () => {
  await stopAllTracers();
  await cleanup();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Steps of one rstpeer run: `refusedKept` + `refusedFiltered` refused connects, then one linger-0 abort on KEPT. */
function mixedSteps(family: 'tcp4' | 'tcp6', refusedKept: number, refusedFiltered: number): string[] {
  const host = family === 'tcp4' ? '127.0.0.1' : '[::1]';
  const steps: string[] = [];
  for (let i = 0; i < refusedKept; i++) steps.push(family, `connect=${host}:${KEPT}`, 'close');
  for (let i = 0; i < refusedFiltered; i++) steps.push(family, `connect=${host}:${FILTERED}`, 'close');
  // the listener on KEPT accepts; the accepted end aborts: one active RST (tcp_send_active_reset)
  steps.push(family, 'reuseaddr', `bind=${host}:${KEPT}`, 'listen=4', family, `connect=${host}:${KEPT}`, 'listener', 'accept', 'linger0', 'close');
  return steps;
}

function entryOf(kernel: readonly NetnsCheck[] | null, netns: number): NetnsCheck {
  const e = kernel?.find((c) => c.netns === netns);
  if (!e) throw new Error(`no kernel check entry for netns ${netns}: ${JSON.stringify(kernel)}`);
  return e;
}

async function reportJson(file: string): Promise<{ kernel: NetnsCheck[] | null }> {
  const { stdout } = await promisify(execFile)(RSTRACE, ['report', '--json', file]);
  return JSON.parse(stdout) as { kernel: NetnsCheck[] | null };
}

describe('completeness check against TcpOutRsts', () => {
  it('is equal per namespace after a mixed run, with the RSTs filtered in the kernel counted as not delivered', async () => {
    const plan = [
      { family: 'tcp4' as const, kept: 2, filtered: 2 },
      { family: 'tcp4' as const, kept: 3, filtered: 1 },
      { family: 'tcp6' as const, kept: 1, filtered: 3 },
    ];
    const names = [];
    for (let i = 0; i < plan.length; i++) names.push(await createNetns(`rsth2-mix${i}`));
    const file = join(dir, 'mixed.rstrace');
    const tracer = await startTracer(['--port', String(KEPT), '-o', file, '--table'], { json: false });
    for (let i = 0; i < plan.length; i++) {
      const peer = spawnPeer(mixedSteps(plan[i].family, plan[i].kept, plan[i].filtered), { netns: names[i] });
      const exit = await peer.exited;
      expect(exit.code).toBe(0);
    }
    expect(await tracer.stop()).toBe(0);
    const stderr = tracer.stderr();

    const { trailer } = readTraceFile(file);
    const fromReport = (await reportJson(file)).kernel;
    for (let i = 0; i < plan.length; i++) {
      const netns = netnsInode(names[i]);
      const sent = plan[i].kept + plan[i].filtered + 1;
      const want: NetnsCheck = {
        netns, name: names[i], outRsts: sent, hooked: sent, slack: 0,
        seenSent: plan[i].kept + 1, notDelivered: plan[i].filtered, status: 'equal', note: null,
      };
      expect(entryOf(trailer?.kernel ?? null, netns)).toEqual(want);
      expect(entryOf(fromReport, netns)).toEqual(want);
      expect(stderr).toContain(`netns ${netns} (${names[i]}): TcpOutRsts +${sent} = hook ${sent}; ${plan[i].kept + 1} seen, ${plan[i].filtered} filtered or lost`);
      expect(stderr).not.toContain(`kernel check: netns ${netns} (`);
    }
  });

  it('checks a namespace created during the trace from the moment it is found (a process in it, seen through the hook)', async () => {
    const file = join(dir, 'late.rstrace');
    const tracer = await startTracer(['-o', file, '--table'], { json: false });
    const late = await createNetns('rsth2-late');
    // one refused connect makes the namespace known to the hook; the tracer finds it within a
    // second (its process is still there, sleeping); then two more, inside the checked window
    const refused = ['tcp4', `connect=127.0.0.1:${KEPT}`, 'close'];
    const peer = spawnPeer([...refused, 'sleep=3000', ...refused, ...refused], { netns: late });
    expect((await peer.exited).code).toBe(0);
    expect(await tracer.stop()).toBe(0);
    const entry = entryOf(readTraceFile(file).trailer?.kernel ?? null, netnsInode(late));
    expect(entry).toMatchObject({ status: 'equal', outRsts: 2, hooked: 2, slack: 0, seenSent: 3, notDelivered: 0 });
    expect(entry.name).toMatch(/^(pid \d+ \(rstpeer\)|rsth2-late-.*)$/);
  });

  it('warns, naming the namespace and both numbers, when the kernel hooks an RST it does not count (IPv6, no route back)', async () => {
    const server = await createNetns('rsth2-srv');
    const client = await createNetns('rsth2-cli');
    const link = await vethPair(server, client, {
      addrA: '10.242.1.1/24', addrB: '10.242.1.2/24', addr6A: 'fd00:4242:1::1/64', addr6B: 'fd00:4242:1::2/64',
    });
    // a client address the server has no route to: its SYN arrives, the server's RST cannot leave
    await run(['ip', '-n', client, '-6', 'addr', 'add', 'fd00:4242:9::2/128', 'dev', link.ifB, 'nodad']);
    const file = join(dir, 'mismatch.rstrace');
    const tracer = await startTracer(['-o', file, '--table'], { json: false });
    const peer = spawnPeer(['timeout=1500', 'tcp6', 'bind=[fd00:4242:9::2]:0', 'syncnt=1', `connect=[${link.addr6A}]:${KEPT}`], { netns: client });
    expect(await peer.waitEvent(['timeout', 'error', 'connected'])).toEqual({ key: 'timeout', value: 'connect' });
    await peer.exited;
    expect(await tracer.stop()).toBe(0);

    const netns = netnsInode(server);
    const entry = entryOf(readTraceFile(file).trailer?.kernel ?? null, netns);
    expect(entry.status).toBe('differs');
    expect(entry.outRsts).toBe(0);
    expect(entry.hooked).toBeGreaterThanOrEqual(1); // the SYN, and each retransmission that arrived in time
    expect(entry.seenSent).toBe(entry.hooked);
    expect(entry.notDelivered).toBe(0);
    expect(tracer.stderr()).toContain(
      `rstrace: warning: kernel check: netns ${netns} (${server}): the kernel counted 0 RSTs sent (TcpOutRsts) but tcp_send_reset fired ${entry.hooked} times; ${entry.hooked} reached rstrace, 0 filtered or lost`);
    expect(entryOf((await reportJson(file)).kernel, netns)).toEqual(entry);
    const { stdout } = await promisify(execFile)(RSTRACE, ['report', file]);
    expect(stdout).toContain(`warning: kernel check: netns ${netns} (${server}): the kernel counted 0 RSTs sent (TcpOutRsts) but tcp_send_reset fired ${entry.hooked} times`);
  });
});
