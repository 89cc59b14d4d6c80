/**
 * `make bench`: how much a reset storm slows down when rstrace watches it, and
 * whether rstrace kept every event. Rounds interleave untraced and traced runs
 * of the same load (refused connects on loopback), so that each ratio compares
 * runs a few seconds apart: this VM's speed drifts by tens of percent over
 * minutes, which would swamp a comparison of runs made far apart.
 *
 * Per round: untraced, then the traced runs in an order rotated per round,
 * then untraced again; a traced run's ratio is its rate over the mean of the
 * two untraced runs around it.
 *
 * Options (flags win over the environment):
 *   --rounds N   BENCH_ROUNDS   rounds (default 3, at least 3 for a median)
 *   --seconds S  BENCH_SECONDS  seconds of load per run (default 4)
 *   --threads N  BENCH_THREADS  load generator threads (default 2)
 *   --only a,b   BENCH_ONLY     scenarios to run (untraced always runs)
 *   --keep       BENCH_KEEP=1   keep trace files and pcaps in bench/out/
 *   --no-write                  print only, leave bench/RESULTS.md alone
 * Writes bench/RESULTS.md and prints the same text.
 */
import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  OUT_DIR, RSTRACE, RssSampler, writeResults, cpuSeconds, countStormEvents, parseRstraceSummary, rstraceMissing, type StormCount, bpfProgs, ensureLoadgen, ensureOutDir, ensureTracefs,
  findProcesses, killAll, loadArgs, machine, onExit, restoreBpfStats, runLoad, spread, startDaemon,
  tail, withBpfStats, type Daemon, type LoadOptions, type LoadResult, type Spread,
} from './lib.js';

/* ---------------------------------------------------------------- config */

