/**
 * JSON lines: one object per event, fields in the contract's order. `export`
 * uses the same encoder, so a file exported later is identical, line for
 * line, to what `trace --json` printed live.
 *
 * Lines are written as bytes straight into a reused buffer (JsonLinesBuffer):
 * building a JS string per line and converting it to UTF-8 at write time cost
 * most of `trace --json`'s CPU in a storm. The line writer is compiled once
 * from EVENT_SCHEMA (a loop over field names per event costs several times
 * more): the keys and punctuation are constant byte stores, integers are
 * written as ASCII digits, strings that repeat (kinds, states, addresses,
 * process names, phrases) are copied from a cache of their escaped UTF-8
 * bytes, and strings unique to the event (time, cookie) are copied character
 * by character when plain. test/unit/jsonl.test.ts holds it to JSON.stringify
 * of EVENT_FIELDS in order.
 */
import { EVENT_FIELDS, EVENT_SCHEMA, type FieldSpec, type ResetEvent } from '../event.js';

/**
 * The longest string (escaped UTF-8 bytes) the fast path writes; a longer one
 * sends its whole line through JSON.stringify. Kernel strings are far shorter
 * (comm: 16 bytes), so this only bounds the space a line may need.
 */
const LONG = 2048;

const STRING_FIELDS = EVENT_SCHEMA.filter((f) => f.type !== 'integer').length;
/** Room one line may take on the fast path: keys, every string at LONG, every integer at 24 digits. */
const LINE_MAX = EVENT_SCHEMA.length * 24 + STRING_FIELDS * LONG + Buffer.byteLength(JSON.stringify(EVENT_FIELDS)) + 64;

let escaped = new Map<string, Uint8Array>();
const NULL = Buffer.from('null');

/** Set by a writer that met a string longer than LONG: the line is redone the slow way. */
let tooLong = false;

/** A string that repeats across events: escaped once, kept as UTF-8 bytes. */
function bytesOf(v: string | null): Uint8Array {
  if (v == null) return NULL;
  let x = escaped.get(v);
  if (x === undefined) {
    x = Buffer.from(JSON.stringify(v));
    if (escaped.size >= 16384) escaped = new Map();
    escaped.set(v, x);
  }
  return x;
}

/** Cached bytes into the line; a native copy pays for its call only past a few bytes. */
function put(b: Uint8Array, p: number, x: Uint8Array): number {
  const n = x.length;
  if (n > LONG) { tooLong = true; return p; }
  if (n > 16) { b.set(x, p); return p + n; }
  for (let i = 0; i < n; i++) b[p + i] = x[i];
  return p + n;
}

/** A list of strings (signals): rare and short, so encoded each time. */
function list(b: Uint8Array, p: number, v: readonly string[] | null): number {
  return put(b, p, v == null ? NULL : Buffer.from(JSON.stringify(v)));
}

function rep(b: Uint8Array, p: number, v: string | null): number {
  return put(b, p, bytesOf(v));
}

/** A string unique to the event (time, cookie): plain ASCII by construction, copied as it is checked. */
function uniq(b: Uint8Array, p: number, v: string | null): number {
  if (v == null) return put(b, p, NULL);
  const n = v.length;
  if (n > LONG) { tooLong = true; return p; }
  b[p] = 34;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    // anything JSON escapes or UTF-8 widens: the whole string the general way
    if (c < 0x20 || c > 0x7e || c === 34 || c === 92) return rep(b, p, v);
    b[p + 1 + i] = c;
  }
  b[p + 1 + n] = 34;
  return p + n + 2;
}

/** Digits of 0..65535 (ports, codes, counts, most pids), 5 bytes apart: a lookup instead of divisions. */
const SMALL = 65536;
const SMALL_DIGITS = new Uint8Array(SMALL * 5);
const SMALL_LENGTH = new Uint8Array(SMALL);
for (let v = 0; v < SMALL; v++) {
  const d = `${v}`;
  SMALL_LENGTH[v] = d.length;
  for (let i = 0; i < d.length; i++) SMALL_DIGITS[v * 5 + i] = d.charCodeAt(i);
}

/** An integer as JSON.stringify writes it: digits without a string for the usual case, `null` if not finite. */
function int(b: Uint8Array, p: number, v: number | null): number {
  if (typeof v !== 'number') return put(b, p, NULL);
  if (v >= 0 && v < SMALL && (v | 0) === v) {
    const n = SMALL_LENGTH[v];
    const at = v * 5;
    for (let i = 0; i < n; i++) b[p + i] = SMALL_DIGITS[at + i];
    return p + n;
  }
  if (v >= 0 && v <= Number.MAX_SAFE_INTEGER && Math.floor(v) === v) {
    let end = p + 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) end++;
    let q = end;
    let t = v;
    do {
      const d = Math.floor(t / 10);
      b[--q] = 48 + (t - d * 10); // 48 + t first would round past 2^53
      t = d;
    } while (t > 0);
    return end;
  }
  if (!Number.isFinite(v)) return put(b, p, NULL);
  const s = `${v}`; // negative, fractional or beyond 2^53: what JSON.stringify writes, all ASCII
  for (let i = 0; i < s.length; i++) b[p + i] = s.charCodeAt(i);
  return p + s.length;
}

