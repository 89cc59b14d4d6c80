/**
 * What the benchmark and the soak share: running the load generator, starting
 * and stopping a tracer with a readiness line, sampling memory from /proc,
 * kernel BPF run-time statistics, and the small statistics of the report.
 * Everything here is bounded in time: a child that does not answer is killed.
 */
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const LOADGEN = join(REPO, 'bench/build/loadgen');
export const C_CONSUMER = join(REPO, 'bench/build/c-consumer');
export const BPF_OBJECT = join(REPO, 'build/rstrace.bpf.o');
export const RSTRACE = join(REPO, 'bin/rstrace');
/** Scratch files (trace files, pcaps); git ignores this folder. */
export const OUT_DIR = join(REPO, 'bench/out');

/** Every child we start, so that an interrupted run still ends them. */
const children = new Set<ChildProcess>();

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Builds the load generator the way the Makefile does, when it is missing or stale. */
export function ensureLoadgen(): void {
  const src = join(REPO, 'bench/loadgen.c');
  if (existsSync(LOADGEN) && statSync(LOADGEN).mtimeMs >= statSync(src).mtimeMs) return;
  mkdirSync(dirname(LOADGEN), { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', LOADGEN, src], { stdio: 'inherit' });
}

/** Builds the minimal C consumer the way the Makefile does, when it is missing or stale. */
export function ensureCConsumer(): string | undefined {
  const src = join(REPO, 'bench/c-consumer.c');
  if (existsSync(C_CONSUMER) && statSync(C_CONSUMER).mtimeMs >= statSync(src).mtimeMs) return undefined;
  try {
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libbpf'], { encoding: 'utf8' }).trim().split(/\s+/);
    mkdirSync(dirname(C_CONSUMER), { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', C_CONSUMER, src, ...flags], { stdio: 'inherit' });
    return undefined;
  } catch (e) {
    return `cannot build bench/c-consumer.c (libbpf-dev, pkg-config): ${(e as Error).message}`;
  }
}

export function ensureOutDir(): string {
  mkdirSync(OUT_DIR, { recursive: true });
  return OUT_DIR;
}

/* ------------------------------------------------------------------ load */

export type LoadMode = 'refused' | 'linger0' | 'churn' | 'pingpong';

export interface LoadOptions {
  mode: LoadMode;
  threads: number;
  seconds: number;
  /** total attempts cap: the generator stops at whichever cap comes first */
  count: number;
  /** attempts per second over all threads; unpaced when absent */
  rate?: number;
}

/** The generator's closing JSON line. */
export interface LoadResult {
  mode: LoadMode;
  threads: number;
  attempts: number;
  seconds: number;
  rate: number;
  /** attempts that provoked the reset pair as intended */
  resets: number;
  /** attempts that did what the mode intends (connections, round trips, reset pairs) */
  completed: number;
  errors: number;
  /** reset pairs provoked before the clock started (the closed-port check) */
  probes: number;
  port: number;
  /** the generator's own CPU time (user + system, all threads) */
  cpuSeconds: number;
  /** CPU time the whole machine spent busy during the run, softirq excepted (see busySeconds) */
  machineBusySeconds: number;
}

export function loadArgs(o: LoadOptions): string[] {
  const args = ['--mode', o.mode, '--threads', String(o.threads), '--seconds', String(o.seconds),
    '--count', String(o.count)];
  if (o.rate !== undefined) args.push('--rate', String(o.rate));
  return args;
}

function parseLoadResult(line: string): LoadResult {
  const v: unknown = JSON.parse(line);
  if (typeof v !== 'object' || v === null) throw new Error(`loadgen printed ${line}`);
  const o = v as Record<string, unknown>;
  const num = (k: string): number => {
    if (typeof o[k] !== 'number') throw new Error(`loadgen output lacks a number "${k}": ${line}`);
    return o[k] as number;
  };
  const mode = o.mode;
  if (mode !== 'refused' && mode !== 'linger0' && mode !== 'churn' && mode !== 'pingpong') throw new Error(`loadgen output has mode ${String(mode)}`);
  return {
    mode, threads: num('threads'), attempts: num('attempts'), seconds: num('seconds'), rate: num('rate'),
    resets: num('resets'), completed: num('completed'), errors: num('errors'), probes: num('probes'), port: num('port'),
    cpuSeconds: num('cpu_seconds'), machineBusySeconds: NaN,
  };
}

/**
 * Seconds the machine's CPUs have been busy since boot, from /proc/stat,
 * softirq excepted: the kernel accounts softirq apart from the task it
 * interrupted, and on loopback nearly all of it is the storm's own packets.
 */
export function busySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, , steal] = f;
  return (user + nice + system + irq + steal) / CLOCK_TICKS;
}

/** Runs the generator to its end and returns its figures. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const busy0 = busySeconds();
  const child = track(spawn(LOADGEN, loadArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  // It stops by itself at --seconds; the margin covers start-up and a slow join.
  const code = await waitExit(child, (o.seconds + 10) * 1000);
  if (code !== 0) throw new Error(`loadgen exited with ${code}: ${err.trim()}`);
  const line = out.trim().split('\n').pop() ?? '';
  return { ...parseLoadResult(line), machineBusySeconds: busySeconds() - busy0 };
}

/* -------------------------------------------------------------- children */

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the exit code (or 128+signal); kills the child if it outlives `ms`. */
function waitExit(child: ChildProcess, ms: number): Promise<number> {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolveExit(child.exitCode ?? 128);
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolveExit(code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 128));
    });
  });
}

