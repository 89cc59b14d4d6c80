/**
 * Trace file (format 2) on a reset storm: the writer's CPU and bytes per
 * event, then `report` and `export --format jsonl` speed reading it back
 * (both classify at read time through the live Pipeline). Run:
 *   npx tsx bench/tracefile-bench.ts [events=1000000] [file] [--rounds N] [--compare DIR] [--write]
 * --rounds: measurements per figure (default 3; median and range are shown).
 * --compare DIR: also read the same file with the sources of another checkout
 * (e.g. `git worktree add /tmp/before <commit>`), interleaved round by round,
 * as "before". --write puts the figures in bench/RESULTS.md (its own section;
 * `make bench` does this).
 */
import { execFileSync } from 'node:child_process';
import { statSync, unlinkSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as exportNow from '../src/export.js';
import * as reportNow from '../src/report/run.js';
import * as readerNow from '../src/tracefile/reader.js';
import { TraceFileWriter } from '../src/tracefile/writer.js';
import { stormBatches } from '../test/helpers/records.js';
import { TRACEFILE_HEADING, writeResults } from './lib.js';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
const valued = new Set(['--rounds', '--compare']);
const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !valued.has(all[i - 1]));
const write = process.argv.includes('--write');
const rounds = Number(option('--rounds') ?? 3);
const compare = option('--compare');
const count = Number(args[0] ?? 1_000_000);
const file = args[1] ?? join(tmpdir(), `rstrace-bench-${process.pid}.rstrace`);
const lines: string[] = [];
function say(line: string): void {
  console.log(line);
  lines.push(line);
}

/** What one checkout's sources offer the measurements. */
interface Code {
  name: string;
  exportTrace: typeof exportNow.exportTrace;
  fileOutput: typeof exportNow.fileOutput;
  reportFiles: typeof reportNow.reportFiles;
  TraceReader: typeof readerNow.TraceReader;
}
const variants: Code[] = [{ name: 'now', ...exportNow, ...reportNow, ...readerNow }];
/** the commit of the --compare checkout, for the text */
let before = '';
if (compare) {
  const root = resolve(compare);
  try { before = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { before = root; }
  const [e, r, t] = await Promise.all([import(`${root}/src/export.ts`), import(`${root}/src/report/run.ts`), import(`${root}/src/tracefile/reader.ts`)]);
  variants.unshift({ name: 'before', ...(e as typeof exportNow), ...(r as typeof reportNow), ...(t as typeof readerNow) });
}

const MEASURES = ['read (streamed)', 'read+report', 'read+export jsonl'] as const;
type Measure = (typeof MEASURES)[number];
/** per variant and measure: events per CPU second of each round */
const rates = new Map<string, number[]>();

function rate(n: number, ms: number): string {
  return Math.round((n / ms) * 1000).toLocaleString('en-US').padStart(10);
}

/** Wall clock, and this process's CPU time (user + system): the fair figure on a shared machine. */
async function timed(code: Code, label: Measure, fn: () => number | Promise<number>): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1000;
  say(`${code.name.padEnd(7)}${label.padEnd(19)} ${rate(n, wall)} events/s wall (${wall.toFixed(0)} ms), ${rate(n, cpu)} events/s per CPU second`);
  const key = `${code.name} ${label}`;
  rates.set(key, [...(rates.get(key) ?? []), (n / cpu) * 1000]);
}

// Generate outside the timed region: the generator's own cost is not the writer's.
const batches = [...stormBatches(count)];
const writer = TraceFileWriter.open(file, {
  host: 'bench', kernel: '6.12.0', bootToWallNs: '1795000000000000000', startTime: new Date().toISOString(), options: {},
  names: { sk_rst_reason: [[0, 'NOT_SPECIFIED'], [1, 'NO_SOCKET']] },
}, { ownerOf: () => null });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (const b of batches) writer.writeBatch(b.bytes, b.records);
writer.close({ delivered: count, lost: 0, filtered: 0 });
const writeMs = performance.now() - t0;
const wc = process.cpuUsage(cpu0);
batches.length = 0;

