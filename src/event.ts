/**
 * The JSON event contract of DESIGN.md as one table: every field present, in
 * this order, `null` where a fact is unknown. The `ResetEvent` type, the field
 * order, the kind/family/attribution sets, the JSON-lines and CSV encoders,
 * `export --help` and the README's JSON table are all derived from
 * `EVENT_SCHEMA`, so a new field is one row here plus its producer
 * (`Pipeline.toEvent`, which the compiler then holds to the new type).
 */

export interface FieldSpec {
  readonly name: string;
  /** `string[]`: a JSON array of strings (CSV: the items joined by `;`) */
  readonly type: 'string' | 'integer' | 'string[]';
  readonly nullable: boolean;
  /** the only values a string field takes, in the order reports list them */
  readonly values?: readonly string[];
  /**
   * a string that differs on nearly every event (time, cookie): the JSON
   * encoder checks it is plain instead of caching its escaped form
   */
  readonly unique?: boolean;
  /** one line for the README table and `export --help` */
  readonly meaning: string;
}

export const EVENT_SCHEMA = [
  { name: 'time', type: 'string', nullable: false, unique: true, meaning: 'wall-clock time, ISO-8601 UTC with nanoseconds' },
  { name: 'kind', type: 'string', nullable: false, values: ['sent', 'received', 'abort', 'ignored'],
    meaning: '`sent`: this host put a RST on the wire (its TCP stack or a firewall rule); `received`: a RST arrived and was accepted; `abort`: the connection died with no RST on the wire; `ignored`: a RST arrived and the kernel refused it (the connection lives on)' },
  { name: 'code', type: 'integer', nullable: false, meaning: 'reset diagnostic code (`rstrace codes`): 0-17 from the classic report, 18 and up for Linux-only additions' },
  { name: 'codeKey', type: 'string', nullable: false, meaning: 'the code\'s stable key (`closed-with-data`)' },
  { name: 'reason', type: 'string', nullable: true,
    meaning: 'kernel `sk_rst_reason` without the `SK_RST_REASON_` prefix; for `ignored` RSTs the `skb_drop_reason` without `SKB_DROP_REASON_` (`TCP_INVALID_SEQUENCE`); null for received resets, aborts and firewall RSTs, and on kernels before 6.10' },
  { name: 'family', type: 'string', nullable: false, values: ['ipv4', 'ipv6'], meaning: 'address family' },
  { name: 'laddr', type: 'string', nullable: false, meaning: 'this host\'s address' },
  { name: 'lport', type: 'integer', nullable: false, meaning: 'this host\'s port' },
  { name: 'raddr', type: 'string', nullable: false, meaning: 'the peer\'s address' },
  { name: 'rport', type: 'integer', nullable: false, meaning: 'the peer\'s port' },
  { name: 'state', type: 'string', nullable: true, meaning: 'TCP state when the reset was decided (`ESTABLISHED`, no `TCP_` prefix); null without a socket' },
  { name: 'pid', type: 'integer', nullable: true, meaning: 'process id of the connection\'s owner' },
  { name: 'tid', type: 'integer', nullable: true, meaning: 'the owner\'s thread that acted' },
  { name: 'comm', type: 'string', nullable: true, meaning: 'the owner\'s command name' },
  { name: 'attribution', type: 'string', nullable: false, values: ['context', 'owner', 'proc', 'none'], meaning: 'how pid and comm were found: `context` (the task the hook ran in), `owner` (remembered by the kernel), `proc` (/proc scan), `none`' },
  { name: 'cgroupId', type: 'integer', nullable: true, meaning: 'cgroup v2 id of the owner' },
  { name: 'netns', type: 'integer', nullable: true, meaning: 'network namespace inode' },
  { name: 'unread', type: 'integer', nullable: true, meaning: 'bytes queued for the application to read (SYN and FIN not counted)' },
  { name: 'unsent', type: 'integer', nullable: true, meaning: 'bytes written by the application but not yet acknowledged (SYN and FIN not counted)' },
  { name: 'cookie', type: 'string', nullable: true, unique: true, meaning: 'socket cookie (decimal), stable for the socket\'s life' },
  // additions after the contract's first fields: appended, never reordered
  { name: 'actorPid', type: 'integer', nullable: true, meaning: 'for codes 8 and 13: the process that killed someone else\'s connection' },
  { name: 'actorComm', type: 'string', nullable: true, meaning: 'that process\'s command name' },
  { name: 'probes', type: 'integer', nullable: true, meaning: 'for code 17: keepalive probes sent unanswered' },
  { name: 'explanation', type: 'string', nullable: false, meaning: 'the WHY phrase (`closed with 100 unread bytes`)' },
  { name: 'cgroup', type: 'string', nullable: true, meaning: 'the owner\'s cgroup v2 path below the cgroup2 root (`/system.slice/nginx.service`)' },
  { name: 'container', type: 'string', nullable: true, meaning: 'the container id when the cgroup path names one (docker, containerd/CRI, CRI-O, podman)' },
  { name: 'signals', type: 'string[]', nullable: true, meaning: 'what makes a reset look stale, spoofed or injected: `out-of-window` (an `ignored` RST outside the receive window), `reset-seq-change` (on a `received` or `ignored` RST: another RST for the connection had another sequence number within 2 s), `data-after-reset` (on the `sent` code 1 RST answering the peer\'s data on a tuple whose connection a RST ended within 2 s: the peer never sent that RST); null when nothing does' },
] as const satisfies readonly FieldSpec[];

