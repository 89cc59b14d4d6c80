/**
 * Does `rstrace top` keep up with a storm? Per round: a refused-connect storm
 * on a closed loopback port, untraced, then with `rstrace top --port P`
 * attached (stdout piped: it prints its screen once a second as text), then
 * untraced again. Prints the storm's rate with top over the untraced mean,
 * the events top counted against the 2 per refused connect provoked, what the
 * kernel lost, and top's CPU per event. Bounded: --seconds per run, 4M
 * connects at most. First, without the kernel: the user-space cost per event
 * of top's path (Pipeline.eachEvent + TopTally) on the synthetic storm of
 * test/helpers/records.ts, against eachEvent alone.
 *   npx tsx bench/top-bench.ts [--rounds N] [--seconds S] [--threads N]
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { WallClock } from '../src/enrich/clock.js';
import { ProcIndex } from '../src/enrich/proc.js';
import { Pipeline } from '../src/pipeline.js';
import { TopTally } from '../src/top/tally.js';
import { stormBatches } from '../test/helpers/records.js';
import { LOADGEN, RSTRACE, cpuTimes, ensureLoadgen, killAll, onExit, parseRstraceSummary, startDaemon, sleep, tail } from './lib.js';

const { values: flags } = parseArgs({ options: { rounds: { type: 'string' }, seconds: { type: 'string' }, threads: { type: 'string' } } });
const ROUNDS = Number(flags.rounds ?? 2);
const SECONDS = Number(flags.seconds ?? 4);
const THREADS = Number(flags.threads ?? 2);

interface Load { rate: number; resets: number; probes: number }

function storm(port: number): Load {
  const r = spawnSync(LOADGEN, ['--mode', 'refused', '--port', String(port), '--threads', String(THREADS), '--seconds', String(SECONDS),
    '--count', String(Math.ceil(SECONDS * 1_000_000))], { encoding: 'utf8', timeout: (SECONDS + 10) * 1000 });
  if (r.status !== 0) throw new Error(`loadgen: ${r.status} ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Load;
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** CPU ns per event of eachEvent with `visit`, best of 3 passes over 400k synthetic storm events. */
function offline(visit: ((t: TopTally) => (e: Parameters<TopTally['visit']>[0]) => void)): number {
  const batches = Array.from(stormBatches(200 * 2048, 2048), (b) => b.bytes);
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const p = new Pipeline({ clock: new WallClock(1_790_000_000_000_000_000n), proc: new ProcIndex('/nonexistent'), reasons: new Map([[1, 'NO_SOCKET']]) });
    const each = visit(new TopTally([32768, 60999]));
    const c0 = process.cpuUsage();
    let n = 0;
    for (const b of batches) n += p.eachEvent(b, 2048, each);
    const c = process.cpuUsage(c0);
    best = Math.min(best, ((c.user + c.system) * 1000) / n);
  }
  return best;
}
const alone = offline(() => () => {});
const withTally = offline((t) => t.visit);
console.log(`offline: eachEvent ${alone.toFixed(0)} ns CPU/event, + top's tally ${withTally.toFixed(0)} ns (${(1e3 / withTally).toFixed(2)} M events/s on one core)`);

ensureLoadgen();
onExit(killAll);
console.log(`rstrace top under a refused-connect storm: ${ROUNDS} rounds, ${SECONDS} s each, ${THREADS} loadgen threads`);
for (let round = 1; round <= ROUNDS; round++) {
  const port = await closedPort();
  const before = storm(port);
  const top = await startDaemon(RSTRACE, ['top', '--port', String(port)], { ready: /attached/, readyTimeoutMs: 15_000, stdout: 'pipe' });
  await sleep(300);
  const cpu0 = cpuTimes(top.pid);
  const traced = storm(port);
  await sleep(1500); // a refresh after the storm, and the ring drained
  const cpu1 = cpuTimes(top.pid);
  const stopped = await top.stop(60_000);
  const after = storm(port);
  const out = top.output();
  const counted = Number(/rstrace top: (\d+) resets/.exec(out)?.[1] ?? NaN);
  const { lost } = parseRstraceSummary(out);
  const expected = 2 * (traced.resets + traced.probes);
  const ratio = traced.rate / ((before.rate + after.rate) / 2);
  const cpuUs = (((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) * 1e6) / Math.max(1, counted);
  console.log(`round ${round}: untraced ${Math.round(before.rate)} / ${Math.round(after.rate)} connects/s, with top ${Math.round(traced.rate)} `
    + `(ratio ${ratio.toFixed(2)}, ${Math.round(expected / SECONDS)} events/s); top counted ${counted} of ${expected} events, lost ${lost}, `
    + `${cpuUs.toFixed(2)} us CPU per event; exit ${stopped.code}${counted === expected ? '' : ` MISMATCH: ${tail(out)}`}`);
}
