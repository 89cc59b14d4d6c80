/**
 * `report --html`: one self-contained page. The report JSON is embedded once
 * and the page's script draws everything from it; the chart library and the
 * styles are inlined, and a Content-Security-Policy forbids every fetch, so
 * the file opens offline and cannot call out even if a string in it tried.
 */
import type { Report } from '../summarize.js';
import { chartAssets, inlineSafe } from './assets.js';
import { clientScript } from './client.js';
import { jsonForScript } from './embed.js';

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const PAGE_CSS = `
:root { --fg: #1d2433; --muted: #5b6475; --line: #e3e6ec; --card: #fff; --bg: #f4f6f9; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 28px; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
h1 { margin: 0; font-size: 22px; }
h2 { margin: 0 0 8px; font-size: 15px; }
.sub { color: var(--muted); margin: 4px 0 8px; }
.note { background: #fff4d6; border: 1px solid #f0d48a; padding: 6px 10px; border-radius: 6px; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 14px 0; }
.figure { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.figure .value { display: block; font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.figure .label { color: var(--muted); font-size: 12px; }
.figures.small .figure .value { font-size: 17px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; overflow-x: auto; }
.card.wide { grid-column: 1 / -1; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th { text-align: left; color: var(--muted); font-weight: 500; border-bottom: 1px solid var(--line); padding: 3px 8px; }
td { padding: 3px 8px; border-bottom: 1px solid #f0f2f5; vertical-align: top; }
td.text { unicode-bidi: isolate; overflow-wrap: anywhere; }
td.num, td.count { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.count { position: relative; min-width: 110px; }
td.count .bar { position: absolute; left: 0; top: 4px; bottom: 4px; opacity: .28; border-radius: 2px; }
.none { color: var(--muted); font-style: italic; }
.chart { width: 100%; }
`;

export function renderHtml(report: Report): string {
  const assets = chartAssets();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rstrace report --html">
<title>rstrace report</title>
<style>${assets.css}</style>
<style>${inlineSafe(PAGE_CSS, 'style')}</style>
</head>
<body>
<noscript>This page draws the report with JavaScript; the numbers are also in the JSON element below.</noscript>
<main id="app"></main>
<script type="application/json" id="rstrace-report">${jsonForScript(report)}</script>
<script>${assets.script}</script>
<script>${inlineSafe(clientScript(), 'script')}</script>
</body>
</html>
`;
}
