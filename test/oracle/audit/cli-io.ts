/**
 * Runs the audit commands in process: a `CliIo` that captures stdout and stderr, and turns
 * `exit` into a thrown `Exited` that ends the parse with that code.
 */
import { Command } from "commander";
import { registerAuditCommands, type CliIo } from "../../../oracle/src/audit";

export class Exited extends Error {
  constructor(readonly code: number) {
    super(`exited with ${code}`);
  }
}

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Calls `parse` with a capturing `CliIo`; returns the code it ended with and what it wrote. */
export async function captureCli(parse: (io: CliIo) => Promise<unknown>): Promise<CliRun> {
  const run: CliRun = { code: 0, out: "", err: "" };
  const io: CliIo = {
    out: (text) => void (run.out += text),
    err: (text) => void (run.err += text),
    exit: (code) => {
      throw new Exited(code);
    },
    setExitCode: (code) => void (run.code = code),
  };
  try {
    await parse(io);
  } catch (error) {
    if (!(error instanceof Exited)) throw error;
    run.code = error.code;
  }
  return run;
}

/** Runs `oracle audit <args>` in process, with the real command definitions. */
export function runAudit(args: string[]): Promise<CliRun> {
  return captureCli((io) => {
    const program = new Command("oracle").exitOverride();
    registerAuditCommands(program, io);
    return program.parseAsync(["node", "oracle", "audit", ...args]);
  });
}