function signalNumber(s: NodeJS.Signals): number | undefined {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[s];
}

/** Kills whatever is still running; for exit paths and interrupted runs. */
export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}

export interface Daemon {
  pid: number;
  /** milliseconds from spawn() to the readiness line */
  readyMs: number;
  output(): string;
  /** SIGINT, then waits up to `ms` for the exit (SIGKILL after that). */
  stop(ms: number): Promise<{ code: number; killed: boolean; stopMs: number }>;
}

export interface DaemonOptions {
  /** the line that says the tracer is attached, on stdout or stderr */
  ready: RegExp;
  readyTimeoutMs: number;
  /** extra wait after the readiness line (bpftrace prints before it attaches) */
  settleMs?: number;
  /** where stdout goes: kept (piped) or a file descriptor such as /dev/null's */
  stdout: 'pipe' | 'ignore' | number;
}

/**
 * Starts a tracer and resolves once it says it is ready. Output is kept (the
 * last 256 KiB) for the summary a tracer prints when it stops.
 */
export async function startDaemon(cmd: string, args: string[], o: DaemonOptions): Promise<Daemon> {
  const stdio: StdioOptions = ['ignore', o.stdout, 'pipe'];
  const spawnedAt = performance.now();
  const child = track(spawn(cmd, args, { cwd: REPO, stdio }));
  let text = '';
  const keep = (d: Buffer): void => {
    text += d.toString();
    if (text.length > 256 * 1024) text = text.slice(-256 * 1024);
  };
  child.stderr!.on('data', keep);
  child.stdout?.on('data', keep);
  const readyMs = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`${cmd} not ready within ${o.readyTimeoutMs} ms: ${tail(text)}`));
    }, o.readyTimeoutMs);
    const check = (): void => {
      if (o.ready.test(text)) {
        clearTimeout(timer);
        res(performance.now() - spawnedAt);
      }
    };
    child.stderr!.on('data', check);
    child.stdout?.on('data', check);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`${cmd} exited (${code ?? signal}) before it was ready: ${tail(text)}`));
    });
    child.once('error', (e) => { clearTimeout(timer); rej(e); });
  });
  if (o.settleMs) await sleep(o.settleMs);
  if (child.pid === undefined) throw new Error(`${cmd} has no pid`);
  const pid = child.pid;
  return {
    pid,
    readyMs,
    output: () => text,
    async stop(ms) {
      const t0 = performance.now();
      child.kill('SIGINT');
      const code = await waitExit(child, ms);
      const stopMs = performance.now() - t0;
      // waitExit sends SIGKILL once `ms` have passed.
      return { code, killed: stopMs >= ms, stopMs };
    },
  };
}

export function tail(text: string, n = 400): string {
  const t = text.trim();
  return t.length > n ? '…' + t.slice(-n) : t;
}

/* ---------------------------------------------------------------- memory */

/** The process and its descendants (bin/rstrace may be a wrapper around node). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks: string[] = [];
    try { tasks = readdirSync(`/proc/${out[i]}/task`); } catch { continue; }
    for (const t of tasks) {
      try {
        const kids = readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim();
        if (kids) for (const k of kids.split(/\s+/)) out.push(Number(k));
      } catch { /* the task ended */ }
    }
  }
  return out;
}

function statusKb(pid: number, field: string): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

/**
 * Samples resident memory of a process tree. VmHWM is the kernel's own peak,
 * so sampling misses no spike of a process that is still alive; summing over
 * the tree bounds a wrapper + node pair from above.
 */
export class RssSampler {
  peakHwmKb = 0;
  samples: { atS: number; rssKb: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly t0 = performance.now();

  constructor(private readonly pid: number, private readonly everyMs: number) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    return this;
  }

