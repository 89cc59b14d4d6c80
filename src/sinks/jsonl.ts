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
 *
 * On top of that, each buffer keeps per event kind the previous line as a
 * template (LineTemplate): a storm's events of one kind differ in a few
 * fields (time, a port, a thread, a cookie), so the next line is the
 * template copied at once with only the changed values rewritten in place.
 * A changed value of another byte length (or one the fast path cannot write)
 * makes the line be written in full instead, which renews the template.
 */
import { EVENT_FIELDS, EVENT_SCHEMA, KINDS, type FieldSpec, type ResetEvent } from '../event.js';

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

/** '000'-'999' as ASCII, 3 bytes each */
const DIGITS3 = new Uint8Array(3000);
for (let v = 0; v < 1000; v++) for (let i = 0; i < 3; i++) DIGITS3[v * 3 + i] = `${v}`.padStart(3, '0').charCodeAt(i);
/** 9999-12-31T23:59:59.999Z */
const MAX_ISO_MS = 253402300799999;

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

type WriteLine = (b: Uint8Array, p: number, e: ResetEvent, t: LineTemplate) => number;
/** Rewrites `t`'s changed values in place; -1: a value's length changed, `t` is spoilt: write the line in full instead. */
type PatchLine = (e: ResetEvent, t: LineTemplate) => number;

/**
 * The last line written for one event kind, and where each value sits in it:
 * what the next line of that kind is patched from.
 */
class LineTemplate {
  /** the values the line holds, by schema index */
  readonly vals: unknown[] = new Array<unknown>(EVENT_SCHEMA.length).fill(undefined);
  /** start of each value's bytes in the line, and their length */
  readonly offs = new Int32Array(EVENT_SCHEMA.length);
  readonly lens = new Int32Array(EVENT_SCHEMA.length);
  /** the millisecond the template's time (schema field 0) is known to be of, when it was written from numbers; NaN: not known */
  timeMs = NaN;
  /**
   * The line's bytes, patched in place (room for any line of the fast
   * path, so a value that grows is written in bounds before it is found
   * too long); `line` is a view of the line itself (empty: no template yet).
   */
  bytes = new Uint8Array(0);
  line = new Uint8Array(0);

  /** Keep b[from, to) (a line just written in full, with its offsets and values recorded) as the template. */
  keep(b: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (this.bytes.length < LINE_MAX) this.bytes = new Uint8Array(LINE_MAX);
    this.bytes.set(b.subarray(from, to));
    this.line = this.bytes.subarray(0, n);
    this.timeMs = NaN;
  }

  drop(): void { this.line = this.bytes.subarray(0, 0); }
}

/**
 * The full line writer, and the patcher of a copied template, both compiled
 * from EVENT_SCHEMA. Unique fields (time, cookie) and lists are rewritten on
 * every patch (a list may be the same array changed in place); the others
 * only when their value is not the template's (`!==`).
 */
