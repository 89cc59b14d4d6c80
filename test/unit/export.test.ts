import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_FIELDS, type ResetEvent } from '../../src/event.js';
import { RstraceError } from '../../src/errors.js';
import { csvField, csvHeader, csvLineEncoder, exportTrace, fileOutput, parseFormat } from '../../src/export.js';
import { toJsonLine } from '../../src/sinks/jsonl.js';
import { sampleEvent, variedEvents } from '../helpers/sample-events.js';
import { variedBatches } from '../helpers/records.js';
import { writeBatches } from '../helpers/tracefile.js';
import { RSTRACE } from '../helpers/tracer.js';

const dir = mkdtempSync(join(tmpdir(), 'rstrace-export-'));

/** A trace file of `records` varied kernel records, optionally cut short; and the events live made of them. */
function trace(name: string, records: number, seed: number, cutBytes = 0): { path: string; live: ResetEvent[] } {
  const w = writeBatches(join(dir, name), variedBatches(records, seed));
  if (cutBytes) {
    const bytes = readFileSync(w.path);
    writeFileSync(w.path, bytes.subarray(0, bytes.length - cutBytes));
  }
  return w;
}

describe('export', () => {
  it('jsonl lines are the contract fields in order, exactly as JSON.stringify writes them, for odd values too', () => {
    const odd = sampleEvent({ comm: 'a"b\\c\n\u0001\u2028😀\ud800', explanation: '', cookie: '18446744073709551615', unread: NaN, pid: undefined as unknown as null });
    for (const e of [...variedEvents(2000, 3), odd]) {
      const o: Record<string, unknown> = {};
      for (const f of EVENT_FIELDS) o[f] = e[f] ?? null;
      expect(toJsonLine(e)).toBe(JSON.stringify(o));
    }
  });

  it('export --format jsonl of a trace file equals toJsonLine of each event, line by line', async () => {
    const { path, live } = trace('j.rstrace', 500, 11);
    const out = join(dir, 'out.jsonl');
    const r = await exportTrace(path, 'jsonl', () => fileOutput(out));
    expect(r.events).toBe(live.length);
    expect(live.length).toBeGreaterThan(400);
    expect(readFileSync(out, 'utf8')).toBe(live.map((e) => toJsonLine(e) + '\n').join(''));
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('CSV: header row is EVENT_FIELDS, RFC 4180 quoting, null is empty, CRLF line ends', () => {
    expect(csvHeader()).toBe(EVENT_FIELDS.join(','));
    expect(csvField(null)).toBe('');
    expect(csvField(0)).toBe('0');
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    const line = csvLineEncoder()(sampleEvent({ comm: 'x,"y"', reason: null }));
    const cells = line.split(',');
    expect(cells[0]).toBe('2026-11-26T07:00:00.123456789Z');
    expect(line).toContain(',"x,""y""",');
    expect(cells[4]).toBe(''); // reason null
  });

  it('export --format csv writes a header and one row per event', async () => {
    const { path, live } = trace('c.rstrace', 50, 4); // no CR or LF in any field
    const out = join(dir, 'out.csv');
    await exportTrace(path, 'csv', () => fileOutput(out));
    const rows = readFileSync(out, 'utf8').split('\r\n');
    expect(rows[0]).toBe(EVENT_FIELDS.join(','));
    expect(rows.slice(1, -1)).toEqual(live.map(csvLineEncoder()));
    expect(rows.length).toBe(live.length + 2); // header, the rows, '' after the last CRLF
  });

  it('a truncated trace exports every complete event and reports the damage', async () => {
    const { path, live } = trace('cut.rstrace', 300, 8, 30);
    const out = join(dir, 'cut.jsonl');
    const r = await exportTrace(path, 'jsonl', () => fileOutput(out));
    expect(r.damage?.kind).toBe('cut');
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines).toEqual(live.slice(0, lines.length).map(toJsonLine));
    expect(lines.length).toBeGreaterThan(20);
  });

  it('an unknown format is a usage error (exit 2), and a missing input creates no output file', async () => {
    expect(() => parseFormat('xml')).toThrow(RstraceError);
    try { parseFormat('xml'); } catch (e) { expect((e as RstraceError).exitCode).toBe(2); }
    const out = join(dir, 'never.jsonl');
    await expect(exportTrace(join(dir, 'nope.rstrace'), 'jsonl', () => fileOutput(out))).rejects.toThrow(/no such file/);
    expect(() => statSync(out)).toThrow();
  });

  it('-o a directory, or a path under a missing one, is bad input (exit 2) with the reason in words', () => {
    for (const [path, why] of [[dir, 'it is a directory'], [join(dir, 'gone', 'x.jsonl'), 'its directory does not exist']]) {
      try {
        fileOutput(path);
        throw new Error('expected a usage error');
      } catch (err) {
        expect(err).toBeInstanceOf(RstraceError);
        expect((err as RstraceError).exitCode).toBe(2);
        expect((err as RstraceError).oneLine()).toBe(`rstrace: cannot create ${path}: ${why}: give -o a path in a directory you can write to`);
      }
    }
  });

  it('export to a pipe (stdout by fd) equals the file export; a reader that leaves early (| head) ends it quietly', () => {
    const { path, live } = trace('p.rstrace', 3000, 12);
    const expected = live.map((e) => toJsonLine(e) + '\n').join('');
    const piped = spawnSync('sh', ['-c', `"$0" export "$1" | cat`, RSTRACE, path], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 20_000 });
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toBe(expected);
    // a slow reader: the pipe fills, the writer blocks instead of buffering
    const slow = spawnSync('sh', ['-c', `"$0" export "$1" | (sleep 0.3; cat)`, RSTRACE, path], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 20_000 });
    expect(slow.stdout).toBe(expected);
    // several 1 MiB writes, the reader gone after the first: no error, exit 0
    const big = trace('big.rstrace', 12000, 13);
    const head = spawnSync('sh', ['-c', `{ "$0" export "$1"; echo "status $?" >&2; } | head -n 2`, RSTRACE, big.path], { encoding: 'utf8', timeout: 20_000 });
    expect(head.stdout).toBe(big.live.slice(0, 2).map((e) => toJsonLine(e) + '\n').join(''));
    expect(head.stderr).toBe('status 0\n');
  });

  it('stops quietly when stdout goes away (EPIPE)', async () => {
    const { PassThrough } = await import('node:stream');
    const sink = new PassThrough({ highWaterMark: 16 });
    const { stdoutOutput } = await import('../../src/export.js');
    const out = stdoutOutput(sink);
    sink.on('data', () => {});
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    sink.emit('error', epipe);
    expect(out.closed).toBe(true);
    const r = await exportTrace(trace('pipe.rstrace', 100, 1).path, 'jsonl', out);
    expect(r.closedEarly).toBe(true);
  });
});
