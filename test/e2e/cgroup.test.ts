/**
 * Who, by name, end to end: real cgroups under the cgroup2 root (a service,
 * a docker-shaped scope, a containerd/CRI-shaped pod scope, and one that is
 * removed right after its reset, while the tracer is stopped and cannot have
 * read it yet), the test's peers moved into them, real refused connects on
 * loopback. Asserts the events' `cgroup` and `container`, the filters
 * (live and on the trace file, each including and excluding), the trace
 * file replayed after every cgroup is gone, and the metrics labels.
 * Every cgroup is named rsth3-*; only the test's own closed ports are looked at.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroup2Root } from '../../src/enrich/cgroup.js';
import { readTraceFile } from '../../src/tracefile/reader.js';
import type { ResetEvent } from '../../src/event.js';
import { freePort } from '../helpers/loopback.js';
import { spawnPeer } from '../helpers/peer.js';
import { RSTRACE, startTracer, stopAllTracers, type RunningTracer } from '../helpers/tracer.js';

const ROOT = cgroup2Root();
const SLICE = `/rsth3-${process.pid}.slice`;
const DOCKER_ID = randomBytes(32).toString('hex');
const CRI_ID = randomBytes(32).toString('hex');
const POD = `kubepods-besteffort-pod${randomBytes(4).toString('hex')}_1c2d_4e5f_8a9b_0c1d2e3f4a5b.slice`;

/** The cases, in the order their peers reset; each connects to its own closed port. */
const CASES = {
  gone: { path: `${SLICE}/rsth3-gone.service`, container: null },
  web: { path: `${SLICE}/rsth3-web.service`, container: null },
  docker: { path: `${SLICE}/docker-${DOCKER_ID}.scope`, container: DOCKER_ID },
  cri: { path: `${SLICE}/${POD}/cri-containerd-${CRI_ID}.scope`, container: CRI_ID },
} as const;
type Case = keyof typeof CASES;
const NAMES = Object.keys(CASES) as Case[];

const port: Record<string, number> = {};
let tmp = '';
let file = '';
let live: RunningTracer;
let byContainer: RunningTracer;
let byId: RunningTracer;
let notDocker: RunningTracer;
let metrics: { proc: ChildProcess; out: () => string; exited: Promise<number | null> } | undefined;
let metricsAddr = '';

function dir(path: string): string {
  return `${ROOT}${path}`;
}

