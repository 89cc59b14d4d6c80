/**
 * The reader treats every byte as hostile: mutate a real trace file thousands
 * of times and check that reading never throws anything but an RstraceError,
 * always ends, and still returns the events that lie before the damage.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ResetEvent } from '../../src/event.js';
import { RstraceError } from '../../src/errors.js';
import { completeValues, decodeTraceBytes, readTraceFile, TraceFileWriter } from '../../src/sinks/tracefile.js';
import { makeRng, stormEvents, variedEvents } from '../helpers/sample-events.js';

const dir = mkdtempSync(join(tmpdir(), 'rstrace-fuzz-'));

function write(name: string, events: ResetEvent[]): string {
  const path = join(dir, name);
  const w = TraceFileWriter.open(path, { host: 'h', kernel: 'k', bootToWallNs: '0', startTime: 's', options: { a: 1 } });
  for (const e of events) w.write(e);
  w.close({ delivered: events.length, lost: 0, filtered: 0 });
  return path;
}

describe('trace file reader under hostile input', () => {
  const events = [...variedEvents(150, 9), ...stormEvents(150, { seed: 2 })];
  const original = readFileSync(write('fuzz-base.rstrace', events));
  const reference = decodeTraceBytes(original).events;
  const ends = valueEnds(original); // [header, ...events, trailer]
  const referenceJson = reference.map((_, i) => JSON.stringify(reference.slice(0, i)));
  referenceJson.push(JSON.stringify(reference));

  it('mutated files: only RstraceError, and every event before the first damaged byte survives', () => {
    const rnd = makeRng(12345);
    const deadline = Date.now() + 15_000;
    let iterations = 0;
    let errors = 0;
    for (; iterations < 4000 && Date.now() < deadline; iterations++) {
      const bytes = Buffer.from(original);
      let mutated: Buffer = bytes;
      let firstDamage = original.length;
      const edits = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(rnd() * mutated.length);
        const op = rnd();
        if (op < 0.5) {
          mutated[at] ^= 1 + Math.floor(rnd() * 255);
        } else if (op < 0.7) {
          const junk = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256)));
          mutated = Buffer.concat([mutated.subarray(0, at), junk, mutated.subarray(at)]);
        } else if (op < 0.9) {
          mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(at + 1 + Math.floor(rnd() * 8))]);
        } else {
          mutated = mutated.subarray(0, at);
        }
        firstDamage = Math.min(firstDamage, at);
      }
      let result;
      try {
        result = decodeTraceBytes(mutated);
      } catch (err) {
        if (!(err instanceof RstraceError)) throw err;
        expect(err.exitCode).toBe(2);
        errors++;
        continue;
      }
      // Every record that ends before the first damaged byte must be read, unchanged.
      const intact = Math.min(reference.length, Math.max(0, ends.filter((end) => end <= firstDamage).length - 1));
      expect(result.events.length).toBeGreaterThanOrEqual(intact);
      // JSON comparison: toEqual on hundreds of events per iteration would dominate the run
      if (JSON.stringify(result.events.slice(0, intact)) !== referenceJson[intact]) {
        expect(result.events.slice(0, intact)).toEqual(reference.slice(0, intact));
      }
      for (const e of result.events) {
        if (typeof e.time !== 'string' || !['sent', 'received', 'abort'].includes(e.kind) || typeof e.lport !== 'number') {
          throw new Error(`a malformed event got through: ${JSON.stringify(e)}`);
        }
      }
    }
    console.log(`fuzz: ${iterations} mutated files, ${errors} rejected as not a trace`);
    expect(iterations).toBeGreaterThan(500);
    expect(errors).toBeLessThan(iterations); // most mutations hit events, not the header
  });

  it('a multi-chunk file with new strings throughout reads completely', () => {
    const many = variedEvents(30_000, 77);
    const f = readTraceFile(write('fuzz-strings.rstrace', many));
    expect(f.damage).toBeNull();
    expect(f.events).toEqual(many);
  });

  it('random garbage after a valid header never throws anything but RstraceError', () => {
    const rnd = makeRng(99);
    const head = original.subarray(0, 40);
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
      try {
        decodeTraceBytes(Buffer.concat([head, junk]));
      } catch (err) {
        expect(err).toBeInstanceOf(RstraceError);
      }
    }
  });

  it('a claimed 4-billion-element array or string allocates nothing and reads as cut', () => {
    const header = original.subarray(0, completeValues(original.subarray(0, 60)));
    for (const bomb of [[0xdd, 0xff, 0xff, 0xff, 0xff, 0], [0xdb, 0xff, 0xff, 0xff, 0xff, 0x41], [0xdf, 0xff, 0xff, 0xff, 0xff]]) {
      const f = decodeTraceBytes(Buffer.concat([header, Buffer.from(bomb)]));
      expect(f.truncated).toBe(true);
      expect(f.events).toEqual([]);
    }
  });
});

/** Where each top-level value of an intact file ends. */
function valueEnds(bytes: Buffer): number[] {
  const ends: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let one = 1;
    while (completeValues(bytes.subarray(pos, pos + one)) === 0) one++;
    pos += one;
    ends.push(pos);
  }
  return ends;
}