function compile(): { writeLine: WriteLine; patchLine: PatchLine; patchAfterTime: PatchLine } {
  const specs: readonly FieldSpec[] = EVENT_SCHEMA;
  // Each repeated-string field remembers its last value and bytes: in a storm
  // consecutive events share most of them, and `===` on the same string is
  // cheaper than a Map lookup.
  const memo: string[] = [];
  const full = specs.map((f, i) => {
    const key = storeBytes(`${i === 0 ? '{' : ','}${JSON.stringify(f.name)}:`);
    let value: string;
    if (f.type === 'integer') value = `p = int(b, p, v);`;
    else if (f.type === 'string[]') value = `p = list(b, p, v);`;
    else if (f.unique) value = `p = uniq(b, p, v);`;
    else {
      memo.push(`let v${i} = null, x${i} = bytesOf(null);`);
      value = `if (v !== v${i}) { v${i} = v; x${i} = bytesOf(v); } p = put(b, p, x${i});`;
    }
    return `${key}\n    { const v = ${fieldAccess(f)}; vals[${i}] = v; offs[${i}] = p - p0; ${value} lens[${i}] = p - p0 - offs[${i}]; }`;
  });
  full.push(storeBytes('}\n'));
  const patch = specs.map((f, i) => {
    // a unique string or a list is rewritten unless it is null here and in the template (a list may be changed in place)
    const always = f.unique === true || f.type === 'string[]';
    const write = f.type === 'integer' ? 'int(b, a, v)' : f.type === 'string[]' ? 'list(b, a, v)' : f.unique ? 'uniq(b, a, v)' : 'put(b, a, bytesOf(v))';
    const changed = always ? `if (v !== null || vals[${i}] !== null) ` : `if (v !== vals[${i}]) `;
    return `{ const v = ${fieldAccess(f)}; ${changed}{ const a = offs[${i}]; const q = ${write}; ` +
      `if (q - a !== lens[${i}]) return -1; vals[${i}] = v; } }`;
  });
  const source = `${memo.join('\n  ')}
  function writeJsonLine(b, p, e, t) {
    const p0 = p, vals = t.vals, offs = t.offs, lens = t.lens;
    ${full.join('\n    ')}
    return p;
  }
  function patchJsonLine(e, t) {
    const vals = t.vals, offs = t.offs, lens = t.lens, b = t.bytes;
    ${patch.join('\n    ')}
    return 0;
  }
  function patchAfterTime(e, t) {
    const vals = t.vals, offs = t.offs, lens = t.lens, b = t.bytes;
    ${patch.slice(1).join('\n    ')}
    return 0;
  }
  return { writeLine: writeJsonLine, patchLine: patchJsonLine, patchAfterTime };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('int', 'uniq', 'list', 'put', 'bytesOf', source)(int, uniq, list, put, bytesOf) as
    { writeLine: WriteLine; patchLine: PatchLine; patchAfterTime: PatchLine };
}

const { writeLine, patchLine, patchAfterTime } = compile();
if (EVENT_SCHEMA[0].name !== 'time') throw new Error('the JSON encoder writes the time from numbers as the first field');
/** `"time":"` + 30 characters + `"`: a canonical time's value is 32 bytes */
const TIME_BYTES = 32;

/** The ISO text up to the ms digits ("2026-11-26T07:00:00.123") of one ms since the epoch, as bytes; the last one is kept. */
const msText = new Uint8Array(23);
let msTextOf = NaN;
function msPrefix(ms: number): Uint8Array {
  if (ms !== msTextOf) {
    const s = new Date(ms).toISOString(); // "YYYY-MM-DDTHH:MM:SS.mmmZ" for years 0-9999
    for (let i = 0; i < 23; i++) msText[i] = s.charCodeAt(i);
    msTextOf = ms;
  }
  return msText;
}
/** Kinds with a template of their own; any other kind's lines are written in full. */
const TEMPLATE_KINDS: readonly string[] = KINDS;

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
  private readonly templates = TEMPLATE_KINDS.map(() => new LineTemplate());
  /** offsets only, never a template: for a kind outside KINDS */
  private readonly other = new LineTemplate();

  /** `capacity`: bytes gathered before `full`; a line always fits behind it. */
  constructor(private readonly capacity = 1 << 20) {
    this.buf = Buffer.allocUnsafe(capacity + LINE_MAX);
  }

  get length(): number { return this.pos; }

  get full(): boolean { return this.pos >= this.capacity; }

  /** One event's line and its newline; `e` may be reused once this returns. */
  write(e: ResetEvent): void {
    if (this.buf.length - this.pos < LINE_MAX) this.grow(LINE_MAX); // `full` was not heeded
    const t = this.templateOf(e.kind);
    tooLong = false;
    if (t.line.length > 0) {
      t.timeMs = NaN; // the time is rewritten from e.time
      if (patchLine(e, t) === 0) { this.copyLine(t); return; }
      tooLong = false; // half patched: writeLine below renews the whole template
    }
    const p = writeLine(this.buf, this.pos, e, t);
    if (!tooLong) {
      if (t !== this.other) t.keep(this.buf, this.pos, p);
      this.pos = p;
      return;
    }
    tooLong = false;
    t.drop();
    const line = Buffer.from(slowLine(e));
    if (this.buf.length - this.pos < line.length) this.grow(line.length);
    this.pos += line.copy(this.buf, this.pos);
  }

  /**
   * `write`, for an event whose time the caller has as numbers (an
   * EventVisitor's `ms` and `subNs`, the same instant as `e.time`, which is
   * then not read): the time's digits are written from them.
   */
  writeAt(e: ResetEvent, ms: number, subNs: number): void {
    const t = this.templateOf(e.kind);
    // only a canonical time (4-digit year, 9 fractional digits) is written from numbers
    if (!(subNs >= 0 && subNs < 1e6 && (subNs | 0) === subNs && ms >= 0 && ms <= MAX_ISO_MS && t.line.length > 0 &&
      t.lens[0] === TIME_BYTES)) { this.write(e); return; }
    // the time in the template: `"` + 23 characters to the ms + 6 digits + `Z"`
    const b = t.bytes;
    let a = t.offs[0] + 1;
    if (ms !== t.timeMs) {
      b.set(msPrefix(ms), a);
      b[a + 29] = 90; // Z
      t.timeMs = ms;
    }
    a += 23;
    const hi = Math.floor(subNs / 1000) * 3;
    const lo = (subNs % 1000) * 3;
    const d = DIGITS3;
    b[a] = d[hi]; b[a + 1] = d[hi + 1]; b[a + 2] = d[hi + 2];
    b[a + 3] = d[lo]; b[a + 4] = d[lo + 1]; b[a + 5] = d[lo + 2];
    t.vals[0] = undefined; // the template's time is now known by number only
    tooLong = false;
    if (patchAfterTime(e, t) === 0) { this.copyLine(t); return; }
    t.drop(); // half patched: the line is written in full, and becomes the template
    this.write(e);
  }

  /** The patched template as the next line. */
  private copyLine(t: LineTemplate): void {
    if (this.buf.length - this.pos < LINE_MAX) this.grow(LINE_MAX); // `full` was not heeded
    this.buf.set(t.line, this.pos);
    this.pos += t.line.length;
  }

  private templateOf(kind: unknown): LineTemplate {
    for (let i = 0; i < TEMPLATE_KINDS.length; i++) if (kind === TEMPLATE_KINDS[i]) return this.templates[i];
    return this.other;
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
