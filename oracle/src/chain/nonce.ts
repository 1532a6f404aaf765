/**
 * Local nonce tracking for one sending key: nonces are handed out without a round trip, in
 * order, and re-read from the chain ("pending" count) at start and whenever a node says a nonce
 * is too low or a send failed in a way that may leave a gap.
 */
import type { JsonRpcProvider } from "ethers";

export class NonceManager {
  private next?: number;
  /** Nonces handed out whose transaction never reached the node: reused first, lowest first. */
  private released: number[] = [];
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly provider: JsonRpcProvider, readonly address: string) {}

  /** The next nonce to use; serialised so concurrent callers never get the same one. */
  take(): Promise<number> {
    const p = this.lock.then(async () => {
      if (this.released.length) return this.released.shift()!;
      // A raw call: ethers' getTransactionCount answers from a 250 ms cache, so a resync right
      // after an earlier read would get the stale count back (and "nonce too low" again).
      if (this.next === undefined) this.next = Number(await this.provider.send("eth_getTransactionCount", [this.address, "pending"]));
      return this.next++;
    });
    this.lock = p.catch(() => undefined);
    return p;
  }

  /** Gives back a nonce whose transaction was never accepted, so no gap is left behind. */
  release(nonce: number): void {
    this.lock = this.lock.then(() => {
      if (this.next !== undefined && nonce < this.next && !this.released.includes(nonce)) {
        this.released.push(nonce);
        this.released.sort((a, b) => a - b);
      }
    });
  }

  /** Forget the local count; the next `take` reads it from the chain. */
  resync(): void {
    this.lock = this.lock.then(() => { this.next = undefined; this.released = []; });
  }
}

/** True for the errors nodes give when a nonce was already used. */
export function isNonceTooLow(err: unknown): boolean {
  if ((err as { code?: string })?.code === "NONCE_EXPIRED") return true;
  return /nonce too low|nonce has already been used|already known|nonce is too low|known transaction/i.test(errorText(err));
}

/** Every message a send error carries (ethers' short one, its own, the node's nested one). */
function errorText(err: unknown): string {
  const e = err as { message?: string; shortMessage?: string; error?: { message?: string } };
  return `${e?.shortMessage ?? ""} ${e?.message ?? ""} ${e?.error?.message ?? ""}`;
}

/**
 * True when the node refused a transaction as an underpriced replacement: a pending transaction
 * of this key already holds the nonce (not a fee below the node's minimum, which is no nonce
 * matter).
 */
export function isNonceOccupied(err: unknown): boolean {
  if ((err as { code?: string })?.code === "REPLACEMENT_UNDERPRICED") return true;
  return /replacement (transaction )?underpriced|replacement fee too low/i.test(errorText(err));
}

/** True when a replacement was refused for too low a fee. */
export function isUnderpriced(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === "REPLACEMENT_UNDERPRICED" || /underpriced/i.test(e?.message ?? "");
}
