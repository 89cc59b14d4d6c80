import { describe, expect, it } from 'vitest';
import { inlineSafe } from '../../src/report/html/assets.js';
import { jsonForScript } from '../../src/report/html/embed.js';
import { renderHtml } from '../../src/report/html/page.js';
import { summarize } from '../../src/report/summarize.js';
import { sampleEvent } from '../helpers/sample-events.js';

const meta = { lost: 0, filtered: 0, truncated: false, files: ['a.rstrace'] };

describe('the report JSON inside the page', () => {
  it('no character that could end the element, start markup or reorder text; JSON.parse gives the value back', () => {
    const value = { comm: '</script><!--<script>&\u2028\u2029\u202e\u2066x' };
    const text = jsonForScript(value);
    expect(text).not.toMatch(/[<>&\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect(text).toBe('{"comm":"\\u003c/script\\u003e\\u003c!--\\u003cscript\\u003e\\u0026\\u2028\\u2029\\u202e\\u2066x"}');
    expect(JSON.parse(text)).toEqual(value);
  });
  it('an inlined library holding its own end tag is refused, not inlined', () => {
    expect(() => inlineSafe('a</SCRIPT>b', 'script')).toThrow(/cannot be inlined/);
    expect(inlineSafe('a<\\/script>b', 'script')).toBe('a<\\/script>b');
  });
});

describe('renderHtml', () => {
  const report = summarize([sampleEvent({ comm: '</script><img src=x>' }), sampleEvent({ raddr: '</style>' })], meta);
  const html = renderHtml(report);
  it('three scripts and two styles, whatever the trace holds', () => {
    expect(html.match(/<\/script>/g)?.length).toBe(3);
    expect(html.match(/<\/style>/g)?.length).toBe(2);
    expect(html).not.toContain('<img');
  });
  it('embeds the report once, equal to the --json object', () => {
    const m = html.match(/<script type="application\/json" id="rstrace-report">([^<]*)<\/script>/);
    expect(JSON.parse(m![1])).toEqual(JSON.parse(JSON.stringify(report)));
  });
  it('no outside address, and a policy that forbids fetching', () => {
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain("content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:;");
    expect(html).toContain('uPlot v1.6.32, MIT License');
  });
});