/** rmdir, retried briefly: a peer that just exited may still be leaving its cgroup. */
async function removeCgroup(path: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if (existsSync(dir(path))) rmdirSync(dir(path));
      return;
    } catch (err) {
      if (i >= 50) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** A peer in `path`: moved there before it creates its socket, then a refused connect to `closed`. */
async function resetFrom(path: string, closed: number): Promise<void> {
  const peer = spawnPeer(['wait', 'tcp4', `connect=127.0.0.1:${closed}`]);
  await peer.waitLine('waiting');
  writeFileSync(join(dir(path), 'cgroup.procs'), String(peer.pid));
  peer.send();
  expect(await peer.waitLine('error')).toBe('ECONNREFUSED');
  await peer.exited;
}

const received = (events: ResetEvent[], c: Case): ResetEvent[] => events.filter((e) => e.kind === 'received' && e.rport === port[c]);

function rstrace(args: string[]): string {
  return execFileSync(RSTRACE, args, { encoding: 'utf8', timeout: 30_000 });
}

const exported = (...filter: string[]): ResetEvent[] =>
  rstrace(['export', file, '--format', 'jsonl', ...filter]).split('\n').filter(Boolean).map((l) => JSON.parse(l) as ResetEvent)
    .filter((e) => Object.values(port).includes(e.rport) || Object.values(port).includes(e.lport));

describe.skipIf(ROOT === null)(`cgroup, container and unit by name (cgroup2 at ${ROOT ?? 'nowhere: skipped'})`, () => {
  beforeAll(async () => {
    for (const c of NAMES) mkdirSync(dir(CASES[c].path), { recursive: true });
    for (const c of NAMES) port[c] = await freePort();
    const ports = Object.values(port).join(',');
    tmp = mkdtempSync(join(tmpdir(), 'rsth3-cgroup-'));
    file = join(tmp, 'trace.rst');
    // Started after the cgroups exist: the tree indexed at start names `gone` after it is removed.
    live = await startTracer(['--port', ports, '-o', file, '--duration', '120']);
    // one port each, so that the kernel filters by port too and the files' trailers count only our records
    byContainer = await startTracer(['--port', String(port.docker), '--container', DOCKER_ID.slice(0, 12), '-o', join(tmp, 'docker.rst'), '--duration', '120']);
    notDocker = await startTracer(['--port', String(port.web), '--container', DOCKER_ID, '-o', join(tmp, 'web.rst'), '--duration', '120']);
    // one numeric id: the kernel drops the other cgroups' records
    byId = await startTracer(['--port', ports, '--cgroup', String(statSync(dir(CASES.web.path)).ino), '--duration', '120']);
    metricsAddr = `127.0.0.1:${await freePort()}`;
    const proc = spawn(RSTRACE, ['metrics', '--listen', metricsAddr, '--port', ports, '--max-containers', '2', '--duration', '120'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => { out += c; });
    metrics = { proc, out: () => out, exited: new Promise((r) => proc.on('exit', (code) => r(code))) };
    for (let i = 0; i < 150 && !/attached/.test(out); i++) {
      if (proc.exitCode !== null) throw new Error(`rstrace metrics exited: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out).toMatch(/attached/);

    // `gone` first (no name was looked up yet): the main tracer is stopped before the reset and
    // resumed only after the cgroup is removed, so only the index made at start can name it.
    live.child.kill('SIGSTOP');
    try {
      await resetFrom(CASES.gone.path, port.gone);
      await removeCgroup(CASES.gone.path);
      expect(existsSync(dir(CASES.gone.path))).toBe(false);
    } finally {
      live.child.kill('SIGCONT');
    }
    await live.waitFor((e) => e.kind === 'received' && e.rport === port.gone);
    await resetFrom(CASES.web.path, port.web);
    await resetFrom(CASES.docker.path, port.docker);
    await resetFrom(CASES.cri.path, port.cri);
    await live.waitFor((e) => e.kind === 'received' && e.rport === port.cri);
    await byContainer.waitFor((e) => e.kind === 'received' && e.rport === port.docker);
    await byId.waitFor((e) => e.kind === 'received' && e.rport === port.web);
    expect(await live.stop()).toBe(0);
    // every cgroup is gone before the file is read
    for (const p of [CASES.web.path, CASES.docker.path, CASES.cri.path, `${SLICE}/${POD}`, SLICE]) await removeCgroup(p);
  }, 120_000);

  afterAll(async () => {
    await stopAllTracers();
    if (metrics && metrics.proc.exitCode === null) { metrics.proc.kill('SIGINT'); await metrics.exited; }
    for (const p of [...NAMES.map((c) => CASES[c].path), `${SLICE}/${POD}`, SLICE]) {
      try { await removeCgroup(p); } catch { /* reported by the test that needed it */ }
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('each received reset names its owner\'s cgroup path below the root and the container id the path names', () => {
    for (const c of NAMES) {
      const [e, ...more] = received(live.events, c);
      expect(more, c).toEqual([]);
      expect(e, c).toBeDefined();
      expect(e.comm, c).toBe('rstpeer');
      expect(e.cgroupId, c).toBeGreaterThan(0);
      expect(e.cgroup, c).toBe(CASES[c].path);
      expect(e.container, c).toBe(CASES[c].container);
    }
    // the kernel's own RST (no socket) belongs to no cgroup
    const sent = live.events.filter((e) => e.kind === 'sent' && e.lport === port.web);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((e) => e.cgroup === null && e.container === null)).toBe(true);
  });

  it('the trace file replayed after every cgroup is removed names them as the live trace did', () => {
    const mine = (events: ResetEvent[]): ResetEvent[] => NAMES.flatMap((c) => received(events, c));
    const replayed = exported();
    expect(mine(replayed).map((e) => [e.rport, e.cgroupId, e.cgroup, e.container]))
      .toEqual(mine(live.events).map((e) => [e.rport, e.cgroupId, e.cgroup, e.container]));
    expect(readFileSync(file).includes(Buffer.from(CASES.gone.path))).toBe(true); // a side record, not a lookup
  });

  it('--container filters in the kernel the cgroups that existed at the start (and resets with no socket)', async () => {
    expect(await byContainer.stop()).toBe(0);
    expect(await notDocker.stop()).toBe(0);
    expect(byContainer.events.map((e) => [e.kind, e.rport, e.container])).toEqual([['received', port.docker, DOCKER_ID]]);
    expect(notDocker.events).toEqual([]);
    // what reached user space: the docker peer's received RST only; the kernel's sent RST (no
    // socket) and the web peer's (a cgroup known not to match) never left the kernel
    expect(readTraceFile(join(tmp, 'docker.rst')).trailer?.delivered).toBe(1);
    expect(readTraceFile(join(tmp, 'web.rst')).trailer?.delivered).toBe(0);
  });

  it('--container keeps the container whose id starts so, from the file', () => {
    expect(exported('--container', CRI_ID.slice(0, 8)).map((e) => e.container)).toEqual([CRI_ID]);
    expect(exported('--container', `containerd://${CRI_ID}`).map((e) => e.rport)).toEqual([port.cri]);
  });

  it('--cgroup ID keeps exactly that cgroup (the kernel filter of a lone id, then user space)', async () => {
    expect(await byId.stop()).toBe(0);
    expect(byId.events.map((e) => [e.kind, e.rport, e.cgroup])).toEqual([['received', port.web, CASES.web.path]]);
  });

  it('--cgroup PATH keeps that cgroup and the ones below it; --unit the systemd unit', () => {
    expect(exported('--cgroup', SLICE).map((e) => e.rport).sort()).toEqual(NAMES.map((c) => port[c]).sort());
    expect(exported('--cgroup', `${SLICE}/${POD}`).map((e) => e.rport)).toEqual([port.cri]);
    expect(exported('--cgroup', `/sys/fs/cgroup${ROOT!.endsWith('/unified') ? '/unified' : ''}${CASES.web.path}`).map((e) => e.rport)).toEqual([port.web]);
    expect(exported('--cgroup', `${SLICE}/rsth3-we`)).toEqual([]);
    expect(exported('--unit', 'rsth3-gone').map((e) => e.rport)).toEqual([port.gone]);
    expect(exported('--unit', 'rsth3-web.service,rsth3-gone.service').map((e) => e.rport)).toEqual([port.gone, port.web]);
    expect(exported('--unit', 'rsth3-web.scope')).toEqual([]);
  });

  it('rstrace_resets_total carries the container or the unit, bounded by --max-containers', async () => {
    const want = (labels: string, n = 1): RegExp =>
      new RegExp(`^rstrace_resets_total\\{kind="received",code="0",code_key="remote-reset",comm="rstpeer",${labels}\\} ${n}$`, 'm');
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await (await fetch(`http://${metricsAddr}/metrics`)).text();
      if (want('container="other",unit=""', 2).test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // the first two groups by name (gone, web); past --max-containers 2 the containers as "other"
    expect(text).toMatch(want('container="",unit="rsth3-gone.service"'));
    expect(text).toMatch(want('container="",unit="rsth3-web.service"'));
    expect(text).toMatch(want('container="other",unit=""', 2));
    expect(text).not.toContain(DOCKER_ID);
    expect(text).not.toContain(CRI_ID);
    expect(metrics!.out()).toContain('more than 2 containers and units own resets');
  });
});
