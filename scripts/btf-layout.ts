/**
 * The record layout as the BPF compiler laid it out, read from the BTF of the
 * BPF object (`bpftool btf dump file OBJ format raw`), and the TypeScript
 * module generated from it (src/kernel/layout.generated.ts). Used by
 * scripts/build-bpf.ts to write the module and by test/unit/decode.test.ts to
 * check that the module in the tree is what the build generates.
 *
 * The raw text format is parsed rather than `-j`: bpftool's JSON prints an
 * unsigned 32-bit enum value such as 0xffffffff as a 64-bit -1, which
 * JSON.parse cannot even hold exactly.
 */
import { spawnSync } from 'node:child_process';

export interface BtfMember { name: string; offset: number; size: number }
export interface BtfLayout {
  size: number;
  members: BtfMember[];
  /** C enum name -> member name -> value */
  enums: Record<string, Record<string, number>>;
}

/** The struct and the enums of bpf/rstrace.h that the generated module carries. */
export const RECORD_STRUCT = 'rst_record';
export const ENUMS: Readonly<Record<string, { prefix: string; ts: string; doc: string }>> = {
  rst_const: { prefix: 'RST_', ts: 'CONST', doc: 'constants (enum rst_const)' },
  rst_kind: { prefix: 'RST_KIND_', ts: 'KIND', doc: 'what happened on the wire (enum rst_kind)' },
  rst_hook: { prefix: 'RST_HOOK_', ts: 'HOOK', doc: 'the hook that produced a record (enum rst_hook)' },
  rst_flag: { prefix: 'RST_F_', ts: 'FLAG', doc: 'record flags (enum rst_flag)' },
  rst_counter: { prefix: 'RST_CNT_', ts: 'COUNTER', doc: 'per-CPU counter indices (enum rst_counter)' },
};

interface RawType { kind: string; name: string; attrs: Record<string, string>; lines: string[] }

export function dumpBtf(obj: string): string {
  const r = spawnSync('bpftool', ['btf', 'dump', 'file', obj, 'format', 'raw'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`bpftool: ${r.error.message} (apt-get install bpftool)`);
  if (r.status !== 0) throw new Error(`bpftool btf dump file ${obj} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

function parseTypes(text: string): Map<number, RawType> {
  const types = new Map<number, RawType>();
  let cur: RawType | undefined;
  for (const line of text.split('\n')) {
    const head = line.match(/^\[(\d+)\] (\w+) '([^']*)'(.*)$/);
    if (head) {
      const attrs: Record<string, string> = {};
      for (const m of head[4].matchAll(/(\w+)=(\S+)/g)) attrs[m[1]] = m[2];
      cur = { kind: head[2], name: head[3], attrs, lines: [] };
      types.set(Number(head[1]), cur);
    } else if (cur && line.startsWith('\t')) {
      cur.lines.push(line.trim());
    }
  }
  return types;
}

function sizeOf(types: Map<number, RawType>, id: number): number {
  for (let hops = 0; hops < 32; hops++) {
    const t = types.get(id);
    if (!t) throw new Error(`BTF type ${id} not found`);
    if (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE') { id = Number(t.attrs.type_id); continue; }
    if (t.kind === 'ARRAY') return Number(t.attrs.nr_elems) * sizeOf(types, Number(t.attrs.type_id));
    if (t.attrs.size !== undefined) return Number(t.attrs.size);
    throw new Error(`BTF type ${id} (${t.kind}) has no size`);
  }
  throw new Error(`BTF type ${id}: typedef chain too long`);
}

export function parseLayout(text: string): BtfLayout {
  const types = parseTypes(text);
  const all = [...types.entries()];
  const found = all.filter(([, t]) => t.kind === 'STRUCT' && t.name === RECORD_STRUCT);
  if (found.length !== 1) throw new Error(`struct ${RECORD_STRUCT} appears ${found.length} times in the BTF (expected once: see rst_btf_anchor)`);
  const [, rec] = found[0];
  const members = rec.lines.map((l) => {
    const m = l.match(/^'(\w+)' type_id=(\d+) bits_offset=(\d+)/);
    if (!m) throw new Error(`unexpected BTF member line: ${l}`);
    if (Number(m[3]) % 8) throw new Error(`${RECORD_STRUCT}.${m[1]} is a bit field`);
    return { name: m[1], offset: Number(m[3]) / 8, size: sizeOf(types, Number(m[2])) };
  });
  const enums: Record<string, Record<string, number>> = {};
  for (const name of Object.keys(ENUMS)) {
    const e = all.filter(([, t]) => (t.kind === 'ENUM' || t.kind === 'ENUM64') && t.name === name);
    if (e.length !== 1) throw new Error(`enum ${name} appears ${e.length} times in the BTF (expected once: see rst_btf_anchor)`);
    const [, t] = e[0];
    const bits = 8 * Number(t.attrs.size);
    enums[name] = {};
    for (const l of t.lines) {
      const m = l.match(/^'(\w+)' val=(-?\d+)/);
      if (!m) throw new Error(`unexpected BTF enum line: ${l}`);
      // values are printed signed or unsigned depending on the encoding: normalise to unsigned
      const v = BigInt.asUintN(bits, BigInt(m[2]));
      enums[name][m[1]] = Number(v);
    }
  }
  return { size: Number(rec.attrs.size), members, enums };
}

/** The TypeScript module: deterministic, so that a rebuild changes nothing when the header did not. */
export function renderLayout(l: BtfLayout): string {
  const out: string[] = [
    '// GENERATED by scripts/build-bpf.ts from the BTF of build/rstrace.bpf.o, that is from',
    '// bpf/rstrace.h as the BPF compiler laid it out. Do not edit: change the header and run',
    "// 'make build'. test/unit/decode.test.ts checks that this file is what the build generates.",
    '',
    `/** sizeof(struct ${RECORD_STRUCT}) */`,
    `export const RECORD_SIZE = ${l.size};`,
    '',
    `/** struct ${RECORD_STRUCT}: byte offset and width of every member */`,
    'export const RECORD_FIELDS = {',
    ...l.members.map((m) => `  ${m.name}: { offset: ${m.offset}, size: ${m.size} },`),
    '} as const;',
  ];
  for (const [cname, spec] of Object.entries(ENUMS)) {
    out.push('', `/** ${spec.doc}, without the ${spec.prefix} prefix */`, `export const ${spec.ts} = {`);
    for (const [member, value] of Object.entries(l.enums[cname])) {
      if (!member.startsWith(spec.prefix)) throw new Error(`enum ${cname} member ${member} lacks the prefix ${spec.prefix}`);
      out.push(`  ${member.slice(spec.prefix.length)}: ${value},`);
    }
    out.push('} as const;');
  }
  return out.join('\n') + '\n';
}

export function generateLayout(obj: string): string {
  return renderLayout(parseLayout(dumpBtf(obj)));
}