  sample(): number {
    let rss = 0;
    let hwm = 0;
    for (const p of processTree(this.pid)) {
      rss += statusKb(p, 'VmRSS');
      hwm += statusKb(p, 'VmHWM');
    }
    if (rss > 0) this.samples.push({ atS: (performance.now() - this.t0) / 1000, rssKb: rss });
    this.peakHwmKb = Math.max(this.peakHwmKb, hwm);
    return rss;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sample();
  }
}

/** CPU seconds (user + system) a process tree has used so far, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** User and system CPU seconds of a process tree so far (utime, stime of /proc/PID/stat). */
export function cpuTimes(pid: number): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const p of processTree(pid)) {
    try {
      // Fields after the "(comm)" that may itself hold spaces: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(f[11]);
      system += Number(f[12]);
    } catch { /* ended */ }
  }
  return { user: user / CLOCK_TICKS, system: system / CLOCK_TICKS };
}
/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/* ------------------------------------------------------------ BPF stats */

export interface BpfProg {
  id: number;
  name: string;
  runTimeNs: number;
  runCnt: number;
}

export function bpfProgs(): BpfProg[] {
  const raw: unknown = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8' }));
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((p: unknown): BpfProg[] => {
    if (typeof p !== 'object' || p === null) return [];
    const o = p as Record<string, unknown>;
    if (typeof o.id !== 'number' || typeof o.name !== 'string') return [];
    return [{ id: o.id, name: o.name, runTimeNs: Number(o.run_time_ns ?? 0), runCnt: Number(o.run_cnt ?? 0) }];
  });
}

const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';
let statsRestore: string | undefined;

/**
 * Turns kernel.bpf_stats_enabled on for the span of `fn` and puts back the
 * previous value afterwards, even on failure; the statistics cost two clock
 * reads per program run, so they stay off for the runs whose rate counts.
 */
export async function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  statsRestore = readFileSync(STATS_SYSCTL, 'utf8').trim();
  writeFileSync(STATS_SYSCTL, '1');
  try {
    return await fn();
  } finally {
    restoreBpfStats();
  }
}

export function restoreBpfStats(): void {
  if (statsRestore === undefined) return;
  writeFileSync(STATS_SYSCTL, statsRestore);
  statsRestore = undefined;
}

/* --------------------------------------------------------------- tracefs */

/** bpftrace attaches tracepoints through tracefs, which this VM does not mount by default. */
export function ensureTracefs(): string | undefined {
  if (existsSync('/sys/kernel/tracing/events/tcp')) return undefined;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { stdio: 'ignore' });
    return existsSync('/sys/kernel/tracing/events/tcp') ? undefined : 'tracefs mounted but has no tcp events';
  } catch (e) {
    return `cannot mount tracefs: ${(e as Error).message}`;
  }
}

/* ------------------------------------------------------------- leftovers */

/** Processes whose command line names one of `names` (our own process excepted). */
export function findProcesses(names: RegExp): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (names.test(cmd)) found.push({ pid, cmd });
    } catch { /* ended meanwhile */ }
  }
  return found;
}

/* ------------------------------------------------------------ statistics */

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

/* --------------------------------------------------------------- machine */

export interface Machine {
  host: string;
  nproc: number;
  cpu: string;
  kernel: string;
  node: string;
  date: string;
}

export function machine(): Machine {
  return {
    host: hostname(),
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    date: new Date().toISOString(),
  };
}

/** Runs `ours` exit hooks once however the process ends (Ctrl-C included). */
export function onExit(cleanup: () => void): void {
  let done = false;
  const run = (): void => {
    if (done) return;
    done = true;
    cleanup();
  };
  process.once('exit', run);
  for (const s of ['SIGINT', 'SIGTERM'] as const) {
    process.once(s, () => { run(); process.exit(130); });
  }
}

/* --------------------------------------------------------------- rstrace */

/** Why rstrace cannot be benchmarked yet, or undefined when it can. */
export function rstraceMissing(): string | undefined {
  if (!existsSync(RSTRACE)) return 'bin/rstrace does not exist yet';
  if (!existsSync(join(REPO, 'dist/src/cli.js'))) return 'rstrace is not built (dist/src/cli.js missing: make build)';
  return undefined;
}

/** What rstrace says about a trace when it stops (its stderr summary). */
export interface TraceSummary {
  events?: number;
  lost?: number;
}

/**
 * Reads the counts from rstrace's closing summary ("N events, K lost, F
 * filtered"); the last match wins, since the summary is printed last.
 */
export function parseRstraceSummary(text: string): TraceSummary {
  const num = (...res: RegExp[]): number | undefined => {
    for (const re of res) {
      const all = [...text.matchAll(re)];
      const last = all[all.length - 1];
      if (last) return Number(last[1]);
    }
    return undefined;
  };
  return {
    events: num(/(\d+) events?\b/g, /\bevents?:\s*(\d+)/gi),
    lost: num(/(\d+) lost\b/g, /\blost:\s*(\d+)/gi),
  };
}

