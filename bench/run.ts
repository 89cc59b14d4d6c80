/**
 * `make bench`: what rstrace costs, in one interleaved run of about seven
 * minutes on a 2-CPU machine (the 10-minute soak, bench/soak.ts, is a separate
 * script that `make bench` runs afterwards; `make soak` runs it alone).
 *
 * Workloads (bench/loadgen.c, loopback only, bounded in count and time):
 *   storm     refused connects from 2 threads: two reset events each. Traced by
 *             `rstrace trace -o FILE`, `trace --json > /dev/null`, `rstrace
 *             metrics`, the minimal C libbpf consumer (bench/c-consumer.c: the
 *             ceiling), rstrace with BPF statistics on, tcpdump and bpftrace
 *             (references).
 *   churn     ordinary traffic, no reset: connect, 100 bytes each way, close.
 *   pingpong  ordinary traffic, no reset: 64-byte messages back and forth.
 *             Both traced by `rstrace trace -o FILE`, and once more with BPF
 *             statistics on for the per-program cost.
 *
 * Every ratio compares runs a few seconds apart, never absolute times: this
 * VM's speed drifts by tens of percent over minutes. Per round and workload:
 * untraced, then the traced runs in an order rotated per round, then untraced
 * again; a traced run's ratio is its rate over the mean of the two untraced
 * runs around it. Medians over the rounds (at least 3 for a median).
 *
 * Options (flags win over the environment):
 *   --rounds N     BENCH_ROUNDS     rounds (default 3)
 *   --seconds S    BENCH_SECONDS    seconds of storm per run (default 4)
 *   --steady S     BENCH_STEADY     seconds of churn / ping-pong per run (default 3)
 *   --threads N    BENCH_THREADS    load generator threads (default 2)
 *   --only a,b     BENCH_ONLY       storm scenarios to run (untraced always runs)
 *   --workloads w  BENCH_WORKLOADS  storm,churn,pingpong (default all)
 *   --keep         BENCH_KEEP=1     keep trace files and pcaps in bench/out/
 *   --no-write                      print only, leave bench/RESULTS.md alone
 *   BENCH_ALLOW_FOREIGN=1           keep runs disturbed by another rstrace in the medians
 *   BENCH_FOREIGN_WAIT_MS, BENCH_RETRIES, BENCH_BUSY_CPUS: how disturbed runs are waited for and retried
 * Writes bench/RESULTS.md (keeping the previous summary as "before") and
 * prints the same text.
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  BPF_OBJECT, C_CONSUMER, OUT_DIR, RESULTS, RSTRACE, RssSampler, SOAK_HEADING, writeResults, cpuSeconds, cpuTimes, countStormEvents,
  parseRstraceSummary, rstraceMissing, type StormCount, bpfProgs, ensureCConsumer, ensureLoadgen, ensureOutDir, ensureTracefs,
  findProcesses, killAll, loadArgs, machine, onExit, restoreBpfStats, runLoad, spread, startDaemon,
  tail, withBpfStats, type Daemon, type LoadOptions, type LoadResult, type Spread,
} from './lib.js';

/* ---------------------------------------------------------------- config */

