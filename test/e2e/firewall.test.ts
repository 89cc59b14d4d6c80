/**
 * Firewall-made RSTs (code 4): an nftables `reject with tcp reset` rule in a namespace of the
 * test's own answers a SYN although a server listens there, over IPv4 and IPv6, in the input hook
 * (the rule is on the server's side) and in the output hook (on the client's side: the RST goes
 * to the local client over lo). The tracer reports a `sent` RST in the rejecting namespace with no
 * owner, and the client's `received` event says this host's firewall made it. Plain `reject`
 * answers with ICMP: code 9 on the client, and no code 4. tcpdump agrees RST for RST.
 */
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResetEvent } from '../../src/event.js';
import { compareRsts, rstCapture } from '../helpers/forged.js';
import { cleanup, netnsInode, nft, run, sysctl, vethPair } from '../helpers/netns.js';
import { endpoint, scope, sleep, type Scope } from '../helpers/scenarios.js';
import { RSTRACE, stopAllTracers } from '../helpers/tracer.js';

afterAll(async () => {
  await stopAllTracers();
  await cleanup();
});

const FAMILIES = [
  { peer: 'tcp4', family: 'ipv4', a: '10.199.2.1', b: '10.199.2.2', any: '0.0.0.0' },
  { peer: 'tcp6', family: 'ipv6', a: 'fd00:199:2::1', b: 'fd00:199:2::2', any: '::' },
] as const;

const RULES = `table inet rsth1 {
  chain input { type filter hook input priority 0; policy accept; tcp dport 8080 reject with tcp reset; tcp dport 8082 reject; }
  chain output { type filter hook output priority 0; policy accept; tcp dport 8081 reject with tcp reset; }
}
`;

/** a (clients) and b (the firewall, and a server listening on 8080), joined by h1a <-> h1b. */
async function stage(s: Scope, f: (typeof FAMILIES)[number]) {
  const a = await s.netns('rsth1a');
  const b = await s.netns('rsth1b');
  await vethPair(a, b, {
    addrA: '10.199.2.1/24', addrB: '10.199.2.2/24', addr6A: 'fd00:199:2::1/64', addr6B: 'fd00:199:2::2/64', ifA: 'h1a', ifB: 'h1b',
  });
  await nft(b, RULES);
  const srv = s.peer([f.peer, `bind=${endpoint(f.any, 8080)}`, 'listen=8', 'port', 'wait'], { netns: b });
  await srv.waitLine('port');
  const t = await s.tracer(['--firewall', '--netns', `${netnsInode(a)},${netnsInode(b)}`]);
  return { a, b, t };
}

/** A client bound to `from` (so that its port is known before it connects) in `ns`. */
async function connectFrom(s: Scope, ns: string, f: (typeof FAMILIES)[number], from: string, to: string, port: number) {
  const cli = s.peer([f.peer, `bind=${endpoint(from, 0)}`, 'pid', 'port', `connect=${endpoint(to, port)}`], { netns: ns });
  const pid = Number(await cli.waitLine('pid'));
  const cport = Number(await cli.waitLine('port'));
  return { cli, pid, cport };
}

describe('firewall-made RSTs in the forward hook (code 4)', () => {
  it('ipv4: a router namespace rejects a forwarded SYN: sent 4 in the router, tcpdump agrees there and on the client', async (ctx) => {
    const s = scope(ctx);
    const [c, r, v] = [await s.netns('rsth1c'), await s.netns('rsth1r'), await s.netns('rsth1v')];
    await vethPair(c, r, { addrA: '10.199.3.2/24', addrB: '10.199.3.1/24', ifA: 'h1c', ifB: 'h1rc' });
    await vethPair(v, r, { addrA: '10.199.4.2/24', addrB: '10.199.4.1/24', ifA: 'h1v', ifB: 'h1rv' });
    await sysctl(r, 'net.ipv4.ip_forward', 1);
    await run(['ip', '-n', c, 'route', 'add', 'default', 'via', '10.199.3.1']);
    await run(['ip', '-n', v, 'route', 'add', 'default', 'via', '10.199.4.1']);
    await nft(r, 'table inet rsth1 {\n  chain forward { type filter hook forward priority 0; policy accept; tcp dport 8080 reject with tcp reset; }\n}\n');
    const srv = s.peer(['tcp4', 'bind=0.0.0.0:8080', 'listen=8', 'port', 'wait'], { netns: v });
    await srv.waitLine('port');
    const t = await s.tracer(['--firewall', '--netns', [c, r, v].map((n) => netnsInode(n)).join(',')]);
    const [capC, capR] = [await rstCapture(ctx, c), await rstCapture(ctx, r)];
    const cli = s.peer(['tcp4', 'bind=10.199.3.2:0', 'port', 'connect=10.199.4.2:8080'], { netns: c });
    const cport = Number(await cli.waitLine('port'));
    expect(await cli.waitLine('error')).toBe('ECONNREFUSED');
    expect(await t.waitFor((e: ResetEvent) => e.kind === 'sent' && e.rport === cport)).toMatchObject({
      code: 4, laddr: '10.199.4.2', lport: 8080, raddr: '10.199.3.2', pid: null, attribution: 'none', netns: netnsInode(r),
    });
    await t.waitFor((e: ResetEvent) => e.kind === 'received' && e.lport === cport);
    expect(compareRsts(await capR.stop(), t.events, netnsInode(r))).toEqual({ missing: [], extra: [] });
    expect(compareRsts(await capC.stop(), t.events, netnsInode(c))).toEqual({ missing: [], extra: [] });
    expect(t.events.filter((e) => e.netns === netnsInode(v))).toEqual([]);
  });
});