/** A field name as it may appear in generated code: a plain identifier. */
export function fieldAccess(f: FieldSpec): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name)) throw new Error(`event field name ${JSON.stringify(f.name)} is not an identifier`);
  return `e.${f.name}`;
}

/** Stores of constant bytes, unrolled: cheaper than a copy loop for the ~10 bytes between values. */
function storeBytes(text: string): string {
  const bytes = Buffer.from(text);
  return [...bytes].map((c, i) => `b[p${i ? ` + ${i}` : ''}] = ${c};`).join(' ') + ` p += ${bytes.length};`;
}

type WriteLine = (b: Uint8Array, p: number, e: ResetEvent) => number;

function compile(): WriteLine {
  const specs: readonly FieldSpec[] = EVENT_SCHEMA;
  // Each repeated-string field remembers its last value and bytes: in a storm
  // consecutive events share most of them, and `===` on the same string is
  // cheaper than a Map lookup.
  const memo: string[] = [];
  const body = specs.map((f, i) => {
    const key = storeBytes(`${i === 0 ? '{' : ','}${JSON.stringify(f.name)}:`);
    if (f.type === 'integer') return `${key}\n    p = int(b, p, ${fieldAccess(f)});`;
    if (f.type === 'string[]') return `${key}\n    p = list(b, p, ${fieldAccess(f)});`;
    if (f.unique) return `${key}\n    p = uniq(b, p, ${fieldAccess(f)});`;
    memo.push(`let v${i} = null, x${i} = bytesOf(null);`);
    return `${key}\n    { const v = ${fieldAccess(f)}; if (v !== v${i}) { v${i} = v; x${i} = bytesOf(v); } p = put(b, p, x${i}); }`;
  });
  body.push(storeBytes('}\n'));
  const source = `${memo.join('\n  ')}\n  return function writeJsonLine(b, p, e) {\n    ${body.join('\n    ')}\n    return p;\n  };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('int', 'uniq', 'list', 'put', 'bytesOf', source)(int, uniq, list, put, bytesOf) as WriteLine;
}

const writeLine: WriteLine = compile();

/** The reference form, for lines with a very long string: an object in contract order through JSON.stringify. */
function slowLine(e: ResetEvent): string {
  const o: Record<string, unknown> = {};
  for (const f of EVENT_FIELDS) o[f] = e[f] ?? null;
  return JSON.stringify(o) + '\n';
}

/**
 * JSON lines gathered as bytes. Write events, and when `full`, hand the bytes
 * on (`bytes()` then `reset()` for a synchronous writer, `take()` for one that
 * keeps the chunk, like a stream).
 */
export class JsonLinesBuffer {
  private buf: Buffer;
  private pos = 0;

  /** `capacity`: bytes gathered before `full`; a line always fits behind it. */
  constructor(private readonly capacity = 1 << 20) {
    this.buf = Buffer.allocUnsafe(capacity + LINE_MAX);
  }

  get length(): number { return this.pos; }

  get full(): boolean { return this.pos >= this.capacity; }

  /** One event's line and its newline; `e` may be reused once this returns. */
  write(e: ResetEvent): void {
    if (this.buf.length - this.pos < LINE_MAX) this.grow(LINE_MAX); // `full` was not heeded
    tooLong = false;
    const p = writeLine(this.buf, this.pos, e);
    if (!tooLong) { this.pos = p; return; }
    tooLong = false;
    const line = Buffer.from(slowLine(e));
    if (this.buf.length - this.pos < line.length) this.grow(line.length);
    this.pos += line.copy(this.buf, this.pos);
  }

  /** The lines gathered: a view, valid until the next write or reset. */
  bytes(): Buffer { return this.buf.subarray(0, this.pos); }

  reset(): void { this.pos = 0; }

  /** The lines gathered, now the caller's; writing goes on in a fresh buffer. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.capacity + LINE_MAX);
    this.pos = 0;
    return out;
  }

  private grow(need: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + need + LINE_MAX));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

const scratch = new JsonLinesBuffer(0);

/** One event as its JSON line (without the newline). */
export function toJsonLine(e: ResetEvent): string {
  scratch.reset();
  scratch.write(e);
  const bytes = scratch.bytes();
  return bytes.toString('utf8', 0, bytes.length - 1);
}
