/**
 * User-facing errors. Every failure a user can act on is an `RstraceError`:
 * what went wrong, what to do about it, and the exit code (DESIGN.md: 2 for
 * bad usage or bad input, 1 for a runtime failure). The CLI prints it as one
 * line, never as a stack trace.
 */
import { CommanderError, InvalidArgumentError } from 'commander';

export type ExitCode = 1 | 2;

export class RstraceError extends Error {
  constructor(
    message: string,
    /** what the user should do about it, phrased as an instruction */
    public readonly remedy: string,
    public readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'RstraceError';
  }

  /** "rstrace: <message>: <remedy>", newlines flattened so it stays one line. */
  oneLine(): string {
    const text = this.remedy ? `${this.message}: ${this.remedy}` : this.message;
    return `rstrace: ${text.replace(/[\r\n]+/g, ' ')}`;
  }
}

/** Bad usage or bad input (exit 2). */
export function usageError(message: string, remedy: string): RstraceError {
  return new RstraceError(message, remedy, 2);
}

/** A failure at run time (exit 1). */
export function runtimeError(message: string, remedy: string): RstraceError {
  return new RstraceError(message, remedy, 1);
}

let thrownValueError: string | null = null;

/**
 * For commander value parsers: the error for a bad value, `text` being
 * "--<option>: <what>: <remedy>", printed as is (after "rstrace: ").
 */
export function valueError(text: string): InvalidArgumentError {
  thrownValueError = text;
  return new InvalidArgumentError(text);
}

/** What ends the process: the one line for stderr (none for help and version) and the exit code. */
export interface Failure {
  line: string | null;
  exitCode: 0 | ExitCode;
}

/**
 * The one error path of the CLI: commander's usage errors (bad values from
 * the parsers in src/commands/options.ts, unknown options, missing
 * arguments), RstraceErrors thrown by a command, and bugs, each as one line
 * "rstrace: <what>: <remedy>". Usage is exit 2 (commander says 1), runtime
 * failures 1; help and version output keep their 0.
 * @param command the command's name for the help pointer ('' for rstrace itself)
 */
export function describeFailure(err: unknown, command = ''): Failure {
  if (err instanceof CommanderError) return commanderFailure(err, command);
  if (err instanceof RstraceError) return { line: err.oneLine(), exitCode: err.exitCode };
  const message = err instanceof Error ? err.message : String(err);
  return { line: `rstrace: internal error: ${flat(message)}: this is a bug in rstrace; please report it`, exitCode: 1 };
}

function commanderFailure(err: CommanderError, command: string): Failure {
  if (err.exitCode === 0) return { line: null, exitCode: 0 };
  const help = `see 'rstrace ${command ? command + ' ' : ''}--help'`;
  const [first, ...rest] = err.message.replace(/^error: /, '').split('\n');
  const suggestion = /^\(Did you mean (.*)\?\)$/.exec(rest.join(' ').trim())?.[1];
  let m: RegExpExecArray | null;
  switch (err.code) {
    case 'commander.invalidArgument':
      // commander re-words it as "option '<flags>' argument '<value>' is invalid. <our text>";
      // the value may hold any text, so our text is taken as thrown rather than parsed back out
      if (thrownValueError !== null && err.message.endsWith(thrownValueError)) return usage(thrownValueError);
      m = /is invalid(?: for argument '[^']*')?\. ([\s\S]*)$/.exec(err.message);
      if (m) return usage(m[1]);
      break;
    case 'commander.unknownOption':
    case 'commander.unknownCommand':
      return usage(suggestion ? `${first}: did you mean ${suggestion}? (${help})` : `${first}: ${help} for the ${err.code === 'commander.unknownOption' ? 'options' : 'commands'}`);
    case 'commander.optionMissingArgument':
      m = /^option '(?:-\w, )?(\S+) (<[^>]*>)' argument missing$/.exec(first);
      if (m) return usage(`${m[1]}: no value given: give ${m[1]} ${m[2]} (${help})`);
      break;
    case 'commander.excessArguments':
      m = /^too many arguments(?: for '([^']*)')?\. Expected (\d+) arguments? but got (\d+)\.$/.exec(first);
      if (m) return usage(`too many arguments${m[1] ? ` for '${m[1]}'` : ''} (expected ${m[2]}, got ${m[3]}): ${help}`);
      break;
  }
  return usage(`${first.replace(/\.$/, '')}: ${help}`);
}

function usage(text: string): Failure {
  return { line: `rstrace: ${flat(text)}`, exitCode: 2 };
}

function flat(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/**
 * For an action that catches its own errors: print `err` as describeFailure
 * does and set the exit code. Actions may also just throw: src/cli.ts sends
 * whatever escapes an action through describeFailure.
 */
export function reportCliError(err: unknown, stderr: (line: string) => void = (line) => process.stderr.write(line + '\n')): void {
  const { line, exitCode } = describeFailure(err);
  if (line !== null) stderr(line);
  process.exitCode = exitCode;
}