const STORM_SCENARIOS = ['rstrace-file', 'rstrace-json', 'rstrace-metrics', 'c-consumer', 'rstrace-stats', 'tcpdump', 'bpftrace'] as const;
const STEADY_SCENARIOS = ['rstrace-file', 'rstrace-stats'] as const;
type Scenario = (typeof STORM_SCENARIOS)[number];
const WORKLOADS = ['storm', 'churn', 'pingpong'] as const;
type Workload = (typeof WORKLOADS)[number];

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string' }, seconds: { type: 'string' }, steady: { type: 'string' }, threads: { type: 'string' },
    only: { type: 'string' }, workloads: { type: 'string' }, keep: { type: 'boolean' }, 'no-write': { type: 'boolean' },
  },
});
const env = process.env;
const ROUNDS = Number(flags.rounds ?? env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(flags.seconds ?? env.BENCH_SECONDS ?? 4);
const STEADY_SECONDS = Number(flags.steady ?? env.BENCH_STEADY ?? 3);
const THREADS = Number(flags.threads ?? env.BENCH_THREADS ?? 2);
const KEEP = flags.keep === true || env.BENCH_KEEP === '1';
const list = (v: string | undefined): string[] | undefined => v?.split(',').map((x) => x.trim()).filter(Boolean);
const ONLY = list(flags.only ?? env.BENCH_ONLY);
const ONLY_WORKLOADS = list(flags.workloads ?? env.BENCH_WORKLOADS);
for (const s of ONLY ?? []) {
  if (!(STORM_SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}; known: ${STORM_SCENARIOS.join(', ')}`);
}
for (const w of ONLY_WORKLOADS ?? []) {
  if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload ${w}; known: ${WORKLOADS.join(', ')}`);
}
if (!(ROUNDS >= 1 && SECONDS > 0 && STEADY_SECONDS > 0 && THREADS >= 1)) throw new Error('rounds, seconds and threads must be positive');
const workloads: Workload[] = WORKLOADS.filter((w) => !ONLY_WORKLOADS || ONLY_WORKLOADS.includes(w));
const scenariosOf = (w: Workload): Scenario[] =>
  w === 'storm' ? STORM_SCENARIOS.filter((s) => !ONLY || ONLY.includes(s)) : [...STEADY_SCENARIOS];

/** The loads, capped by count as well as time (no host should exceed these rates). */
const LOADS: Record<Workload, LoadOptions> = {
  storm: { mode: 'refused', threads: THREADS, seconds: SECONDS, count: Math.ceil(SECONDS * 1_000_000) },
  churn: { mode: 'churn', threads: THREADS, seconds: STEADY_SECONDS, count: Math.ceil(STEADY_SECONDS * 500_000) },
  pingpong: { mode: 'pingpong', threads: THREADS, seconds: STEADY_SECONDS, count: Math.ceil(STEADY_SECONDS * 5_000_000) },
};
const UNIT: Record<Workload, string> = { storm: 'refused connects', churn: 'connections', pingpong: 'round trips' };
/** Time after the load for a tracer to drain what its buffers hold before SIGINT. */
const DRAIN_MS = 500;
/** How long a tracer may take to stop (rstrace writes out its backlog first). */
const STOP_MS = 60_000;
/** CPUs that other processes may use during a run before it counts as disturbed. */
const BUSY_CPUS = Number(env.BENCH_BUSY_CPUS ?? 0.25);
/** Attempts after the first for a disturbed run. */
const RETRIES = Number(env.BENCH_RETRIES ?? 2);
let retried = 0;
/** How long to wait for someone else's rstrace to detach before a run. */
const FOREIGN_WAIT_MS = Number(env.BENCH_FOREIGN_WAIT_MS ?? 60_000);
/** Keep runs disturbed by another rstrace in the medians (flagged in the Runs table): for a
 * machine shared with people testing the tracer, where no run would otherwise count. */
const ALLOW_FOREIGN = env.BENCH_ALLOW_FOREIGN === '1';

/** The targets the figures are held to; `met` or how far off is printed beside each. */
interface Target { op: '>=' | '<=' | '<'; value: number; unit?: string }
const TARGET = {
  stormFile: { op: '>=', value: 0.85 },
  stormMetrics: { op: '>=', value: 0.85 },
  stormJson: { op: '>=', value: 0.75 },
  steady: { op: '>=', value: 0.97 },
  rssMb: { op: '<=', value: 120, unit: ' MB' },
  attachMs: { op: '<', value: 1000, unit: ' ms' },
  lost: { op: '<=', value: 0 },
} satisfies Record<string, Target>;

/* --------------------------------------------------------------- records */

interface Run {
  round: number;
  workload: Workload;
  scenario: Scenario | 'untraced';
  load?: LoadResult;
  /** rate over the mean untraced rate of the same round and workload */
  ratio?: number;
  error?: string;
  /** set when a tracer we did not start was attached: the run is not clean */
  foreign?: string;
  attachMs?: number;
  peakRssMb?: number;
  stopMs?: number;
  /** the tracer's CPU use during the load, in CPUs (1.0 = one core busy) */
  tracerCpus?: number;
  /** the tracer's user and system CPU from the load's start to the end of the drain, in µs per reset event */
  userUsPerEvent?: number;
  sysUsPerEvent?: number;
  /** CPUs used by everything but the generator and the tracer during the load */
  otherCpus?: number;
  lost?: number;
  summaryEvents?: number;
  count?: StormCount;
  /** c-consumer: records it wrote */
  records?: number;
  /** events the storm must have produced: 2 per refused connect */
  expected?: number;
  bytesPerEvent?: number;
  /** in-kernel time of rstrace's programs per storm reset event (storm) or per operation (churn, pingpong) */
  kernelNsPerOp?: number;
  kernelNsPerRun?: number;
  runsPerOp?: number;
  /** per rstrace program: ns per run and runs per event or operation */
  perProgram?: Record<string, { nsPerRun: number; runsPerOp: number }>;
  pcapBytesPerRst?: number;
  pcapPackets?: number;
  pcapDropped?: number;
  bpftraceSent?: number;
  bpftraceReceived?: number;
}

const runs: Run[] = [];
const notes: string[] = [];
/** Every pid we started, to tell our leftovers from other people's tracers. */
const ourPids = new Set<number>();

/* ------------------------------------------------------------- scenarios */

const rstraceCmd = (args: string[]): string => ['bin/rstrace', ...args].join(' ');
const loadCmd = (w: Workload): string => ['bench/build/loadgen', ...loadArgs(LOADS[w])].join(' ');

/** The commands, as a reader would type them, for RESULTS.md. */
function commandOf(s: Scenario, file = 'FILE'): string {
  switch (s) {
    case 'rstrace-file': return rstraceCmd(['trace', '-o', file]);
    case 'rstrace-json': return `${rstraceCmd(['trace', '--json'])} > /dev/null`;
    case 'rstrace-metrics': return rstraceCmd(['metrics', '--listen', '127.0.0.1:0']);
    case 'c-consumer': return `bench/build/c-consumer build/rstrace.bpf.o ${file}`;
    case 'rstrace-stats': return `sysctl kernel.bpf_stats_enabled=1; ${rstraceCmd(['trace', '-o', file])}; bpftool prog show -j`;
    case 'tcpdump': return `tcpdump -i lo -w ${file} 'tcp[tcpflags] & tcp-rst != 0'`;
    case 'bpftrace': return `bpftrace -e '${BPFTRACE_COUNT}'`;
  }
}

const BPFTRACE_COUNT =
  'tracepoint:tcp:tcp_send_reset { @sent = count(); } tracepoint:tcp:tcp_receive_reset { @received = count(); }';

const expectedEvents = (l: LoadResult): number => 2 * (l.resets + l.probes);
/** What one "event" is when CPU and kernel time are divided: a reset event in a storm, an operation otherwise. */
const opsOf = (w: Workload, l: LoadResult): number => (w === 'storm' ? expectedEvents(l) : l.completed);

/**
 * Starts a tracer, runs the load while sampling its memory and CPU, lets it
 * drain and stops it. `inspect` runs between the drain and the stop (bpftool
 * reads the programs' statistics while they are still loaded).
 */
async function traced(
  run: Run, cmd: string, args: string[], ready: RegExp, stdout: 'pipe' | 'ignore' | number,
  opts: { settleMs?: number; inspect?: (d: Daemon, load: LoadResult) => void } = {},
): Promise<Daemon> {
  const d = await startDaemon(cmd, args, { ready, readyTimeoutMs: 15_000, stdout, settleMs: opts.settleMs });
  ourPids.add(d.pid);
  run.attachMs = d.readyMs;
  const rss = new RssSampler(d.pid, 100).start();
  try {
    const t0 = cpuTimes(d.pid);
    const cpu0 = t0.user + t0.system;
    run.load = await runLoad(LOADS[run.workload]);
    run.tracerCpus = (cpuSeconds(d.pid) - cpu0) / run.load.seconds;
    await new Promise((r) => setTimeout(r, DRAIN_MS));
    const t1 = cpuTimes(d.pid);
    const ops = opsOf(run.workload, run.load);
    if (ops > 0) {
      run.userUsPerEvent = ((t1.user - t0.user) * 1e6) / ops;
      run.sysUsPerEvent = ((t1.system - t0.system) * 1e6) / ops;
    }
    opts.inspect?.(d, run.load);
  } finally {
    rss.stop();
    const stopped = await d.stop(STOP_MS);
    run.stopMs = stopped.stopMs;
    if (stopped.killed) run.error = `did not stop within ${STOP_MS / 1000} s of SIGINT (killed)`;
    else if (stopped.code !== 0 && stopped.code !== 130) run.error = `exited with ${stopped.code}: ${tail(d.output())}`;
  }
  run.peakRssMb = rss.peakHwmKb / 1024;
  return d;
}

async function rstraceFile(run: Run, file: string, withStats: boolean): Promise<void> {
  const before = new Set(bpfProgs().map((p) => p.id));
  const go = async (): Promise<Daemon> => traced(run, RSTRACE, ['trace', '-o', file], /attached/, 'ignore', {
    inspect: (_d, load) => {
      if (!withStats) return;
      // Our programs: the handle_* ones that appeared since we started rstrace.
      const ours = bpfProgs().filter((p) => !before.has(p.id) && p.name.startsWith('handle_'));
      const ns = ours.reduce((a, p) => a + p.runTimeNs, 0);
      const cnt = ours.reduce((a, p) => a + p.runCnt, 0);
      if (ours.length === 0 || cnt === 0) { run.error = 'no handle_* programs with statistics found'; return; }
      const ops = opsOf(run.workload, load);
      run.kernelNsPerOp = ns / ops;
      run.kernelNsPerRun = ns / cnt;
      run.runsPerOp = cnt / ops;
      run.perProgram = {};
      for (const p of ours) {
        if (p.runCnt > 0) run.perProgram[p.name] = { nsPerRun: p.runTimeNs / p.runCnt, runsPerOp: p.runCnt / ops };
      }
    },
  });
  const d = withStats ? await withBpfStats(go) : await go();
  const summary = parseRstraceSummary(d.output());
  run.lost = summary.lost;
  run.summaryEvents = summary.events;
  if (run.workload !== 'storm') return;
  run.expected = expectedEvents(run.load!);
  if (!existsSync(file)) { run.error ??= `no trace file ${file}`; return; }
  if (withStats) return; // the counted file is the plain run's; this one is about time
  run.count = await countStormEvents(file, run.load!.port);
  if (run.count.lost !== undefined) run.lost = run.count.lost;
  if (run.count.total > 0) run.bytesPerEvent = statSync(file).size / run.count.total;
}

async function rstraceJson(run: Run): Promise<void> {
  const devnull = openSync('/dev/null', 'w');
  try {
    const d = await traced(run, RSTRACE, ['trace', '--json'], /attached/, devnull);
    const summary = parseRstraceSummary(d.output());
    run.lost = summary.lost;
    run.summaryEvents = summary.events;
    run.expected = expectedEvents(run.load!);
  } finally {
    closeSync(devnull);
  }
}

async function rstraceMetrics(run: Run): Promise<void> {
  const d = await traced(run, RSTRACE, ['metrics', '--listen', '127.0.0.1:0'], /attached/, 'ignore');
  const summary = parseRstraceSummary(d.output());
  run.lost = summary.lost;
  run.summaryEvents = summary.events;
  run.expected = expectedEvents(run.load!);
}

async function cConsumer(run: Run, file: string): Promise<void> {
  const d = await traced(run, C_CONSUMER, [BPF_OBJECT, file, '--seconds', '120'], /attached/, 'pipe');
  const line = d.output().match(/^\{"records":.*\}$/m);
  if (!line) { run.error ??= `c-consumer printed no summary: ${tail(d.output())}`; return; }
  const o = JSON.parse(line[0]) as { records: number; bytes: number; lost: number };
  run.records = o.records;
  run.lost = o.lost;
  run.summaryEvents = o.records;
  run.expected = expectedEvents(run.load!);
  if (o.records > 0) run.bytesPerEvent = o.bytes / o.records;
}

async function tcpdump(run: Run, file: string): Promise<void> {
  const d = await traced(run, 'tcpdump', ['-i', 'lo', '-w', file, 'tcp[tcpflags] & tcp-rst != 0'], /listening on/, 'pipe');
  const out = d.output();
  const num = (re: RegExp): number | undefined => { const m = out.match(re); return m ? Number(m[1]) : undefined; };
  run.pcapPackets = num(/(\d+) packets? captured/);
  run.pcapDropped = num(/(\d+) packets? dropped by kernel/);
  run.expected = run.load!.resets + run.load!.probes; // one RST on the wire per refused connect
  // A pcap is a 24-byte file header, then a 16-byte record header + the packet per RST.
  if (run.pcapPackets) run.pcapBytesPerRst = (statSync(file).size - 24) / run.pcapPackets;
}

async function bpftrace(run: Run): Promise<void> {
  // bpftrace prints "Attaching N probes..." before it attaches: wait a little more.
  const d = await traced(run, 'bpftrace', ['-e', BPFTRACE_COUNT], /Attaching \d+ probes/, 'pipe', { settleMs: 500 });
  const out = d.output();
  const num = (re: RegExp): number | undefined => { const m = out.match(re); return m ? Number(m[1]) : undefined; };
  run.bpftraceSent = num(/@sent: (\d+)/);
  run.bpftraceReceived = num(/@received: (\d+)/);
  run.expected = run.load!.resets + run.load!.probes;
}

/** BPF programs of rstrace instances we did not start (ours are gone between runs). */
function foreignRstracePrograms(): number {
  return bpfProgs().filter((p) => p.name.startsWith('handle_')).length;
}

/**
 * Another rstrace attached during a run would both slow the storm and be
 * flooded by it (this tree is shared with people testing the tracer): wait for
 * it to go, and mark the run when it does not.
 */
async function waitForQuietKernel(run: Run): Promise<void> {
  const deadline = Date.now() + FOREIGN_WAIT_MS;
  let n = foreignRstracePrograms();
  if (n > 0) process.stderr.write(`bench: another rstrace is attached (${n} handle_* programs); waiting up to ${FOREIGN_WAIT_MS / 1000} s\n`);
  while (n > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    n = foreignRstracePrograms();
  }
  if (n > 0) run.foreign = `another rstrace was attached (${n} handle_* programs)`;
}

/**
 * Runs a scenario, again (up to RETRIES times) when the machine was busy with
 * something else or another rstrace was attached: on a shared machine a run
 * disturbed that way measures the disturbance, not the tracer.
 */
async function runScenario(round: number, w: Workload, s: Scenario | 'untraced', skip: Map<Scenario, string>): Promise<Run> {
  for (let attempt = 0; ; attempt++) {
    const run = await runOnce(round, w, s, skip);
    const disturbed = (!ALLOW_FOREIGN && run.foreign !== undefined) || (run.otherCpus ?? 0) > BUSY_CPUS;
    if (!disturbed || attempt >= RETRIES) {
      if (disturbed && run.otherCpus !== undefined && run.otherCpus > BUSY_CPUS) {
        run.foreign ??= `machine busy: ${fmt(run.otherCpus, 2)} CPUs used by other processes`;
      }
      runs.push(run);
      return run;
    }
    retried++;
    process.stderr.write(`bench: round ${round} ${w} ${s}: disturbed (${run.foreign ?? `${fmt(run.otherCpus ?? 0, 2)} CPUs used by others`}); again in 5 s\n`);
    await new Promise((r) => setTimeout(r, 5000));
  }
}

async function runOnce(round: number, w: Workload, s: Scenario | 'untraced', skip: Map<Scenario, string>): Promise<Run> {
  const run: Run = { round, workload: w, scenario: s };
  if (s !== 'untraced' && skip.has(s)) { run.error = `skipped: ${skip.get(s)}`; return run; }
  await waitForQuietKernel(run);
  const file = join(OUT_DIR, `r${round}-${w}-${s}.${s === 'tcpdump' ? 'pcap' : s === 'c-consumer' ? 'raw' : 'rstrace'}`);
  rmSync(file, { force: true });
  try {
    switch (s) {
      case 'untraced': run.load = await runLoad(LOADS[w]); break;
      case 'rstrace-file': await rstraceFile(run, file, false); break;
      case 'rstrace-stats': await rstraceFile(run, file, true); break;
      case 'rstrace-json': await rstraceJson(run); break;
      case 'rstrace-metrics': await rstraceMetrics(run); break;
      case 'c-consumer': await cConsumer(run, file); break;
      case 'tcpdump': await tcpdump(run, file); break;
      case 'bpftrace': await bpftrace(run); break;
    }
  } catch (e) {
    run.error = (e as Error).message;
  } finally {
    if (!KEEP) rmSync(file, { force: true });
  }
  // Ours has exited by now, so any handle_* program left is someone else's, attached during the run.
  const after = foreignRstracePrograms();
  if (after > 0) run.foreign ??= `another rstrace attached during the run (${after} handle_* programs)`;
  if (run.load) {
    const l = run.load;
    run.otherCpus = Math.max(0, (l.machineBusySeconds - l.cpuSeconds) / l.seconds - (run.tracerCpus ?? 0));
  }
  const rate = run.load ? `${Math.round(run.load.rate)}/s` : '-';
  const note = [run.foreign, run.error].filter(Boolean).join('; ');
  process.stderr.write(`bench: round ${round} ${w.padEnd(8)} ${s.padEnd(15)} ${rate}${note ? `  (${note.slice(0, 200)})` : ''}\n`);
  return run;
}

/* ---------------------------------------------------------------- report */

const fmt = (x: number, digits: number): string => x.toFixed(digits);
type Cell = [string, string, string];
const cell = (sp: Spread | undefined, d: number, unit = ''): Cell =>
  sp ? [fmt(sp.median, d) + unit, `${fmt(sp.min, d)}-${fmt(sp.max, d)}${unit}`, String(sp.n)] : ['n/a', 'n/a', '0'];

function of(w: Workload, s: Run['scenario'], pick: (r: Run) => number | undefined): number[] {
  return runs.filter((r) => r.workload === w && r.scenario === s && !r.error && (ALLOW_FOREIGN || !r.foreign))
    .map(pick).filter((x): x is number => x !== undefined);
}

/** "met", or how far off the median is, for the target column. */
function verdict(t: Target, sp: Spread | undefined, digits: number): string {
  const want = `${t.op} ${t.value}${t.unit ?? ''}`;
  if (!sp) return `${want}: not measured`;
  const v = sp.median;
  const ok = t.op === '>=' ? v >= t.value : t.op === '<=' ? v <= t.value : v < t.value;
  return ok ? `${want}: met` : `${want}: off by ${fmt(Math.abs(v - t.value), digits)}${t.unit ?? ''}`;
}

function countCheck(w: Workload, s: Scenario): string {
  const rs = runs.filter((r) => r.workload === w && r.scenario === s && r.count && r.expected !== undefined);
  if (rs.length === 0) return 'n/a';
  const exact = rs.filter((r) => r.count!.port === r.expected).length;
  return `${exact}/${rs.length} exact`;
}

/** Runs whose summary counted at least the storm's events (other traffic may add some). */
function completeCheck(w: Workload, s: Scenario): string {
  const rs = runs.filter((r) => r.workload === w && r.scenario === s && r.summaryEvents !== undefined && r.expected !== undefined);
  if (rs.length === 0) return 'n/a';
  return `${rs.filter((r) => r.summaryEvents! >= r.expected!).length}/${rs.length} complete`;
}

/** How the storm's events were classified and attributed, from the first counted trace file. */
function classification(): string | undefined {
  const r = runs.find((x) => x.count && x.count.port > 0);
  if (!r?.count) return undefined;
  const show = (m: Record<string, number>): string => Object.entries(m).map(([k, v]) => `${k} ${v}`).join(', ');
  return `Storm events in the round ${r.round} ${r.scenario} file: by kind ${show(r.count.byKind)}; ` +
    `by code ${show(r.count.byCode)}; by attribution ${show(r.count.byAttribution)}.`;
}

const LABEL: Record<Scenario, string> = {
  'rstrace-file': 'rstrace trace -o FILE',
  'rstrace-json': 'rstrace trace --json > /dev/null',
  'rstrace-metrics': 'rstrace metrics',
  'c-consumer': 'C libbpf consumer (ceiling)',
  'rstrace-stats': 'rstrace -o FILE, bpf_stats on',
  tcpdump: 'tcpdump -w (RST filter)',
  bpftrace: 'bpftrace counting in kernel',
};

function report(m: ReturnType<typeof machine>, startedAt: number): string {
  const rows: [string, ...Cell, string][] = [];
  const add = (name: string, c: Cell, target = ''): void => { rows.push([name, ...c, target]); };
  const t = (name: string, target: Target, sp: Spread | undefined, d: number): void => add(name, cell(sp, d), verdict(target, sp, d));
  const storm = workloads.includes('storm') ? scenariosOf('storm') : [];
  const has = (s: Scenario): boolean => storm.includes(s);
  const sp = (w: Workload, s: Run['scenario'], pick: (r: Run) => number | undefined): Spread | undefined => spread(of(w, s, pick));

  if (workloads.includes('storm')) {
    add('storm: untraced rate (refused connects/s)', cell(sp('storm', 'untraced', (r) => r.load?.rate), 0));
    const ratioTarget: Partial<Record<Scenario, Target>> = {
      'rstrace-file': TARGET.stormFile, 'rstrace-metrics': TARGET.stormMetrics, 'rstrace-json': TARGET.stormJson,
    };
    for (const s of ['rstrace-file', 'rstrace-json', 'rstrace-metrics', 'c-consumer'] as const) {
      if (!has(s)) continue;
      const L = `storm, ${LABEL[s]}`;
      const target = ratioTarget[s];
      const ratio = sp('storm', s, (r) => r.ratio);
      if (target) t(`${L}: rate ratio`, target, ratio, 3);
      else add(`${L}: rate ratio`, cell(ratio, 3), 'ceiling');
      t(`${L}: lost events`, TARGET.lost, sp('storm', s, (r) => r.lost), 0);
      if (s === 'rstrace-file') {
        add(`${L}: events for the storm port / expected`, [countCheck('storm', s), '', ''], 'exact');
        add(`${L}: bytes per event in the file`, cell(sp('storm', s, (r) => r.bytesPerEvent), 1));
      } else {
        add(`${L}: events seen >= storm events`, [completeCheck('storm', s), '', ''], 'all');
      }
      add(`${L}: added user CPU per reset event (µs)`, cell(sp('storm', s, (r) => r.userUsPerEvent), 2));
      add(`${L}: added system CPU per reset event (µs)`, cell(sp('storm', s, (r) => r.sysUsPerEvent), 2));
      add(`${L}: tracer CPU during the storm (cores)`, cell(sp('storm', s, (r) => r.tracerCpus), 2));
      if (s !== 'c-consumer') {
        t(`${L}: peak RSS (MB)`, TARGET.rssMb, sp('storm', s, (r) => r.peakRssMb), 1);
        t(`${L}: spawn to attached (ms)`, TARGET.attachMs, sp('storm', s, (r) => r.attachMs), 0);
      } else {
        add(`${L}: peak RSS (MB)`, cell(sp('storm', s, (r) => r.peakRssMb), 1));
        add(`${L}: spawn to attached (ms)`, cell(sp('storm', s, (r) => r.attachMs), 0));
      }
      add(`${L}: SIGINT to exit (ms)`, cell(sp('storm', s, (r) => r.stopMs), 0));
    }
    if (has('rstrace-stats')) kernelRows('storm', 'reset event', add, sp);
    if (has('tcpdump')) {
      add('storm, tcpdump -w (RST filter): rate ratio', cell(sp('storm', 'tcpdump', (r) => r.ratio), 3), 'reference');
      add('storm, tcpdump -w: bytes per RST in the pcap', cell(sp('storm', 'tcpdump', (r) => r.pcapBytesPerRst), 1));
      add('storm, tcpdump -w: packets dropped by kernel', cell(sp('storm', 'tcpdump', (r) => r.pcapDropped), 0));
      add('storm, tcpdump -w: captured / RSTs sent', cell(sp('storm', 'tcpdump', (r) => r.pcapPackets !== undefined && r.expected ? r.pcapPackets / r.expected : undefined), 3));
    }
    if (has('bpftrace')) add('storm, bpftrace counting in kernel: rate ratio', cell(sp('storm', 'bpftrace', (r) => r.ratio), 3), 'reference');
  }
  for (const w of ['churn', 'pingpong'] as const) {
    if (!workloads.includes(w)) continue;
    add(`${w}: untraced rate (${UNIT[w]}/s)`, cell(sp(w, 'untraced', (r) => r.load?.rate), 0));
    t(`${w}, rstrace trace -o FILE: rate ratio`, TARGET.steady, sp(w, 'rstrace-file', (r) => r.ratio), 3);
    add(`${w}, rstrace trace -o FILE: tracer CPU (cores)`, cell(sp(w, 'rstrace-file', (r) => r.tracerCpus), 3));
    t(`${w}, rstrace trace -o FILE: peak RSS (MB)`, TARGET.rssMb, sp(w, 'rstrace-file', (r) => r.peakRssMb), 1);
    kernelRows(w, UNIT[w].replace(/s$/, ''), add, sp);
  }

  const L: string[] = [];
  L.push('# rstrace benchmark results', '');
  L.push(`Generated by \`make bench\` (bench/run.ts) on ${m.date}, in ${Math.round((Date.now() - startedAt) / 1000)} s.`, '');
  L.push('## Machine', '');
  L.push(`- ${m.nproc} CPUs: ${m.cpu}`, `- kernel ${m.kernel}, node ${m.node}`, `- host ${m.host}`, '');
  L.push('## Summary', '');
  L.push(`Loads (${THREADS} generator threads, ${ROUNDS} rounds): storm = refused connects to a closed port on 127.0.0.1, ` +
    `${SECONDS} s per run, two reset events each (one sent, one received); churn = connect, 100 bytes each way, close; ` +
    `pingpong = 64-byte round trips on one connection per thread; ${STEADY_SECONDS} s per run, no resets. Ratios are the ` +
    'generator\'s rate with the tracer attached over the mean of the untraced runs of the same workload that open and ' +
    'close the same round. The target column says "met" or how far the median is off.', '');
  L.push('| measurement | median | range (min-max) | runs | target |', '|---|---:|---:|---:|---|');
  for (const r of rows) L.push(`| ${r.join(' | ')} |`);
  L.push('');
  L.push('## Runs', '');
  L.push('| round | workload | scenario | rate/s | ratio | lost | events port/expected | RSS MB | attach ms | tracer CPUs | user µs/ev | sys µs/ev | generator CPUs | other CPUs | note |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  const o = (x: number | undefined, d: number): string => (x !== undefined ? fmt(x, d) : '');
  for (const r of runs) {
    const ev = r.count ? `${r.count.port}/${r.expected}` : r.bpftraceSent !== undefined ? `${r.bpftraceSent}+${r.bpftraceReceived}/${r.expected}+${r.expected}`
      : r.pcapPackets !== undefined ? `${r.pcapPackets}/${r.expected}` : r.records !== undefined ? `${r.records}/${r.expected}` : '';
    L.push(`| ${r.round} | ${r.workload} | ${r.scenario} | ${r.load ? Math.round(r.load.rate) : ''} | ${o(r.ratio, 3)} | ` +
      `${r.lost ?? ''} | ${ev} | ${o(r.peakRssMb, 1)} | ${o(r.attachMs, 0)} | ${o(r.tracerCpus, 2)} | ` +
      `${r.workload === 'storm' ? o(r.userUsPerEvent, 2) : ''} | ${r.workload === 'storm' ? o(r.sysUsPerEvent, 2) : ''} | ` +
      `${r.load ? fmt(r.load.cpuSeconds / r.load.seconds, 2) : ''} | ${o(r.otherCpus, 2)} | ` +
      `${[r.foreign, r.error].filter(Boolean).join('; ').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 300)} |`);
  }
  L.push('');
  L.push('## Commands', '');
  L.push('```', `make bench    # = npx tsx bench/run.ts --rounds ${ROUNDS} --seconds ${SECONDS} --steady ${STEADY_SECONDS} --threads ${THREADS}`);
  for (const w of workloads) {
    L.push(`# ${w} load, every run:\n${loadCmd(w)}`);
    for (const s of scenariosOf(w)) L.push(`#   ${s}, attached during the load:\n  ${commandOf(s)}`);
  }
  L.push('```', '');
  L.push('How each figure is taken:', '',
    '- lost: the trace file\'s trailer when it has one, else the tracer\'s stderr summary on SIGINT; for the C consumer ' +
      'the BPF program\'s own lost counter.',
    '- events port/expected: events in the trace file whose local or remote port is the storm\'s port, against ' +
      '2 x (refused connects + the generator\'s one closed-port check); for the C consumer, records written (all ports).',
    '- added user / system CPU per reset event: the tracer\'s utime and stime (/proc/PID/stat, over its process tree) ' +
      'from the start of the storm to the end of the drain, over the storm\'s reset events. Kernel time spent in the ' +
      'BPF programs is not in these (it is charged to whoever the hook interrupted): it is the in-kernel row, from the BPF statistics.',
    '- peak RSS: the kernel\'s VmHWM of the tracer (summed over its process tree), sampled every 100 ms.',
    '- attach: from spawn() to the stderr line containing "attached".',
    '- in-kernel ns: run_time_ns over the rstrace programs (handle_*) that appeared during the run, from ' +
      '`bpftool prog show -j` with kernel.bpf_stats_enabled=1 for that run only (the statistics cost two clock ' +
      'reads per program run, so the headline ratios are measured with them off), divided by the reset events ' +
      '(storm) or by the connections / round trips (churn, pingpong). The programs run for all TCP traffic of the ' +
      'host: on a machine where others make traffic too, runs per event count theirs as well.',
    '- tcpdump bytes per RST: pcap size minus its 24-byte header, over the packets captured.',
    '- tracer CPUs: the tracer\'s user + system time during the load over the load\'s length; ' +
      'generator CPUs: the generator\'s own getrusage; other CPUs: the machine\'s busy time (/proc/stat, softirq ' +
      `excepted) minus both. A run where others used more than ${BUSY_CPUS} CPUs is made again, up to ${RETRIES} times.`,
    '- On a shared machine (other builds and tests running) every figure is noisy; the ratios are the ones to trust ' +
      'least when the Runs table shows "other CPUs" above zero.', '');
  const cls = classification();
  if (cls) notes.push(cls);
  const dirty = runs.filter((r) => r.foreign).length;
  if (retried) notes.push(`${retried} runs were disturbed (other processes using more than ${BUSY_CPUS} CPUs, or another rstrace attached) and were made again.`);
  if (dirty) {
    notes.push(ALLOW_FOREIGN
      ? `${dirty} runs were disturbed (another rstrace attached, or the machine busy) and are KEPT in the medians (BENCH_ALLOW_FOREIGN=1): every figure here is noisy.`
      : `${dirty} runs were still disturbed after ${RETRIES} retries and are left out of the medians (see the Runs table).`);
  }
  if (notes.length) L.push('## Notes', '', ...notes.map((n) => `- ${n}`), '');
  return L.join('\n');
}

/** The BPF statistics rows of a workload: total per event/operation, per run, and per program. */
function kernelRows(
  w: Workload, per: string, add: (name: string, c: Cell, target?: string) => void,
  sp: (w: Workload, s: Run['scenario'], pick: (r: Run) => number | undefined) => Spread | undefined,
): void {
  add(`${w}: in-kernel ns per ${per} (bpf_stats, all handle_* programs)`, cell(sp(w, 'rstrace-stats', (r) => r.kernelNsPerOp), 0));
  add(`${w}: in-kernel ns per program run`, cell(sp(w, 'rstrace-stats', (r) => r.kernelNsPerRun), 0));
  add(`${w}: program runs per ${per}`, cell(sp(w, 'rstrace-stats', (r) => r.runsPerOp), 2));
  const names = [...new Set(runs.filter((r) => r.workload === w).flatMap((r) => Object.keys(r.perProgram ?? {})))].sort();
  for (const n of names) {
    add(`${w}:   ${n}: ns per run`, cell(sp(w, 'rstrace-stats', (r) => r.perProgram?.[n]?.nsPerRun), 0));
    add(`${w}:   ${n}: runs per ${per}`, cell(sp(w, 'rstrace-stats', (r) => r.perProgram?.[n]?.runsPerOp), 2));
  }
  add(`${w}, rstrace -o FILE with bpf_stats on: rate ratio`, cell(sp(w, 'rstrace-stats', (r) => r.ratio), 3));
}

/**
 * The previous run's summary, kept under "Before" so that a change can be
 * read against the figures it replaced (only one level: older ones go).
 */
function previousSummary(): string | undefined {
  if (!existsSync(RESULTS)) return undefined;
  const old = readFileSync(RESULTS, 'utf8');
  const bench = old.split(`\n${SOAK_HEADING}\n`)[0];
  const generated = bench.match(/^Generated by .*$/m)?.[0];
  const at = bench.indexOf('\n## Summary\n');
  if (at < 0) return undefined;
  const rest = bench.slice(at + '\n## Summary\n'.length);
  const end = rest.search(/\n## /);
  const body = (end >= 0 ? rest.slice(0, end) : rest).trim();
  return `## Before: the previous run's summary\n\n${generated ? `${generated.replace(/^Generated/, 'That run was generated')}\n\n` : ''}${body}\n`;
}

/* ------------------------------------------------------------------ main */

async function main(): Promise<void> {
  const startedAt = Date.now();
  onExit(() => { killAll(); restoreBpfStats(); });
  ensureLoadgen();
  ensureOutDir();

  const skip = new Map<Scenario, string>();
  const noRstrace = rstraceMissing();
  if (noRstrace) for (const s of ['rstrace-file', 'rstrace-json', 'rstrace-metrics', 'rstrace-stats'] as const) skip.set(s, noRstrace);
  const noConsumer = ensureCConsumer() ?? (existsSync(BPF_OBJECT) ? undefined : `${BPF_OBJECT} missing: make build`);
  if (noConsumer) skip.set('c-consumer', noConsumer);
  if (workloads.includes('storm') && scenariosOf('storm').includes('bpftrace')) {
    const tracefsProblem = ensureTracefs();
    if (tracefsProblem) skip.set('bpftrace', tracefsProblem);
  }
  for (const [s, why] of skip) notes.push(`${s} skipped: ${why}`);

  for (let round = 1; round <= ROUNDS; round++) {
    for (const w of workloads) {
      const list = scenariosOf(w);
      const opening = await runScenario(round, w, 'untraced', skip);
      // Rotate the traced runs so that no scenario always runs first or last in a round.
      const order = list.map((_, i) => list[(i + round - 1) % list.length]);
      const tracedRuns: Run[] = [];
      for (const s of order) tracedRuns.push(await runScenario(round, w, s, skip));
      const closing = await runScenario(round, w, 'untraced', skip);
      const base = [opening, closing].filter((r) => ALLOW_FOREIGN || !r.foreign).map((r) => r.load?.rate).filter((x): x is number => x !== undefined);
      const baseline = base.reduce((a, b) => a + b, 0) / base.length;
      for (const r of tracedRuns) if (r.load && baseline > 0) r.ratio = r.load.rate / baseline;
      if (base.length === 2 && Math.abs(base[0] - base[1]) / baseline > 0.1) {
        notes.push(`Round ${round} ${w}: its two untraced runs differ by ${Math.round((100 * Math.abs(base[0] - base[1])) / baseline)}%: ` +
          'the machine was busy with something else; this round\'s ratios are noisy.');
      }
    }
  }

  // Nothing we started may outlive the benchmark.
  const leftovers = findProcesses(/(^|\/)(loadgen|c-consumer)(\s|$)|bin\/rstrace|rstrace\/.*cli\.js|\bdist\/src\/cli\.js/);
  const ours = leftovers.filter((p) => ourPids.has(p.pid));
  if (ours.length) {
    notes.push(`LEFT RUNNING (killed now): ${ours.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
    for (const p of ours) process.kill(p.pid, 'SIGKILL');
  } else {
    notes.push('No rstrace, c-consumer or loadgen process started by the benchmark was left running.');
  }
  const foreign = leftovers.filter((p) => !ourPids.has(p.pid));
  if (foreign.length) notes.push(`Other rstrace/loadgen processes were running (not started here; they share the CPUs): ${foreign.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);

  const before = previousSummary();
  const text = report(machine(), startedAt) + (before ? `\n${before}` : '');
  process.stdout.write(text + '\n');
  if (!flags['no-write']) writeResults({ bench: text });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  killAll();
  restoreBpfStats();
  process.exit(1);
});
