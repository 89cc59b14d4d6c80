/**
 * The reader treats every byte as hostile: mutate a real trace file thousands
 * of times and check that reading never throws anything but an RstraceError,
 * always ends, and still returns the events that lie before the damage.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { ResetEvent } from '../../src/event.js';
import { RstraceError } from '../../src/errors.js';
import { decodeTraceBytes, readTraceFile } from '../../src/tracefile/reader.js';
import { settled, stormBatches, variedBatches, type Batch } from '../helpers/records.js';
import { FakeProc, writeBatches } from '../helpers/tracefile.js';
import { makeRng } from '../helpers/sample-events.js';

const dir = mkdtempSync(join(tmpdir(), 'rstrace-fuzz-'));

function write(name: string, batches: Batch[]): { path: string; live: ResetEvent[] } {
  const proc = new FakeProc();
  for (let ino = 1000; ino < 1060; ino += 2) proc.owners.set(ino, { pid: ino * 3, comm: `d${ino}` });
  return writeBatches(join(dir, name), batches, { proc });
}

describe('trace file reader under hostile input', () => {
  const base = write('fuzz-base.rstrace', settled([...variedBatches(150, 9), ...stormBatches(150, 16, 2)]));
  const original = readFileSync(base.path);
  const reference = decodeTraceBytes(original).events;
  const ends = valueEnds(original); // [header, ...owners and batches, trailer]
  // events read from the file up to the end of each value
  const eventsUpTo = ends.map((end) => (end === ends[0] ? 0 : decodeTraceBytes(original.subarray(0, end)).events.length));
  const referenceJson = reference.map((_, i) => JSON.stringify(reference.slice(0, i)));
  referenceJson.push(JSON.stringify(reference));

  it('the base file replays what the live pipeline made', () => {
    expect(reference).toEqual(base.live);
    expect(reference.some((e) => e.attribution === 'proc')).toBe(true);
  });

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
      const whole = ends.filter((end) => end <= firstDamage).length;
      const intact = whole === 0 ? 0 : eventsUpTo[whole - 1];
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

  it('a multi-chunk file with new owners throughout reads completely', () => {
    const many = write('fuzz-strings.rstrace', variedBatches(30_000, 77));
    const f = readTraceFile(many.path);
    expect(f.damage).toBeNull();
    expect(f.events).toEqual(many.live);
  });

  it('random garbage after a valid header never throws anything but RstraceError', () => {
    const rnd = makeRng(99);
    const head = original.subarray(0, ends[0]);
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
      try {
        decodeTraceBytes(Buffer.concat([head, junk]));
      } catch (err) {
        expect(err).toBeInstanceOf(RstraceError);
      }
    }
  });

  it('a claimed 4-billion-element array, string or bin allocates nothing and reads as cut', () => {
    const header = original.subarray(0, ends[0]);
    for (const bomb of [[0xdd, 0xff, 0xff, 0xff, 0xff, 0], [0xdb, 0xff, 0xff, 0xff, 0xff, 0x41], [0xdf, 0xff, 0xff, 0xff, 0xff],
      [0x92, 0xa1, 0x62, 0xc6, 0xff, 0xff, 0xff, 0xff, 1]]) {
      const f = decodeTraceBytes(Buffer.concat([header, Buffer.from(bomb)]));
      expect(f.truncated).toBe(true);
      expect(f.damage?.kind).toBe('cut');
      expect(f.events).toEqual([]);
    }
  });
});

/** Where each top-level value of an intact file ends. */
function valueEnds(bytes: Buffer): number[] {
  const ends: number[] = [];
  new Unpackr({ mapsAsObjects: false, useRecords: false }).unpackMultiple(bytes, (_v, _s, end) => { ends.push(end ?? 0); });
  return ends;
}
