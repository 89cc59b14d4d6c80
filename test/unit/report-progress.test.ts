import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportTrace, type ExportOutput } from '../../src/export.js';
import { ProgressBar, renderProgress, type ProgressStream } from '../../src/progress.js';
import { reportFiles } from '../../src/report/run.js';
import { stormBatches } from '../helpers/records.js';
import { writeBatches } from '../helpers/tracefile.js';

function fakeStream(isTTY: boolean, columns = 100): ProgressStream & { out: string } {
  const s = { isTTY, columns, out: '', write(text: string) { s.out += text; return true; } };
  return s;
}

describe('renderProgress', () => {
  it('percent, bar, bytes of total, rate and time left, within the width', () => {
    const line = renderProgress({ label: 'report', done: 120e6, total: 300e6, elapsedMs: 2000 }, 100);
    expect(line).toBe('report  40% [===================>                            ] 120 MB / 300 MB  60.0 MB/s  ETA 0:03');
    expect(line.length).toBe(99);
  });
  it('full at the end, and the bar shrinks to the width', () => {
    const line = renderProgress({ label: 'export', done: 250e6, total: 250e6, elapsedMs: 5000 }, 80);
    expect(line).toMatch(/^export 100% \[=+\] 250 MB \/ 250 MB {2}50\.0 MB\/s {2}ETA 0:00$/);
    expect(line.length).toBe(79);
  });
  it('no rate yet: no time left; hours when it is long', () => {
    expect(renderProgress({ label: 'r', done: 0, total: 1e9, elapsedMs: 0 }, 100)).toMatch(/ 0\.0 MB \/ 1000 MB {2}0\.0 MB\/s {2}ETA --:--$/);
    expect(renderProgress({ label: 'r', done: 1e6, total: 5e9, elapsedMs: 1000 }, 100)).toMatch(/ETA 1:23:19$/);
  });
  it('a terminal too narrow for a bar gets the figures, cut to fit', () => {
    const line = renderProgress({ label: 'report', done: 1e8, total: 2e8, elapsedMs: 1000 }, 40);
    expect(line).not.toContain('[');
    expect(line.length).toBe(39);
    expect(line.startsWith('report  50%  100 MB / 200 MB')).toBe(true);
  });
});

describe('ProgressBar', () => {
  it('nothing at all when stderr is not a terminal (a pipe, a log file)', () => {
    const s = fakeStream(false);
    expect(ProgressBar.create('report', 500e6, { stream: s })).toBeNull();
    expect(s.out).toBe('');
  });
  it('nothing for input under 100 MB', () => {
    expect(ProgressBar.create('report', 99e6, { stream: fakeStream(true) })).toBeNull();
    expect(ProgressBar.create('report', 100e6, { stream: fakeStream(true) })).not.toBeNull();
  });
  it('on a terminal: redrawn in place at most every 100 ms, cleared at the end', () => {
    const s = fakeStream(true, 100);
    let now = 0;
    const bar = ProgressBar.create('report', 200e6, { stream: s, now: () => now })!;
    now = 1000;
    bar.update(50e6);
    now = 1050;
    bar.update(60e6); // too soon: not drawn
    now = 2000;
    bar.update(100e6);
    bar.end();
    const draws = s.out.split('\r').filter(Boolean);
    expect(draws.length).toBe(3);
    expect(draws[0]).toMatch(/^report  25% \[.*\] 50\.0 MB \/ 200 MB {2}50\.0 MB\/s {2}ETA 0:03\x1b\[K$/);
    expect(draws[1]).toMatch(/^report  50% .* 100 MB \/ 200 MB {2}50\.0 MB\/s {2}ETA 0:02\x1b\[K$/);
    expect(draws[2]).toBe('\x1b[K');
  });
  it('end() before any draw writes nothing', () => {
    const s = fakeStream(true);
    ProgressBar.create('report', 200e6, { stream: s })!.end();
    expect(s.out).toBe('');
  });
  it('forFiles sums the files\' sizes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rsth5-progress-'));
    try {
      writeFileSync(join(dir, 'a'), Buffer.alloc(3000));
      writeFileSync(join(dir, 'b'), Buffer.alloc(2000));
      const paths = [join(dir, 'a'), join(dir, 'b'), join(dir, 'missing')];
      expect(ProgressBar.forFiles('report', paths, { stream: fakeStream(true), minBytes: 5001 })).toBeNull();
      expect(ProgressBar.forFiles('report', paths, { stream: fakeStream(true), minBytes: 5000 })).not.toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('report and export feed the bar as they read', () => {
  /** Percent of each draw, in order; the last write must be the clearing one. */
  function percents(out: string): number[] {
    const draws = out.split('\r').filter(Boolean);
    expect(draws[draws.length - 1]).toBe('\x1b[K');
    return draws.slice(0, -1).map((d) => Number(/^\w+ +(\d+)%/.exec(d)![1]));
  }
  const nullOutput = (): ExportOutput => ({ closed: false, async write() {}, writeSync() {}, async end() {} });

  it('bytes read climb to the file size, then the line is cleared', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rsth5-progress-'));
    try {
      const file = join(dir, 'storm.rstrace');
      writeBatches(file, stormBatches(60_000));
      let now = 0;
      const opts = () => ({ stream: fakeStream(true), minBytes: 0, now: () => (now += 1000) });
      const o1 = opts();
      const r = reportFiles([file, file], {}, 10, ProgressBar.forFiles('report', [file, file], o1));
      expect(r.report.total).toBe(120_000);
      const p1 = percents(o1.stream.out);
      expect(p1.length).toBeGreaterThanOrEqual(10);
      expect(p1).toEqual([...p1].sort((a, b) => a - b));
      expect(p1[p1.length - 1]).toBeGreaterThanOrEqual(90);
      const o2 = opts();
      await exportTrace(file, 'csv', nullOutput(), {}, ProgressBar.forFiles('export', [file], o2));
      const p2 = percents(o2.stream.out);
      expect(p2.length).toBeGreaterThanOrEqual(5);
      expect(p2).toEqual([...p2].sort((a, b) => a - b));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
