/** Writing trace files from record batches in tests, and what the live pipeline made of the same batches. */
import { WallClock } from '../../src/enrich/clock.js';
import type { OwnerLookup, ProcOwner } from '../../src/enrich/proc.js';
import type { ResetEvent } from '../../src/event.js';
import { matchesFilter, type EventFilter } from '../../src/filter.js';
import { Pipeline } from '../../src/pipeline.js';
import type { TraceHeaderInput } from '../../src/tracefile/format.js';
import { TraceFileWriter } from '../../src/tracefile/writer.js';
import type { Batch } from './records.js';

export const REASONS: [number, string][] = [[0, 'NOT_SPECIFIED'], [1, 'NO_SOCKET'], [2, 'TCP_INVALID_ACK_SEQUENCE'], [5, 'TCP_ABORT_ON_CLOSE'], [9, 'TCP_STATE']];
export const BOOT_TO_WALL = '1795000000123456789';

export function headerInput(over: Partial<TraceHeaderInput> = {}): TraceHeaderInput {
  return {
    host: 'testhost', kernel: '6.12.0-test', bootToWallNs: BOOT_TO_WALL, startTime: '2026-11-26T07:00:00.000Z',
    options: { port: '443', json: true, count: 10, codes: ['11', '16'], nothing: undefined },
    names: { sk_rst_reason: REASONS }, ...over,
  };
}

/** A /proc stand-in: inode -> owner, changeable between batches. */
export class FakeProc implements OwnerLookup {
  readonly owners = new Map<number, ProcOwner>();
  calls = 0;
  ownerOf(ino: number): ProcOwner | null {
    this.calls++;
    return this.owners.get(ino) ?? null;
  }
}

export interface Written {
  path: string;
  /** what `trace --json` would have printed for these batches */
  live: ResetEvent[];
}

/**
 * Write `batches` to `path` the way `trace -o` does, and run the live
 * pipeline over the same batches with the writer's owner answers.
 */
export function writeBatches(path: string, batches: Iterable<Batch>, opts: {
  header?: Partial<TraceHeaderInput>; proc?: FakeProc; close?: boolean; filter?: EventFilter; beforeBatch?: (i: number) => void;
} = {}): Written {
  const filter = opts.filter ?? opts.header?.filter ?? null;
  const w = TraceFileWriter.open(path, headerInput({ ...opts.header, filter }), opts.proc ?? new FakeProc());
  const pipeline = new Pipeline({
    clock: new WallClock(BigInt(opts.header?.bootToWallNs ?? BOOT_TO_WALL)), proc: w.owners, reasons: new Map(REASONS),
    keep: filter ? (e) => matchesFilter(e, filter) : undefined,
  });
  const live: ResetEvent[] = [];
  let n = 0;
  let i = 0;
  for (const b of batches) {
    opts.beforeBatch?.(i++);
    w.writeBatch(b.bytes, b.records);
    for (const e of pipeline.processBatch(b.bytes, b.records)) live.push(e);
    n += b.records;
  }
  if (opts.close === false) w.flush();
  else {
    for (const e of pipeline.flush()) live.push(e);
    w.close({ delivered: n, lost: 3, filtered: 4 });
  }
  return { path, live };
}
