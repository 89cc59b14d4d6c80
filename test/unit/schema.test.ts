import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ATTRIBUTIONS, EVENT_FIELDS, EVENT_SCHEMA, FAMILIES, KINDS, schemaHelp, schemaMarkdown, type FieldSpec } from '../../src/event.js';
import { csvHeader, csvLineEncoder } from '../../src/export.js';
import { toJsonLine } from '../../src/sinks/jsonl.js';
import { sampleEvent } from '../helpers/sample-events.js';

const README = new URL('../../README.md', import.meta.url);
const BEGIN = '<!-- event-schema:begin (generated from src/event.ts by test/unit/schema.test.ts) -->';
const END = '<!-- event-schema:end -->';

describe('the JSON event schema is one table', () => {
  it("README's JSON event table is the one generated from EVENT_SCHEMA (RSTRACE_UPDATE_README=1 rewrites it)", () => {
    const text = readFileSync(README, 'utf8');
    const from = text.indexOf(BEGIN);
    const to = text.indexOf(END);
    expect(from, 'README lacks the event-schema markers').toBeGreaterThan(0);
    expect(to).toBeGreaterThan(from);
    const want = `${BEGIN}\n${schemaMarkdown()}\n${END}`;
    if (process.env.RSTRACE_UPDATE_README === '1') {
      writeFileSync(README, text.slice(0, from) + want + text.slice(to + END.length));
      return;
    }
    expect(text.slice(from, to + END.length)).toBe(want);
  });

  it('every row is complete: a unique identifier name, a type, a one-line meaning; values only on strings', () => {
    const specs: readonly FieldSpec[] = EVENT_SCHEMA;
    expect(new Set(specs.map((f) => f.name)).size).toBe(specs.length);
    for (const f of specs) {
      expect(f.name).toMatch(/^[a-z][A-Za-z]*$/);
      expect(['string', 'integer', 'string[]']).toContain(f.type);
      expect(f.meaning.length).toBeGreaterThan(5);
      expect(f.meaning).not.toMatch(/[\n|]/);
      if (f.values) expect(f.type).toBe('string');
    }
  });

  it('field order, sets and every encoder follow the table', () => {
    expect(EVENT_FIELDS).toEqual(EVENT_SCHEMA.map((f) => f.name));
    expect(EVENT_FIELDS.slice(0, 4)).toEqual(['time', 'kind', 'code', 'codeKey']);
    expect(KINDS).toEqual(['sent', 'received', 'abort', 'ignored']);
    expect(FAMILIES).toEqual(['ipv4', 'ipv6']);
    expect(ATTRIBUTIONS).toEqual(['context', 'owner', 'proc', 'none']);
    const e = sampleEvent();
    expect(Object.keys(e)).toEqual([...EVENT_FIELDS]);
    expect(Object.keys(JSON.parse(toJsonLine(e)))).toEqual([...EVENT_FIELDS]);
    expect(csvHeader().split(',')).toEqual([...EVENT_FIELDS]);
    expect(csvLineEncoder()(e).split(',')).toHaveLength(EVENT_FIELDS.length);
    const help = schemaHelp().split('\n');
    expect(help.map((l) => l.trim().split(/\s+/)[0])).toEqual([...EVENT_FIELDS]);
    expect(help[1]).toMatch(/^ {2}kind +sent \| received \| abort \| ignored$/);
    expect(help.find((l) => l.includes('cookie'))).toMatch(/string \| null$/);
  });

  it('the values of an event match the types of the table', () => {
    const e = sampleEvent({ reason: null, pid: null });
    const o = e as unknown as Record<string, unknown>;
    for (const f of EVENT_SCHEMA as readonly FieldSpec[]) {
      const v = o[f.name];
      if (v === null) { expect(f.nullable, f.name).toBe(true); continue; }
      if (f.type === 'string[]') { expect(Array.isArray(v), f.name).toBe(true); continue; }
      expect(typeof v, f.name).toBe(f.type === 'integer' ? 'number' : 'string');
      if (f.values) expect(f.values, f.name).toContain(v);
    }
  });

  it('a list field (signals) is a JSON array in JSON lines and `;`-joined in CSV; null stays null/empty', () => {
    const signals = ['out-of-window', 'reset-seq-change'];
    const e = sampleEvent({ kind: 'ignored', signals });
    expect(JSON.parse(toJsonLine(e)).signals).toEqual(signals);
    const cells = csvLineEncoder()(e).split(',');
    expect(cells[EVENT_FIELDS.indexOf('signals')]).toBe('out-of-window;reset-seq-change');
    expect(JSON.parse(toJsonLine(sampleEvent({ signals: null }))).signals).toBeNull();
    expect(csvLineEncoder()(sampleEvent({ signals: null })).split(',')[EVENT_FIELDS.indexOf('signals')]).toBe('');
  });
});
