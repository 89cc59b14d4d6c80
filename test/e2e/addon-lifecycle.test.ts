import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ADDON = fileURLToPath(new URL('../../native/build/Release/rstrace.node', import.meta.url));
const CHILD = fileURLToPath(new URL('../fixtures/tracer-lifecycle.cjs', import.meta.url));

describe('native tracer lifecycle', () => {
  it('tracers closed or dropped, then garbage-collected before exit: the process exits 0 with nothing on stderr', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', CHILD, ADDON], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // the case under test only exists if the tracers really were collected before exit
    expect(r.stdout.trim()).toBe('collected 6 of 6');
  });
});