const SCENARIOS = ['rstrace-file', 'rstrace-json', 'rstrace-stats', 'tcpdump', 'bpftrace'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string' }, seconds: { type: 'string' }, threads: { type: 'string' },
    only: { type: 'string' }, keep: { type: 'boolean' }, 'no-write': { type: 'boolean' },
  },
});
const env = process.env;
const ROUNDS = Number(flags.rounds ?? env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(flags.seconds ?? env.BENCH_SECONDS ?? 4);
const THREADS = Number(flags.threads ?? env.BENCH_THREADS ?? 2);
const KEEP = flags.keep === true || env.BENCH_KEEP === '1';
const ONLY = (flags.only ?? env.BENCH_ONLY)?.split(',').map((s) => s.trim()).filter(Boolean);
for (const s of ONLY ?? []) {
  if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}; known: ${SCENARIOS.join(', ')}`);
}
if (!(ROUNDS >= 1 && SECONDS > 0 && THREADS >= 1)) throw new Error('rounds, seconds and threads must be positive');
const scenarios: Scenario[] = SCENARIOS.filter((s) => !ONLY || ONLY.includes(s));

/** The storm: refused connects, capped by count as well as time (no host should exceed 1M/s). */
const LOAD: LoadOptions = { mode: 'refused', threads: THREADS, seconds: SECONDS, count: Math.ceil(SECONDS * 1_000_000) };
/** Time after the storm for a tracer to drain what its buffers hold before SIGINT. */
const DRAIN_MS = 500;
/** How long a tracer may take to stop (rstrace writes out its backlog first). */
const STOP_MS = 60_000;
/** CPUs that other processes may use during a run before it counts as disturbed. */
const BUSY_CPUS = Number(env.BENCH_BUSY_CPUS ?? 0.25);
/** Attempts after the first for a disturbed run. */
const RETRIES = Number(env.BENCH_RETRIES ?? 2);
let retried = 0;
/** How long to wait for someone else's rstrace to detach before a run. */
const FOREIGN_WAIT_MS = 60_000;

/* --------------------------------------------------------------- records */

interface Run {
  round: number;
  scenario: Scenario | 'untraced';
  load?: LoadResult;
  /** rate over the mean untraced rate of the same round */
  ratio?: number;
  error?: string;
  /** set when a tracer we did not start was attached: the run is not clean */
  foreign?: string;
  attachMs?: number;
  peakRssMb?: number;
  stopMs?: number;
  /** the tracer's CPU use during the storm, in CPUs (1.0 = one core busy) */
  tracerCpus?: number;
  /** CPUs used by everything but the generator and the tracer during the storm */
  otherCpus?: number;
  lost?: number;
  summaryEvents?: number;
  count?: StormCount;
  /** events the storm must have produced: 2 per refused connect */
  expected?: number;
  bytesPerEvent?: number;
  /** in-kernel time of rstrace's programs per storm reset event */
  kernelNsPerEvent?: number;
  kernelNsPerRun?: number;
  runsPerEvent?: number;
  /** per rstrace program: ns per run and runs per storm event */
  perProgram?: Record<string, { nsPerRun: number; runsPerEvent: number }>;
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
const loadCmd = (): string => ['bench/build/loadgen', ...loadArgs(LOAD)].join(' ');

/** The commands, as a reader would type them, for RESULTS.md. */
function commandOf(s: Scenario | 'untraced', file = 'FILE'): string {
  switch (s) {
    case 'untraced': return loadCmd();
    case 'rstrace-file': return rstraceCmd(['trace', '-o', file]);
    case 'rstrace-json': return `${rstraceCmd(['trace', '--json'])} > /dev/null`;
    case 'rstrace-stats': return `sysctl kernel.bpf_stats_enabled=1; ${rstraceCmd(['trace', '-o', file])}; bpftool prog show -j`;
    case 'tcpdump': return `tcpdump -i lo -w ${file} 'tcp[tcpflags] & tcp-rst != 0'`;
    case 'bpftrace': return `bpftrace -e '${BPFTRACE_COUNT}'`;
  }
}

const BPFTRACE_COUNT =
  'tracepoint:tcp:tcp_send_reset { @sent = count(); } tracepoint:tcp:tcp_receive_reset { @received = count(); }';

/**
 * Starts a tracer, runs the storm while sampling its memory, lets it drain and
 * stops it. `inspect` runs between the storm and the stop (bpftool reads the
 * programs' statistics while they are still loaded).
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
    const cpu0 = cpuSeconds(d.pid);
    run.load = await runLoad(LOAD);
    run.tracerCpus = (cpuSeconds(d.pid) - cpu0) / run.load.seconds;
    await new Promise((r) => setTimeout(r, DRAIN_MS));
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

const expectedEvents = (l: LoadResult): number => 2 * (l.resets + l.probes);

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
      run.kernelNsPerEvent = ns / expectedEvents(load);
      run.kernelNsPerRun = ns / cnt;
      run.runsPerEvent = cnt / expectedEvents(load);
      run.perProgram = {};
      for (const p of ours) {
        if (p.runCnt > 0) run.perProgram[p.name] = { nsPerRun: p.runTimeNs / p.runCnt, runsPerEvent: p.runCnt / expectedEvents(load) };
      }
    },
  });
  const d = withStats ? await withBpfStats(go) : await go();
  const summary = parseRstraceSummary(d.output());
  run.lost = summary.lost;
  run.summaryEvents = summary.events;
  run.expected = expectedEvents(run.load!);
  if (!existsSync(file)) { run.error ??= `no trace file ${file}`; return; }
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
async function runScenario(round: number, s: Scenario | 'untraced', skip: Map<Scenario, string>): Promise<Run> {
  for (let attempt = 0; ; attempt++) {
    const run = await runOnce(round, s, skip);
    const disturbed = run.foreign !== undefined || (run.otherCpus ?? 0) > BUSY_CPUS;
    if (!disturbed || attempt >= RETRIES) {
      if (disturbed && run.otherCpus !== undefined && run.otherCpus > BUSY_CPUS) {
        run.foreign ??= `machine busy: ${fmt(run.otherCpus, 2)} CPUs used by other processes`;
      }
      runs.push(run);
      return run;
    }
    retried++;
    process.stderr.write(`bench: round ${round} ${s}: disturbed (${run.foreign ?? `${fmt(run.otherCpus ?? 0, 2)} CPUs used by others`}); again in 5 s\n`);
    await new Promise((r) => setTimeout(r, 5000));
  }
}

async function runOnce(round: number, s: Scenario | 'untraced', skip: Map<Scenario, string>): Promise<Run> {
  const run: Run = { round, scenario: s };
  if (s !== 'untraced' && skip.has(s)) { run.error = `skipped: ${skip.get(s)}`; return run; }
  await waitForQuietKernel(run);
  const file = join(OUT_DIR, `r${round}-${s}.${s === 'tcpdump' ? 'pcap' : 'rstrace'}`);
  rmSync(file, { force: true });
  try {
    switch (s) {
      case 'untraced': run.load = await runLoad(LOAD); break;
      case 'rstrace-file': await rstraceFile(run, file, false); break;
      case 'rstrace-stats': await rstraceFile(run, file, true); break;
      case 'rstrace-json': await rstraceJson(run); break;
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
  process.stderr.write(`bench: round ${round} ${s.padEnd(13)} ${rate}${note ? `  (${note.slice(0, 200)})` : ''}\n`);
  return run;
}

/* ---------------------------------------------------------------- report */

const fmt = (x: number, digits: number): string => x.toFixed(digits);
const cell = (sp: Spread | undefined, d: number, unit = ''): [string, string, string] =>
  sp ? [fmt(sp.median, d) + unit, `${fmt(sp.min, d)}-${fmt(sp.max, d)}${unit}`, String(sp.n)] : ['n/a', 'n/a', '0'];

function of(s: Run['scenario'], pick: (r: Run) => number | undefined): number[] {
  return runs.filter((r) => r.scenario === s && !r.error && !r.foreign).map(pick).filter((x): x is number => x !== undefined);
}

function countCheck(s: Scenario): string {
  const rs = runs.filter((r) => r.scenario === s && r.count && r.expected !== undefined);
  if (rs.length === 0) return 'n/a';
  const exact = rs.filter((r) => r.count!.port === r.expected).length;
  return `${exact}/${rs.length} exact`;
}

/** Runs whose summary counted at least the storm's events (other traffic may add some). */
function completeCheck(s: Scenario): string {
  const rs = runs.filter((r) => r.scenario === s && r.summaryEvents !== undefined && r.expected !== undefined);
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

function report(m: ReturnType<typeof machine>, startedAt: number): string {
  const rows: [string, ...[string, string, string], string][] = [];
  const add = (name: string, c: [string, string, string], target = ''): void => { rows.push([name, ...c, target]); };
  add('untraced rate (refused connects/s)', cell(spread(of('untraced', (r) => r.load?.rate)), 0));
  const has = (s: Scenario): boolean => scenarios.includes(s);
  if (has('rstrace-file')) {
    add('rstrace trace -o FILE: rate ratio', cell(spread(of('rstrace-file', (r) => r.ratio)), 3), '>= 0.90');
    add('rstrace trace -o FILE: lost events', cell(spread(of('rstrace-file', (r) => r.lost)), 0), '0');
    add('rstrace trace -o FILE: events for the storm port / expected', [countCheck('rstrace-file'), '', ''], 'exact');
    add('rstrace trace -o FILE: bytes per event in the file', cell(spread(of('rstrace-file', (r) => r.bytesPerEvent)), 1));
    add('rstrace trace -o FILE: peak RSS (MB)', cell(spread(of('rstrace-file', (r) => r.peakRssMb)), 1), '<= 150');
    add('rstrace trace -o FILE: spawn to attached (ms)', cell(spread(of('rstrace-file', (r) => r.attachMs)), 0), '< 1000');
    add('rstrace trace -o FILE: SIGINT to exit (ms)', cell(spread(of('rstrace-file', (r) => r.stopMs)), 0));
    add('rstrace trace -o FILE: tracer CPU during the storm (cores)', cell(spread(of('rstrace-file', (r) => r.tracerCpus)), 2));
  }
  if (has('rstrace-json')) {
    add('rstrace trace --json > /dev/null: rate ratio', cell(spread(of('rstrace-json', (r) => r.ratio)), 3), '>= 0.85');
    add('rstrace trace --json > /dev/null: lost events', cell(spread(of('rstrace-json', (r) => r.lost)), 0), '0');
    add('rstrace trace --json > /dev/null: events printed >= storm events', [completeCheck('rstrace-json'), '', ''], 'all');
    add('rstrace trace --json > /dev/null: peak RSS (MB)', cell(spread(of('rstrace-json', (r) => r.peakRssMb)), 1), '<= 150');
    add('rstrace trace --json > /dev/null: spawn to attached (ms)', cell(spread(of('rstrace-json', (r) => r.attachMs)), 0), '< 1000');
    add('rstrace trace --json > /dev/null: tracer CPU during the storm (cores)', cell(spread(of('rstrace-json', (r) => r.tracerCpus)), 2));
  }
  if (has('rstrace-stats')) {
    add('in-kernel ns per reset event (bpf_stats, all handle_* programs)', cell(spread(of('rstrace-stats', (r) => r.kernelNsPerEvent)), 0));
    add('in-kernel ns per program run', cell(spread(of('rstrace-stats', (r) => r.kernelNsPerRun)), 0));
    add('program runs per reset event', cell(spread(of('rstrace-stats', (r) => r.runsPerEvent)), 2));
    const names = [...new Set(runs.flatMap((r) => Object.keys(r.perProgram ?? {})))].sort();
    for (const n of names) {
      add(`  ${n}: ns per run`, cell(spread(of('rstrace-stats', (r) => r.perProgram?.[n]?.nsPerRun)), 0));
      add(`  ${n}: runs per reset event`, cell(spread(of('rstrace-stats', (r) => r.perProgram?.[n]?.runsPerEvent)), 2));
    }
    add('rstrace -o FILE with bpf_stats on: rate ratio', cell(spread(of('rstrace-stats', (r) => r.ratio)), 3));
  }
  if (has('tcpdump')) {
    add('tcpdump -w (RST filter): rate ratio', cell(spread(of('tcpdump', (r) => r.ratio)), 3), 'reference');
    add('tcpdump -w: bytes per RST in the pcap', cell(spread(of('tcpdump', (r) => r.pcapBytesPerRst)), 1));
    add('tcpdump -w: packets dropped by kernel', cell(spread(of('tcpdump', (r) => r.pcapDropped)), 0));
    add('tcpdump -w: tracer CPU during the storm (cores)', cell(spread(of('tcpdump', (r) => r.tracerCpus)), 2));
    add('tcpdump -w: captured / RSTs sent', cell(spread(of('tcpdump', (r) => r.pcapPackets !== undefined && r.expected ? r.pcapPackets / r.expected : undefined)), 3));
  }
  if (has('bpftrace')) {
    add('bpftrace counting in kernel: rate ratio', cell(spread(of('bpftrace', (r) => r.ratio)), 3), 'reference');
  }

  const L: string[] = [];
  L.push('# rstrace benchmark results', '');
  L.push(`Generated by \`make bench\` (bench/run.ts) on ${m.date}, in ${Math.round((Date.now() - startedAt) / 1000)} s.`, '');
  L.push('## Machine', '');
  L.push(`- ${m.nproc} CPUs: ${m.cpu}`, `- kernel ${m.kernel}, node ${m.node}`, `- host ${m.host}`, '');
  L.push('## Summary', '');
  L.push(`Load: refused connects to a closed port on 127.0.0.1 from ${THREADS} threads, ${SECONDS} s per run, ` +
    `${ROUNDS} rounds. Each refused connect is two reset events (one sent, one received). Ratios are the ` +
    'generator\'s rate with the tracer attached over the mean of the untraced runs that open and close the same round.', '');
  L.push('| measurement | median | range (min-max) | runs | target |', '|---|---:|---:|---:|---|');
  for (const r of rows) L.push(`| ${r.join(' | ')} |`);
  L.push('');
  L.push('## Runs', '');
  L.push('| round | scenario | rate/s | ratio | lost | events port/expected | RSS MB | attach ms | tracer CPUs | generator CPUs | other CPUs | note |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of runs) {
    const ev = r.count ? `${r.count.port}/${r.expected}` : r.bpftraceSent !== undefined ? `${r.bpftraceSent}+${r.bpftraceReceived}/${r.expected}+${r.expected}`
      : r.pcapPackets !== undefined ? `${r.pcapPackets}/${r.expected}` : '';
    L.push(`| ${r.round} | ${r.scenario} | ${r.load ? Math.round(r.load.rate) : ''} | ${r.ratio !== undefined ? fmt(r.ratio, 3) : ''} | ` +
      `${r.lost ?? ''} | ${ev} | ${r.peakRssMb !== undefined ? fmt(r.peakRssMb, 1) : ''} | ${r.attachMs !== undefined ? Math.round(r.attachMs) : ''} | ` +
      `${r.tracerCpus !== undefined ? fmt(r.tracerCpus, 2) : ''} | ` +
      `${r.load ? fmt(r.load.cpuSeconds / r.load.seconds, 2) : ''} | ${r.otherCpus !== undefined ? fmt(r.otherCpus, 2) : ''} | ` +
      `${[r.foreign, r.error].filter(Boolean).join('; ').replace(/\|/g, '\\|').replace(/\n/g, ' ').slice(0, 300)} |`);
  }
  L.push('');
  L.push('## Commands', '');
  L.push('```', `make bench    # = npx tsx bench/run.ts --rounds ${ROUNDS} --seconds ${SECONDS} --threads ${THREADS}`);
  L.push(`# load, every run:\n${commandOf('untraced')}`);
  for (const s of scenarios) L.push(`# ${s}, attached during the load:\n${commandOf(s)}`);
  L.push('```', '');
  L.push('How each figure is taken:', '',
    '- lost: the trace file\'s trailer when it has one, else the tracer\'s stderr summary on SIGINT.',
    '- events port/expected: events in the trace file whose local or remote port is the storm\'s port, against ' +
      '2 x (refused connects + the generator\'s one closed-port check).',
    '- peak RSS: the kernel\'s VmHWM of the tracer (summed over its process tree), sampled every 100 ms.',
    '- attach: from spawn() to the stderr line containing "attached".',
    '- in-kernel ns: run_time_ns over the rstrace programs (handle_*) that appeared during the run, from ' +
      '`bpftool prog show -j` with kernel.bpf_stats_enabled=1 for that run only (the statistics cost two clock ' +
      'reads per program run, so the headline ratios are measured with them off), divided by the storm\'s reset events.',
    '- tcpdump bytes per RST: pcap size minus its 24-byte header, over the packets captured.',
    '- tracer CPUs: the tracer\'s user + system time during the storm (/proc/PID/stat) over the storm\'s length; ' +
      'generator CPUs: the generator\'s own getrusage; other CPUs: the machine\'s busy time (/proc/stat, softirq ' +
      `excepted) minus both. A run where others used more than ${BUSY_CPUS} CPUs is made again, up to ${RETRIES} times.`, '');
  const cls = classification();
  if (cls) notes.push(cls);
  const dirty = runs.filter((r) => r.foreign).length;
  if (retried) notes.push(`${retried} runs were disturbed (other processes using more than ${BUSY_CPUS} CPUs, or another rstrace attached) and were made again.`);
  if (dirty) notes.push(`${dirty} runs were still disturbed after ${RETRIES} retries and are left out of the medians (see the Runs table).`);
  if (notes.length) L.push('## Notes', '', ...notes.map((n) => `- ${n}`), '');
  return L.join('\n');
}