describe('firewall-made RSTs (code 4)', () => {
  for (const f of FAMILIES) {
    it(`${f.family}: input hook, listener present: sent 4 in the rejecting namespace (no owner), the client's received says firewall`, async (ctx) => {
      const s = scope(ctx);
      const { a, b, t } = await stage(s, f);
      const [capA, capB] = [await rstCapture(ctx, a), await rstCapture(ctx, b)];
      const { cli, cport } = await connectFrom(s, a, f, f.a, f.b, 8080);
      expect(await cli.waitLine('error')).toBe('ECONNREFUSED');
      const sent = await t.waitFor((e: ResetEvent) => e.kind === 'sent' && e.rport === cport);
      expect(sent).toMatchObject({
        code: 4, codeKey: 'firewall-reject', reason: null, family: f.family, laddr: f.b, lport: 8080, raddr: f.a, rport: cport,
        state: null, pid: null, comm: null, attribution: 'none', netns: netnsInode(b), explanation: 'rejected by a firewall rule: SYN to :8080',
      });
      const received = await t.waitFor((e: ResetEvent) => e.kind === 'received' && e.lport === cport);
      expect(received).toMatchObject({ code: 0, state: 'SYN_SENT', netns: netnsInode(a), explanation: 'connection refused by a firewall rule on this host, not by an application' });
      expect(compareRsts(await capA.stop(), t.events, netnsInode(a))).toEqual({ missing: [], extra: [] });
      expect(compareRsts(await capB.stop(), t.events, netnsInode(b))).toEqual({ missing: [], extra: [] });
      expect(t.events.filter((e) => e.code === 4)).toHaveLength(1);
    });

    it(`${f.family}: without --firewall net_dev_queue is not attached: no code 4, the client's RST reads as the peer's`, async (ctx) => {
      const s = scope(ctx);
      const a = await s.netns('rsth1a');
      const b = await s.netns('rsth1b');
      await vethPair(a, b, { addrA: '10.199.2.1/24', addrB: '10.199.2.2/24', addr6A: 'fd00:199:2::1/64', addr6B: 'fd00:199:2::2/64', ifA: 'h1a', ifB: 'h1b' });
      await nft(b, RULES);
      const t = await s.tracer(['--netns', `${netnsInode(a)},${netnsInode(b)}`]);
      expect(t.stderr()).not.toContain('handle_net_dev_queue');
      const { cli, cport } = await connectFrom(s, a, f, f.a, f.b, 8080);
      expect(await cli.waitLine('error')).toBe('ECONNREFUSED');
      expect(await t.waitFor((e: ResetEvent) => e.kind === 'received' && e.lport === cport)).toMatchObject({ code: 0, explanation: 'connection refused by the peer' });
      expect(t.events.filter((e) => e.code === 4)).toEqual([]);
    });

    it(`${f.family}: output hook: the RST to the local client is code 4 in its own namespace`, async (ctx) => {
      const s = scope(ctx);
      const { a, b, t } = await stage(s, f);
      const capB = await rstCapture(ctx, b);
      const { cli, cport } = await connectFrom(s, b, f, f.b, f.a, 8081);
      expect(await cli.waitLine('error')).toBe('ECONNREFUSED');
      expect(await t.waitFor((e: ResetEvent) => e.kind === 'sent' && e.rport === cport)).toMatchObject({
        code: 4, laddr: f.a, lport: 8081, raddr: f.b, rport: cport, pid: null, attribution: 'none', netns: netnsInode(b),
      });
      expect(await t.waitFor((e: ResetEvent) => e.kind === 'received' && e.lport === cport)).toMatchObject({
        code: 0, state: 'SYN_SENT', netns: netnsInode(b), explanation: 'connection refused by a firewall rule on this host, not by an application',
      });
      expect(compareRsts(await capB.stop(), t.events, netnsInode(b))).toEqual({ missing: [], extra: [] });
      expect(t.events.filter((e) => e.netns === netnsInode(a))).toEqual([]);
    });

    it(`${f.family}: the stack's own RSTs (socket-less and a full socket's) are not code 4, and tcpdump agrees`, async (ctx) => {
      const s = scope(ctx);
      const { a, b, t } = await stage(s, f);
      const [capA, capB] = [await rstCapture(ctx, a), await rstCapture(ctx, b)];
      const { cli, cport } = await connectFrom(s, a, f, f.a, f.b, 9999);
      expect(await cli.waitLine('error')).toBe('ECONNREFUSED');
      const { srv, cli: aborter, clientPort } = await s.connection(b, f.b, ['wait'], ['linger0', 'close', 'wait'], { clientNetns: a });
      expect(await aborter.waitLine('closed')).toBe('');
      const abort = await t.waitFor((e: ResetEvent) => e.kind === 'sent' && e.lport === clientPort);
      expect(abort.code).toBe(6);
      expect((await t.waitFor((e: ResetEvent) => e.kind === 'sent' && e.rport === cport)).code).toBe(11);
      await t.waitFor((e: ResetEvent) => e.kind === 'received' && e.rport === clientPort);
      srv.send();
      expect(compareRsts(await capA.stop(), t.events, netnsInode(a))).toEqual({ missing: [], extra: [] });
      expect(compareRsts(await capB.stop(), t.events, netnsInode(b))).toEqual({ missing: [], extra: [] });
      expect(t.events.filter((e) => e.code === 4)).toEqual([]);
    });

    it(`${f.family}: plain reject answers with ICMP: abort 9 on the client, no code 4, no RST`, async (ctx) => {
      const s = scope(ctx);
      const { a, b, t } = await stage(s, f);
      const [capA, capB] = [await rstCapture(ctx, a), await rstCapture(ctx, b)];
      const { cli, cport } = await connectFrom(s, a, f, f.a, f.b, 8082);
      expect(await cli.waitLine('error')).toBe('ECONNREFUSED');
      expect(await t.waitFor((e: ResetEvent) => e.lport === cport)).toMatchObject({ kind: 'abort', code: 9, state: 'SYN_SENT' });
      expect(await capA.stop()).toEqual([]);
      expect(await capB.stop()).toEqual([]);
      expect(t.events.filter((e) => e.code === 4 || e.rport === cport)).toEqual([]);
    });
  }
});