type Field = (typeof EVENT_SCHEMA)[number];

type ValueOf<F extends Field> =
  | (F extends { readonly values: readonly (infer V)[] } ? V
    : F['type'] extends 'integer' ? number : F['type'] extends 'string[]' ? readonly string[] : string)
  | (F['nullable'] extends true ? null : never);

/** One event, as the table says: a field per row, typed by its type, values and nullability. */
export type ResetEvent = { [F in Field as F['name']]: ValueOf<F> };

export type FieldName = keyof ResetEvent;

type ValuesOf<N extends FieldName> = Extract<Field, { name: N }> extends { readonly values: readonly (infer V)[] } ? V : never;

export type Kind = ValuesOf<'kind'>;
export type Family = ValuesOf<'family'>;
export type Attribution = ValuesOf<'attribution'>;

/** Field order of the JSON contract; sinks and tests rely on it. */
export const EVENT_FIELDS: readonly FieldName[] = EVENT_SCHEMA.map((f) => f.name);

function valuesOf<N extends 'kind' | 'family' | 'attribution'>(name: N): readonly ValuesOf<N>[] {
  const field = EVENT_SCHEMA.find((f) => f.name === name) as FieldSpec;
  return field.values as readonly ValuesOf<N>[];
}

export const KINDS: readonly Kind[] = valuesOf('kind');
export const FAMILIES: readonly Family[] = valuesOf('family');
export const ATTRIBUTIONS: readonly Attribution[] = valuesOf('attribution');

/** The type column: `"sent"` | `"received"`, `integer` | `null`, ... (markdown when `md`). */
export function fieldTypeText(f: FieldSpec, md = false): string {
  const q = (v: string): string => (md ? `\`${v}\`` : v);
  const alternatives = f.values ? f.values.map(q) : [f.type];
  if (f.nullable) alternatives.push('null');
  return alternatives.join(md ? ' \\| ' : ' | ');
}

/** The README's JSON event table, generated; test/unit/schema.test.ts keeps the README equal to it. */
export function schemaMarkdown(): string {
  const rows = EVENT_SCHEMA.map((f: FieldSpec) => `| \`${f.name}\` | ${fieldTypeText(f, true)} | ${f.meaning} |`);
  return ['| field | type | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The field list for `--help`: name and type, one line each (the meanings are in the README's table). */
export function schemaHelp(indent = '  '): string {
  const specs: readonly FieldSpec[] = EVENT_SCHEMA;
  const width = Math.max(...specs.map((f) => f.name.length)) + 2;
  return specs.map((f) => `${indent}${f.name.padEnd(width)}${fieldTypeText(f)}`).join('\n');
}

/** Counters of one trace, as the kernel and the pipeline saw them. */
export interface TraceCounters {
  /** records that reached user space */
  delivered: number;
  /** records the kernel could not write (ring buffer full) */
  lost: number;
  /** records dropped by a filter, in the kernel or in user space */
  filtered: number;
}
