/**
 * A live trace: attach, stream batches through the pipeline into the sinks,
 * stop on a signal, --duration or --count, then detach and summarize. The
 * only module that owns the tracer's lifetime.
 */
import { hostname, release } from 'node:os';
import { addon, type KernelCounters, type NativeError, type NativeTracer, type TracerOptions } from './kernel/addon.js';
import { dropReasonNames, rstReasonNames } from './kernel/names.js';
import { isoNow, WallClock } from './enrich/clock.js';
import { ProcIndex } from './enrich/proc.js';
import { CgroupIndex } from './enrich/cgroup.js';
import { BatchQueue, FlowGate } from './batch-queue.js';
import { Pipeline, type ResetCounter } from './pipeline.js';
import { RstraceError } from './errors.js';
import type { ResetEvent, TraceCounters } from './event.js';
import { kernelCgroupVerdicts, matchesFilter, type EventFilter } from './filter.js';
import { liveTable, type LiveTable } from './sinks/live-table.js';
import { screenColumns, type ColorWhen } from './sinks/ansi.js';
import { CauseOrder } from './reorder.js';
import { JsonLinesSink } from './sinks/jsonl-sink.js';
import { openTraceOutput, type RotationPolicy, type TraceOutput } from './tracefile/rotate.js';
import type { OptionValue } from './tracefile/format.js';
import { FIREWALL_PROGRAM, optionalProgramsMissing } from './kernel/support.js';
import { PRIVILEGES_REMEDY } from './kernel/privileges.js';
import { KernelCheck } from './completeness/check.js';
import { checkSummary } from './completeness/summary.js';

export interface TraceOptions {
  json: boolean;
  output?: string;
  /** -o as a rotating series of files (src/tracefile/rotate.ts) */
  rotation?: RotationPolicy;
  /** print the human table even with -o (default: table only when no other sink) */
  table: boolean;
  durationSec?: number;
  count?: number;
  filter: EventFilter;
  kernelFilter: Pick<TracerOptions, 'filterTgid' | 'filterPort' | 'filterNetns' | 'filterCgroup'>;
  assumeNoReason: boolean;
  /** also hook net_dev_queue for firewall-made RSTs (code 4): a per-packet cost */
  firewall?: boolean;
  /** no table on stdout (metrics mode) */
  quiet?: boolean;
  /** a sink that also follows the counters, e.g. the Prometheus endpoint */
  metrics?: CountingSink;
  /** the options as given, recorded in the trace file's header */
  recorded: Record<string, OptionValue>;
  /** colour in the table (--color; default auto) */
  color?: ColorWhen;
  /** a live view that takes every event and shows the counters itself (`top`) */
  view?: EventView;
}

/** A view of every event (`rstrace top`): it reads the tracer's counters and may end the trace (a key press). */
export interface EventView {
  /** the event is reused after the call: copy what is kept */
  visit(e: ResetEvent): void;
  start(control: { counters(): TraceCounters; stop(): void }): void;
  /** restores the terminal; called before the summary line */
  close(): Promise<void> | void;
}

interface BatchSink {
  writeBatch(events: readonly ResetEvent[]): void;
}

export interface CountingSink extends BatchSink, ResetCounter {
  updateCounters(c: TraceCounters): void;
  /** follows the completeness check (src/completeness/) */
  readonly kernelCheck?: { watch(check: KernelCheck | null): void };
  close(): Promise<void>;
}

function log(line: string): void {
  process.stderr.write(`rstrace: ${line}\n`);
}

/**
 * Records read from the ring but not yet handed to JavaScript. The ring
 * buffer (RING_BYTES, in the kernel) is the buffer that absorbs a storm; a second
 * large one in the process only adds to its peak memory.
 */
const MAX_PENDING_BYTES = 4 << 20;
/**
 * The kernel ring: its pages are resident (and mapped twice) from the start,
 * so they are RSS whether used or not. 8 MiB holds ~55k records, over 100 ms
 * of a 400k events/s storm, behind the poll thread that empties it.
 */
const RING_BYTES = 4 << 20;

/** Output buffered for a slow stdout before the tracer stops reading the ring. */
const STDOUT_HIGH_WATER = 16 << 20;

/**
 * Writes to stdout; a closed pipe (`| head`) ends the trace quietly. A reader
 * slower than the resets pauses the tracer (the kernel then counts losses)
 * rather than letting the buffer grow without bound.
 */
