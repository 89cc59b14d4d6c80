/**
 * The chart library, inlined into the page so that it opens with no
 * network: uPlot from its npm package. Chosen for size and fit: 51 KB
 * minified with no dependencies (Chart.js is about four times that and needs
 * a date adapter for a time axis), drawn on a canvas, built for time series
 * with a real time axis (UTC here), and MIT-licensed.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface ChartAssets {
  script: string;
  css: string;
}

let cached: ChartAssets | null = null;

export function chartAssets(): ChartAssets {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const read = (file: string): string => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
  const version = (JSON.parse(readFileSync(require.resolve('uplot/package.json'), 'utf8')) as { version: string }).version;
  // the banner names the project's web address; the page names no address at all, so it says the licence instead
  const script = read('uPlot.iife.min.js').replace(/^\/\*![^*]*\*\/\s*/,
    `/*! uPlot v${version}, MIT License, Copyright (c) 2022 Leon Sorokin; inlined from the npm package uplot */\n`);
  const css = read('uPlot.min.css');
  cached = { script: inlineSafe(script, 'script'), css: inlineSafe(css, 'style') };
  return cached;
}

/** Text for a raw-text element (<script>, <style>): it must not contain that element's end tag. */
export function inlineSafe(text: string, tag: 'script' | 'style'): string {
  if (new RegExp(`</${tag}`, 'i').test(text)) throw new Error(`an inlined ${tag} contains </${tag}: it cannot be inlined as it is`);
  return text;
}