/* ------------------------------------------------------------------ main */

async function main(): Promise<void> {
  const startedAt = Date.now();
  onExit(() => { killAll(); restoreBpfStats(); });
  ensureLoadgen();
  ensureOutDir();

  const skip = new Map<Scenario, string>();
  const noRstrace = rstraceMissing();
  if (noRstrace) for (const s of ['rstrace-file', 'rstrace-json', 'rstrace-stats'] as const) skip.set(s, noRstrace);
  const tracefsProblem = ensureTracefs();
  if (tracefsProblem) skip.set('bpftrace', tracefsProblem);
  for (const [s, why] of skip) if (scenarios.includes(s)) notes.push(`${s} skipped: ${why}`);

  for (let round = 1; round <= ROUNDS; round++) {
    const opening = await runScenario(round, 'untraced', skip);
    // Rotate the traced runs so that no scenario always runs first or last in a round.
    const order = scenarios.map((_, i) => scenarios[(i + round - 1) % scenarios.length]);
    const traced: Run[] = [];
    for (const s of order) traced.push(await runScenario(round, s, skip));
    const closing = await runScenario(round, 'untraced', skip);
    const base = [opening, closing].filter((r) => !r.foreign).map((r) => r.load?.rate).filter((x): x is number => x !== undefined);
    const baseline = base.reduce((a, b) => a + b, 0) / base.length;
    for (const r of traced) if (r.load && baseline > 0) r.ratio = r.load.rate / baseline;
    if (base.length === 2 && Math.abs(base[0] - base[1]) / baseline > 0.1) {
      notes.push(`Round ${round}: its two untraced runs differ by ${Math.round((100 * Math.abs(base[0] - base[1])) / baseline)}%: ` +
        'the machine was busy with something else; this round\'s ratios are noisy.');
    }
  }

  // Nothing we started may outlive the benchmark.
  const leftovers = findProcesses(/(^|\/)loadgen(\s|$)|bin\/rstrace|rstrace\/.*cli\.js|\bdist\/src\/cli\.js/);
  const ours = leftovers.filter((p) => ourPids.has(p.pid));
  if (ours.length) {
    notes.push(`LEFT RUNNING (killed now): ${ours.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
    for (const p of ours) process.kill(p.pid, 'SIGKILL');
  } else {
    notes.push('No rstrace or loadgen process started by the benchmark was left running.');
  }
  const foreign = leftovers.filter((p) => !ourPids.has(p.pid));
  if (foreign.length) notes.push(`Other rstrace/loadgen processes were running (not started here; they share the CPUs): ${foreign.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);

  const text = report(machine(), startedAt);
  process.stdout.write(text + '\n');
  if (!flags['no-write']) writeResults({ bench: text });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  killAll();
  restoreBpfStats();
  process.exit(1);
});
