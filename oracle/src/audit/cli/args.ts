/** Option parsers, output, usage errors and exit codes shared by the audit commands. */
import { readFileSync } from "fs";
import { InvalidArgumentError, type Command } from "commander";
import { errorMessage } from "../checks";
import { getEvidenceVerifier } from "../evidence/registry";
import type { EvidenceFormat, EvidenceVerifier } from "../types";

/** Exit codes of the audit commands: the verdict (valid or signed 0, invalid, broken or refused 1), or bad usage. */
export const EXIT = { VALID: 0, INVALID: 1, USAGE: 2 } as const;

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

/** Fails the command with exit code 2 and a message that says what to fix. */
export function usage(command: Command, message: string): never {
  command.error(`error: ${message}`, { exitCode: EXIT.USAGE, code: "oracle.usage" });
  throw new Error("unreachable: the exit callback ends the command"); // for the type checker
}

/** `--format`, `--file` and `--collateral`: the format's verifier, the evidence bytes, and the collateral the format takes. */
export function readEvidenceArgs(
  command: Command, options: { format: EvidenceFormat; file: string; collateral?: string },
): { verifier: EvidenceVerifier; evidence: Buffer; collateral: unknown } {
  let verifier: EvidenceVerifier;
  try {
    verifier = getEvidenceVerifier(options.format);
  } catch (error) {
    return usage(command, errorMessage(error));
  }
  let evidence: Buffer;
  try {
    evidence = readFileSync(options.file);
  } catch (error) {
    return usage(command, `cannot read --file ${options.file}: ${errorMessage(error)}`);
  }
  return { verifier, evidence, collateral: readCollateral(command, verifier, options.collateral) };
}

/** `--collateral`: required, or refused, as the format says; read by the format's verifier. */
function readCollateral(command: Command, verifier: EvidenceVerifier, file: string | undefined): unknown {
  if (file === undefined) {
    if (verifier.collateral === "required") usage(command, `--collateral is required for --format ${verifier.format} (${verifier.description})`);
    return undefined;
  }
  if (verifier.collateral === "none") usage(command, `--format ${verifier.format} takes no --collateral; remove it`);
  if (!verifier.readCollateral) usage(command, `--format ${verifier.format} cannot read collateral from a file`);
  try {
    return verifier.readCollateral(file);
  } catch (error) {
    return usage(command, `--collateral ${file}: ${errorMessage(error)}`);
  }
}
