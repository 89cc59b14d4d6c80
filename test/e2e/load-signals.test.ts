/**
 * The verifier gives up with EAGAIN whenever a signal is pending, so a
 * process that is signalled often could never load the programs. V8's CPU
 * profiler sends SIGPROF every millisecond: under it, rstrace must still load,
 * attach and exit cleanly (the addon holds signals while loading).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

it('loads and attaches while SIGPROF arrives every millisecond (node --cpu-prof)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rstrace-prof-'));
  try {
    const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '500', '--cpu-prof-dir', dir, CLI, 'trace', '--json', '-d', '1'],
      { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toMatch(/attached/);
    expect(r.stderr).not.toMatch(/Resource temporarily unavailable/);
    expect(r.status, r.stderr).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
