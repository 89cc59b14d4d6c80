/**
 * Debian's headless Chromium, run on a local file with no network: its own
 * profile in a temp dir, every host name unresolvable, background services
 * off. Virtual time lets the page's script and its drawing finish before the
 * DOM is dumped or the screenshot taken.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM);
}

function runChromium(page: string, extra: string[]): string {
  const profile = mkdtempSync(join(tmpdir(), 'rsth5-chromium-'));
  try {
    const r = spawnSync(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', '--disable-sync',
      '--disable-background-networking', '--disable-component-update', '--disable-default-apps',
      '--host-resolver-rules=MAP * ~NOTFOUND', `--user-data-dir=${profile}`, '--virtual-time-budget=10000',
      '--window-size=1280,2400', '--hide-scrollbars', ...extra, pathToFileURL(page).href,
    ], { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`chromium exited ${r.status} (${r.signal ?? 'no signal'}): ${r.stderr.slice(-2000)}`);
    return r.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The page's DOM after its scripts ran, serialized. */
export function dumpDom(page: string): string {
  return runChromium(page, ['--dump-dom']);
}

/** A PNG of the page at 1280 px wide. */
export function screenshot(page: string, png: string): void {
  runChromium(page, [`--screenshot=${png}`]);
  if (!existsSync(png)) throw new Error(`chromium wrote no screenshot to ${png}`);
}
