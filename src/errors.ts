/**
 * User-facing errors. Every failure a user can act on is an `RstraceError`:
 * what went wrong, what to do about it, and the exit code (DESIGN.md: 2 for
 * bad usage or bad input, 1 for a runtime failure). The CLI prints it as one
 * line, never as a stack trace.
 */
import type { CommanderError } from 'commander';

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

/**
 * Print an error from a command action as one line and set the exit code.
 * Anything that is not an `RstraceError` is a bug in rstrace: still one line,
 * exit 1, and an invitation to report it rather than a stack trace.
 */
export function reportCliError(err: unknown, stderr: (line: string) => void = writeStderr): void {
  if (err instanceof RstraceError) {
    stderr(err.oneLine());
    process.exitCode = err.exitCode;
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  stderr(`rstrace: internal error: ${message.replace(/[\r\n]+/g, ' ')}: please report this at the project's issue tracker`);
  process.exitCode = 1;
}

/**
 * For `command.exitOverride()`: commander reports usage errors (unknown
 * option, missing argument) with exit code 1, but our contract says bad usage
 * is 2. Help and version output keep their 0.
 */
export function commanderExit(err: CommanderError): never {
  process.exit(err.exitCode === 0 ? 0 : 2);
}

function writeStderr(line: string): void {
  process.stderr.write(line + '\n');
}