/** Events of a trace file, and those that belong to the storm. */
export interface StormCount {
  /** every event in the file */
  total: number;
  /** events whose local or remote port is the storm's port */
  port: number;
  /** storm events by kind and by attribution, to see that each was classified and attributed */
  byKind: Record<string, number>;
  byAttribution: Record<string, number>;
  byCode: Record<string, number>;
  /** lost events recorded in the file's trailer, when the reader exposes it */
  lost?: number;
}

/** The part of src/tracefile/reader.ts the benchmark uses, declared here so that
 * the benchmark still builds while that module changes. */
interface TraceScanner {
  scanTraceFile(path: string, onEvent: (e: StormEvent) => void): { trailer: { lost: number } | null };
}
interface StormEvent { lport: number; rport: number; kind: string; attribution: string; codeKey: string }

/**
 * Counts a trace file's events for the storm's port. Uses the project's own
 * streaming reader when it is there (constant memory: a storm file holds
 * millions of events), else `bin/rstrace export --format jsonl`, streamed.
 */
export async function countStormEvents(file: string, port: number): Promise<StormCount> {
  const count: StormCount = { total: 0, port: 0, byKind: {}, byAttribution: {}, byCode: {} };
  const bump = (m: Record<string, number>, k: string): void => { m[k] = (m[k] ?? 0) + 1; };
  const readerPath = join(REPO, 'src/tracefile/reader.ts');
  if (existsSync(readerPath)) {
    const reader = (await import(readerPath)) as unknown as TraceScanner;
    if (typeof reader.scanTraceFile === 'function') {
      const r = reader.scanTraceFile(file, (e) => {
        count.total++;
        if (e.lport !== port && e.rport !== port) return;
        count.port++;
        bump(count.byKind, e.kind);
        bump(count.byAttribution, e.attribution);
        bump(count.byCode, e.codeKey);
      });
      if (r.trailer) count.lost = r.trailer.lost;
      return count;
    }
  }
  const { createInterface } = await import('node:readline');
  const child = track(spawn(RSTRACE, ['export', file, '--format', 'jsonl'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4096); });
  const needle = new RegExp(`"[lr]port":${port}[,}]`);
  for await (const line of createInterface({ input: child.stdout! })) {
    if (!line) continue;
    count.total++;
    if (!needle.test(line)) continue;
    count.port++;
    // Parse only the storm's lines: the field scan above keeps the rest cheap.
    const e = JSON.parse(line) as Partial<StormEvent>;
    bump(count.byKind, String(e.kind));
    bump(count.byAttribution, String(e.attribution));
    bump(count.byCode, String(e.codeKey));
  }
  const code = await waitExit(child, 120_000);
  if (code !== 0) throw new Error(`rstrace export exited with ${code}: ${tail(err)}`);
  return count;
}

/* --------------------------------------------------------------- results */

export const RESULTS = join(REPO, 'bench/RESULTS.md');
export const SOAK_HEADING = '## Soak';
export const TRACEFILE_HEADING = '## Trace file, offline (bench/tracefile-bench.ts)';

interface Section { heading: string; text: string }

/** `text` as its `## ` sections in order; the lines before the first heading are the section headed ''. */
function sections(text: string): Section[] {
  const out: Section[] = [];
  for (const chunk of ('\n' + text).split(/\n(?=## )/)) {
    const body = chunk.replace(/^\n/, '');
    if (!body.trim()) continue;
    const firstLine = body.split('\n', 1)[0];
    out.push({ heading: firstLine.startsWith('## ') ? firstLine : '', text: body.replace(/\n*$/, '\n') });
  }
  return out;
}

/**
 * Writes bench/RESULTS.md from the parts given (the storm benchmark's, the
 * soak's, the offline trace-file benchmark's). Each part replaces, section
 * by section, the sections of the same heading where they stand; a new one
 * goes after the last one replaced. Every other section (hand-written ones
 * such as the user-space, JSON lines and Parquet figures, and the parts not
 * run this time) is kept as it is, so no benchmark erases another's figures.
 */
export function writeResults(parts: { bench?: string; soak?: string; tracefile?: string }): void {
  const result = sections(existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '');
  for (const part of [parts.bench, parts.soak, parts.tracefile]) {
    if (part === undefined) continue;
    let after = -1;
    for (const sec of sections(part)) {
      const at = result.findIndex((old) => old.heading === sec.heading);
      if (at >= 0) { result[at] = sec; after = at; } else { result.splice(after < 0 ? result.length : after + 1, 0, sec); after = after < 0 ? result.length - 1 : after + 1; }
    }
  }
  writeFileSync(RESULTS, result.map((sec) => sec.text).join('\n'));
}
