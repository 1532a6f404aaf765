/** Option parsers, output and exit codes shared by the audit commands. */
import { InvalidArgumentError } from "commander";

/** `--at`, `--expires-at`: a time given as unix seconds. */
export function unixSeconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("give the time as unix seconds, e.g. 1700000000");
  return Number(value);
}

/** Where the commands write and how they end; tests pass their own. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Ends at once with this code (usage errors, help). Must not return. */
  exit: (code: number) => never;
  /** Sets the code to end with once the command returns (a verdict: 0 or 1). */
  setExitCode: (code: number) => void;
}

/** The real process: stdout, stderr, process.exit and process.exitCode. */
export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  exit: (code) => process.exit(code),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** Exit codes of the audit commands. */
export const EXIT = { VALID: 0, INVALID: 1, USAGE: 2 } as const;
