/** Option parsers shared by the audit commands. */
import { InvalidArgumentError } from "commander";

/** `--at`, `--expires-at`: a time given as unix seconds. */
export function unixSeconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("give the time as unix seconds, e.g. 1700000000");
  return Number(value);
}