function stdoutWriter(onClosed: () => void, flow: { pause(): void; resume(): void }): (chunk: string | Uint8Array) => void {
  let closed = false;
  let paused = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') { closed = true; onClosed(); }
  });
  process.stdout.on('drain', () => {
    if (paused) { paused = false; flow.resume(); }
  });
  return (chunk) => {
    if (closed) return;
    process.stdout.write(chunk);
    if (!paused && process.stdout.writableLength > STDOUT_HIGH_WATER) { paused = true; flow.pause(); }
  };
}

function openTracer(opts: TracerOptions): NativeTracer {
  try {
    return new (addon().Tracer)(opts);
  } catch (err) {
    const e = err as NativeError;
    const msg = e.message.replace(/:.*$/, '');
    if (e.errno === 1 || e.errno === 13) {
      throw new RstraceError(`${msg}: permission denied`, PRIVILEGES_REMEDY, 1);
    }
    throw new RstraceError(e.message.split(': ').slice(0, -1).join(': ') || e.message, e.remedy ?? "run 'rstrace doctor'", 1);
  }
}

export async function runTrace(o: TraceOptions): Promise<number> {
  const proc = new ProcIndex();
  proc.scan(); // before the hooks: sockets older than the trace are attributed from /proc
  const cgroups = new CgroupIndex();
  cgroups.scan(); // before the hooks: cgroups removed during the trace keep their names
  const clock = new WallClock(addon().clockOffsetNs());
  const startedAt = isoNow();
  const skipPrograms = optionalProgramsMissing();
  if (!o.firewall && !skipPrograms.includes(FIREWALL_PROGRAM)) skipPrograms.push(FIREWALL_PROGRAM);
  const cgroupVerdicts = kernelCgroupVerdicts(o.filter, cgroups.entries());
  const tracer = openTracer({ ...o.kernelFilter, cgroupVerdicts, assumeNoReason: o.assumeNoReason, skipPrograms, maxPendingBytes: MAX_PENDING_BYTES, ringBytes: RING_BYTES });
  // The first TcpOutRsts readings right after attach: the hook counts from here on.
  const check = new KernelCheck({ hits: () => tracer.sendResetsByNetns() });
  check.start();
  o.metrics?.kernelCheck?.watch(check);

  let stopping: Promise<number> | null = null;
  let settle: { resolve: (code: number) => void; reject: (err: unknown) => void } | undefined;
  const done = new Promise<number>((resolve, reject) => { settle = { resolve, reject }; });
  const stop = (): Promise<number> => {
    if (!stopping) {
      stopping = finish();
      stopping.then(settle?.resolve, settle?.reject);
    }
    return stopping;
  };

  const sinks: BatchSink[] = [];
  const gate = new FlowGate(tracer);
  const out = stdoutWriter(() => void stop(), gate.as('stdout'));
  const json = o.json ? new JsonLinesSink(out) : null;
  let table: LiveTable | null = null;
  if (json) sinks.push(json);
  else if (o.table || (!o.output && !o.quiet && !o.view)) {
    table = liveTable(out, o.color ?? 'auto');
    sinks.push(table.sink);
  }
  if (o.metrics) sinks.push(o.metrics);
  let file: TraceOutput | null = null;
  const reasons = rstReasonNames();
  const filtering = Object.keys(o.filter).length > 0;
  if (o.output) {
    try {
      // The file keeps kernel records; the filter and --count go in the header and are applied when it is read.
      file = openTraceOutput(o.output, {
        host: hostname(), kernel: release(), bootToWallNs: clock.bootToWallNs.toString(), startTime: startedAt,
        options: o.recorded, names: { sk_rst_reason: [...reasons], skb_drop_reason: [...dropReasonNames()] },
        filter: filtering ? o.filter : null, limit: o.count ?? null,
      }, proc, o.rotation, () => counters(tracer.counters()), cgroups);
    } catch (err) {
      await tracer.close();
      throw err;
    }
    file.startAutoFlush(1000);
  }

  const pipeline = new Pipeline({
    clock, proc: file ? file.owners : proc, cgroups: file ? file.cgroups : cgroups, reasons,
    keep: filtering ? (e) => matchesFilter(e, o.filter) : undefined,
  });
  // -o alone: nothing needs events live, so the pipeline does not run per record.
  const classifyLive = sinks.length > 0 || filtering || o.count !== undefined || o.view !== undefined;
  const causes = new CauseOrder();
  let delivered = 0;
  let emitted = 0;

  const deliver = (events: ResetEvent[]): void => {
    if (o.view) for (const e of events) o.view.visit(e);
    if (o.count !== undefined && emitted + events.length >= o.count) {
      events = events.slice(0, o.count - emitted);
      emitted += events.length;
      for (const s of sinks) s.writeBatch(events);
      void stop();
      return;
    }
    emitted += events.length;
    for (const s of sinks) s.writeBatch(events);
  };

  // Before anything is announced: a signal from here on ends the trace cleanly.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => void stop());

  // The storm-critical modes take a path that builds no array of events:
  // metrics alone counts records (no event at all); --json alone writes each
  // event as it is made, from one reused object.
  const countOnly = o.metrics !== undefined && sinks.length === 1 && o.count === undefined ? o.metrics : null;
  const jsonOnly = json !== null && sinks.length === 1 ? json : null;
  const writeJson = (e: ResetEvent): void => {
    if (o.count !== undefined && emitted >= o.count) return;
    emitted++;
    jsonOnly?.write(e);
  };

  const queue = new BatchQueue(gate, (batch, records) => {
    check.countBatch(batch, records); // every record that reached rstrace, whatever the sinks keep
    if (stopping && o.count !== undefined && emitted >= o.count) return;
    delivered += records;
    causes.apply(batch, records);
    file?.writeBatch(batch, records);
    if (!classifyLive) {
      emitted += records;
    } else if (o.view) {
      emitted += pipeline.eachEvent(batch, records, o.view.visit);
    } else if (countOnly) {
      emitted += pipeline.countBatch(batch, records, countOnly);
    } else if (jsonOnly) {
      pipeline.eachEvent(batch, records, writeJson);
      jsonOnly.end();
      if (o.count !== undefined && emitted >= o.count) void stop();
    } else {
      deliver(pipeline.processBatch(batch, records));
    }
  });
  tracer.start(queue.push);
  const hooks = tracer.attached();
  const tracing = `tracing TCP resets${o.durationSec ? ` for ${o.durationSec}s` : ''}, Ctrl-C to stop`;
  const attached = `attached ${hooks.length} hooks (${hooks.join(', ')}); ${tracing}`;
  // on a terminal the hook names go when they would wrap the line
  log(process.stderr.isTTY && attached.length + 9 > screenColumns(process.stderr) ? `attached ${hooks.length} hooks; ${tracing}` : attached);

  // Losses are shown as they happen, not only in the summary.
  let lastLost = 0;
  const counters = (k: KernelCounters): TraceCounters => ({ delivered, lost: k.lost, filtered: k.filtered + pipeline.filtered });
  table?.start(() => counters(tracer.counters()));
  o.view?.start({ counters: () => counters(tracer.counters()), stop: () => void stop() });
  const lossWatch = setInterval(() => {
    check.adopt(); // namespaces that appeared during the trace join the check
    const c = tracer.counters();
    o.metrics?.updateCounters(counters(c));
    // a view shows the losses itself; a log line would tear its screen
    if (c.lost > lastLost && !o.view) {
      table?.beforeLog();
      const perCpu = c.lostPerCpu.map((n, cpu) => (n ? `cpu${cpu}=${n}` : '')).filter(Boolean).join(' ');
      log(`warning: ${c.lost - lastLost} events lost in the kernel (ring buffer full) in the last second [${perCpu}]; total ${c.lost}`);
      lastLost = c.lost;
    }
  }, 1000);
  lossWatch.unref();

  let timer: NodeJS.Timeout | undefined;
  if (o.durationSec !== undefined) timer = setTimeout(() => void stop(), o.durationSec * 1000);

  async function finish(): Promise<number> {
    clearInterval(lossWatch);
    if (timer) clearTimeout(timer);
    check.end(); // the last readings while the hook still counts: one window for both numbers
    await tracer.close(); // detaches, then delivers what was still in the ring
    queue.drain();
    if (classifyLive && !(o.count !== undefined && emitted >= o.count)) deliver(pipeline.flush());
    const final = counters(tracer.counters());
    const kernel = check.result(); // the hook's final figures, kept by the addon after close
    o.metrics?.kernelCheck?.watch(null);
    file?.close(final, kernel);
    o.metrics?.updateCounters(final);
    await o.metrics?.close();
    table?.stop();
    await o.view?.close();
    log(`${emitted} events, ${final.lost} lost, ${final.filtered} filtered`);
    const summary = checkSummary(kernel);
    for (const line of summary.lines) log(line);
    for (const line of summary.warnings) log(line);
    return 0;
  }

  return done;
}
