import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { describeFailure, RstraceError, valueError } from '../../src/errors.js';

/** What the CLI prints for `args`, with commander's real messages (not copies of them). */
function failure(args: string[]): ReturnType<typeof describeFailure> {
  const cmd = new Command('report').exitOverride().configureOutput({ outputError: () => {}, writeOut: () => {} })
    .allowExcessArguments(false)
    .argument('<file>')
    .option('--json')
    .option('-p, --port <ports>', 'ports', (v: string) => {
      if (!/^\d+$/.test(v)) throw valueError(`--port: '${v}' is not valid: give a port number`);
      return Number(v);
    })
    .action(() => {});
  try {
    cmd.parse(args, { from: 'user' });
  } catch (err) {
    return describeFailure(err, 'report');
  }
  throw new Error('expected a failure');
}

describe('one error path: every usage error is one line, exit 2', () => {
  it('a bad value: our parser\'s text, even when the value looks like commander\'s', () => {
    expect(failure(['f', '--port', 'abc'])).toEqual({ line: "rstrace: --port: 'abc' is not valid: give a port number", exitCode: 2 });
    const tricky = "x' is invalid. --port: fake";
    expect(failure(['f', '-p', tricky]).line).toBe(`rstrace: --port: '${tricky}' is not valid: give a port number`);
    expect(failure(['f', '-p', 'a\nb']).line).toBe("rstrace: --port: 'a b' is not valid: give a port number");
  });

  it('unknown option (with and without a suggestion), missing value, missing argument, extra argument', () => {
    expect(failure(['f', '--bogus']).line).toBe("rstrace: unknown option '--bogus': see 'rstrace report --help' for the options");
    expect(failure(['f', '--jsn']).line).toBe("rstrace: unknown option '--jsn': did you mean --json? (see 'rstrace report --help')");
    expect(failure(['f', '--port']).line).toBe("rstrace: --port: no value given: give --port <ports> (see 'rstrace report --help')");
    expect(failure([]).line).toBe("rstrace: missing required argument 'file': see 'rstrace report --help'");
    expect(failure(['f', 'g'])).toEqual({ line: "rstrace: too many arguments (expected 1, got 2): see 'rstrace report --help'", exitCode: 2 });
  });

  it('help is not a failure; RstraceErrors keep their exit code; anything else is a bug, one line, exit 1', () => {
    expect(failure(['--help'])).toEqual({ line: null, exitCode: 0 });
    expect(describeFailure(new RstraceError('cannot attach', 'run as root', 1))).toEqual({ line: 'rstrace: cannot attach: run as root', exitCode: 1 });
    expect(describeFailure(new TypeError('x is\nundefined'))).toEqual({ line: 'rstrace: internal error: x is undefined: this is a bug in rstrace; please report it', exitCode: 1 });
  });
});