const size = statSync(file).size;
say(`events:                ${count.toLocaleString('en-US')} (refused connects: sent NO_SOCKET + received SYN_SENT, 4096-record batches)`);
say(`file size:             ${(size / 1048576).toFixed(1)} MiB, ${(size / count).toFixed(2)} bytes/event`);
say(`write                  ${((wc.user + wc.system) / count).toFixed(3)} us CPU/event (${(writeMs * 1000 / count).toFixed(3)} us wall), ${rate(count, writeMs)} events/s wall`);

for (let run = 1; run <= rounds; run++) {
  say(`-- round ${run}`);
  // alternate which checkout goes first, so that neither always reads a warm page cache or a quieter minute
  const order = run % 2 ? variants : [...variants].reverse();
  for (const code of order) {
    await timed(code, 'read (streamed)', () => {
      let n = 0;
      const r = code.TraceReader.open(file);
      r.forEachEvent(() => { n++; });
      r.close();
      return n;
    });
    await timed(code, 'read+report', () => code.reportFiles([file]).report.total);
    await timed(code, 'read+export jsonl', async () => (await code.exportTrace(file, 'jsonl', () => code.fileOutput('/dev/null'))).events);
  }
}
if (args[1] === undefined) unlinkSync(file);

/** "1.23 M (1.10-1.31)": median and range over the rounds, M events per CPU second */
function figure(name: string, label: Measure): string {
  const xs = [...(rates.get(`${name} ${label}`) ?? [])].sort((a, b) => a - b);
  if (xs.length === 0) return '';
  const m = (x: number): string => (x / 1e6).toFixed(2);
  const mid = xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
  return `${m(mid)} M (${m(xs[0])}-${m(xs[xs.length - 1])})`;
}
const TARGETS: Record<Measure, string> = { 'read (streamed)': '', 'read+report': '>= 1M', 'read+export jsonl': '>= 1M' };
const NAMES: Record<Measure, string> = {
  'read (streamed)': 'read + classify (streamed)', 'read+report': '`report`', 'read+export jsonl': '`export --format jsonl`',
};
const table = [
  compare ? '| measurement | before | now | target |' : '| measurement | figure | target |',
  compare ? '| --- | --- | --- | --- |' : '| --- | --- | --- |',
  `| writer CPU per event | ${compare ? '| ' : ''}${((wc.user + wc.system) / count).toFixed(2)} us | |`,
  `| bytes per event | ${compare ? '| ' : ''}${(size / count).toFixed(2)} | < 40 |`,
  ...MEASURES.map((label) => `| ${NAMES[label]}, events/s per CPU second | ${variants.map((v) => figure(v.name, label)).join(' | ')} | ${TARGETS[label]} |`),
];
console.log(['', ...table].join('\n'));

if (write) {
  writeResults({
    tracefile: [
      TRACEFILE_HEADING, '',
      `${new Date().toISOString().slice(0, 10)}, Linux ${release()}, ${cpus()[0]?.model ?? '?'} (${cpus().length} cores, shared).`,
      `Command: \`npx tsx bench/tracefile-bench.ts ${count}${rounds !== 3 ? ` --rounds ${rounds}` : ''}${compare ? ' --compare BEFORE' : ''}\` (also run by \`make bench\`${compare ? `; BEFORE: a worktree of ${before}` : ''}). A synthetic storm of refused connects`,
      'in trace format 2 (per connect a socket-less `sent` NO_SOCKET record and a `received` SYN_SENT record, one process with',
      'two threads, ports and cookies counting up, 1.5-5.5 us apart, 4,096-record batches), written with the live writer, then',
      'read back by `report` and `export --format jsonl` (to /dev/null), which classify every record through the live Pipeline.',
      `Rates are per CPU second of this process (the machine is shared): median (min-max) of ${rounds} rounds${compare ? ', "before" and "now" interleaved in each round' : ''}.`, '',
      ...table,
      '', '```', ...lines, '```', '',
    ].join('\n'),
  });
}
