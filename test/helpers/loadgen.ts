/** bench/loadgen (make build) for e2e tests: loopback only, bounded by count and time. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const LOADGEN = fileURLToPath(new URL('../../bench/build/loadgen', import.meta.url));

export interface Load { resets: number; probes: number; errors: number; rate: number; seconds: number }

/** Runs loadgen on 127.0.0.1:port: `count` attempts at most, 20 s at most. A tracer sees 2 * (resets + probes) events. */
export function loadgen(mode: 'refused' | 'linger0', port: number, count: number, extra: string[] = []): Load {
  const r = spawnSync(LOADGEN, ['--mode', mode, '--port', String(port), '--threads', '2', '--count', String(count), '--seconds', '20', ...extra], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loadgen failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Load;
}
