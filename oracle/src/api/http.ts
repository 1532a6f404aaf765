/** What the HTTP routes share: the error that carries its status, and the request id parameter. */
import { OracleError } from "../errors";

/** An error answered with its HTTP status and message (4xx: the caller's to fix, permanent). */
export class HttpError extends OracleError {
  override name = "HttpError";
  constructor(readonly status: number, message: string) {
    super(message, { transient: status >= 500 });
  }
}

const UINT256_MAX = (1n << 256n) - 1n;

/** A request id from a path or query: a decimal integer from 1 to 2^256-1, else a 400 saying so. */
export function parseRequestId(raw: string): bigint {
  if (!/^\d{1,78}$/.test(raw)) throw new HttpError(400, `request id must be a decimal integer, got "${raw.slice(0, 80)}"`);
  const id = BigInt(raw);
  if (id === 0n || id > UINT256_MAX) throw new HttpError(400, "request id must be between 1 and 2^256-1");
  return id;
}