describe('firewall-made RSTs in the agent (metrics --firewall)', () => {
  it('ipv4: rstrace metrics --firewall counts the rejecting namespace\'s RST as kind="sent", code="4"', async (ctx) => {
    const s = scope(ctx);
    const a = await s.netns('rsth1ma');
    const b = await s.netns('rsth1mb');
    await vethPair(a, b, { addrA: '10.199.3.1/24', addrB: '10.199.3.2/24', ifA: 'h1ma', ifB: 'h1mb' });
    await nft(b, RULES);
    const child = spawn(RSTRACE, ['metrics', '--firewall', '--listen', '127.0.0.1:0', '--netns', String(netnsInode(b))],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
    try {
      for (let i = 0; i < 100 && !/attached/.test(err); i++) await sleep(100);
      const url = /serving metrics on (\S+)/.exec(err)?.[1];
      expect(url, err).toBeDefined();
      const { cli } = await connectFrom(s, a, FAMILIES[0], '10.199.3.1', '10.199.3.2', 8080);
      expect(await cli.waitLine('error')).toBe('ECONNREFUSED');
      const series = 'rstrace_resets_total{kind="sent",code="4",code_key="firewall-reject",comm="kernel"';
      let text = '';
      for (let i = 0; i < 50 && !text.includes(series); i++) { // bounded: a poll interval or two
        await sleep(100);
        text = await (await fetch(url!)).text();
      }
      expect(text.split('\n').filter((l) => l.startsWith(series)).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)))).toEqual([1]);
    } finally {
      child.kill('SIGINT');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    }
  });
});
