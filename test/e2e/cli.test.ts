/**
 * The command line's error contract (DESIGN.md): every usage or input error
 * is ONE line "rstrace: <what>: <remedy>" on stderr with exit 2, before
 * anything is attached or written; help still teaches.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RSTRACE } from '../helpers/tracer.js';

const dir = mkdtempSync(join(tmpdir(), 'rstrace-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(RSTRACE, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One line, in the house form, naming `what`, exit 2, nothing on stdout. */
function expectUsageError(args: string[], what: RegExp): string {
  const r = run(args);
  expect(r.status, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^rstrace: \S.*: \S.*$/);
  expect(lines[0]).toMatch(what);
  expect(lines[0]).not.toMatch(/^error:|ENOENT|at .*\.js:\d+/);
  return lines[0];
}

describe('usage and input errors: one line, exit 2', () => {
  it('a bad --duration names the option and says what to give', () => {
    expect(expectUsageError(['trace', '--duration', '-1'], /^rstrace: --duration: '-1' is not valid: give a number of seconds/)).toBeTruthy();
    expectUsageError(['metrics', '-d', 'soon'], /^rstrace: --duration: 'soon' is not valid/);
  });

  it('a bad --port, in trace and in report alike', () => {
    expectUsageError(['trace', '--port', 'abc'], /^rstrace: --port: 'abc' is not valid: give a port number 0-65535/);
    expectUsageError(['report', join(dir, 'none.rstrace'), '--port', '70000'], /^rstrace: --port: '70000' is not valid/);
  });

  it('an unknown option points to the command\'s help, with commander\'s suggestion when there is one', () => {
    expectUsageError(['trace', '--bogus'], /^rstrace: unknown option '--bogus': see 'rstrace trace --help' for the options$/);
    expectUsageError(['report', 'x', '--jsn'], /^rstrace: unknown option '--jsn': did you mean --json\? \(see 'rstrace report --help'\)$/);
  });

  it('an unknown command, and extra arguments, are usage errors', () => {
    expectUsageError(['bogus'], /^rstrace: unknown command 'bogus': see 'rstrace --help' for the commands$/);
    expectUsageError(['codes', 'extra'], /^rstrace: too many arguments for 'codes' \(expected 0, got 1\): see 'rstrace codes --help'$/);
  });

  it('export -o into a missing directory is refused before anything is written', () => {
    const out = join(dir, 'missing', 'x.jsonl');
    expectUsageError(['export', join(dir, 'none.rstrace'), '-o', out], /^rstrace: --output: directory .*missing does not exist: /);
    expectUsageError(['trace', '-o', out], /^rstrace: --output: directory .*missing does not exist: /);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });

  it('report and export of a missing file', () => {
    const missing = join(dir, 'no-such.rstrace');
    expectUsageError(['report', missing], /^rstrace: .*no-such\.rstrace: no such file: /);
    expectUsageError(['export', missing], /^rstrace: .*no-such\.rstrace: no such file: /);
  });

  it('a missing value or argument, a bad format', () => {
    expectUsageError(['trace', '-o'], /^rstrace: --output: no value given: give --output <file>/);
    expectUsageError(['report'], /^rstrace: missing required argument 'file': see 'rstrace report --help'$/);
    expectUsageError(['export', 'x', '--format', 'xml'], /^rstrace: --format: unknown format 'xml': give one of jsonl, csv, parquet$/);
  });
});

describe('help still teaches', () => {
  it('each command\'s --help has examples and exits 0; export lists the JSON fields', () => {
    for (const cmd of ['trace', 'report', 'export', 'metrics']) {
      const r = run([cmd, '--help']);
      expect(r.status).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('Examples:');
    }
    const exp = run(['export', '--help']).stdout;
    expect(exp).toMatch(/^ {2}time +string$/m);
    expect(exp).toMatch(/^ {2}explanation +string$/m);
  });
});
