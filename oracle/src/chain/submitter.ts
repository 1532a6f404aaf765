/**
 * The submitter: sends signed batches as `fulfilBatch` transactions and tells, per request, what
 * the chain made of it — from the receipt's events, never from the mere fact that a transaction
 * was mined.
 *
 * - One {@link NonceManager} per sending key; each batch goes to the least busy key.
 * - Gas: `eth_estimateGas` plus headroom, and never less than the callback gas the contract
 *   forwards (the oracle checks that enough gas is left for each callback: an estimate taken at the
 *   bare minimum could make a callback fail for lack of gas).
 * - A transaction not mined within `txTimeoutMs` is re-sent with the same nonce and fees raised by
 *   `feeBumpPercent`; any of the sent versions may be the one mined.
 * - "nonce too low" resyncs the nonce and sends again.
 */
import { Interface, JsonRpcProvider, TransactionReceipt, Wallet, getAddress } from "ethers";
import type { Logger } from "pino";
import { ORACLE_ABI, type RequestCommitment } from "./abi";
import { NonceManager, isNonceTooLow, isUnderpriced } from "./nonce";
import { shortError, sleep, withRetry } from "./retry";
import type { OracleMetrics } from "../metrics";

/** One result as `fulfilBatch` takes it: the request's commitment, the output, the status. */
export interface ResultSubmission {
  request: RequestCommitment;
  output: string;
  status: number;
}

export type ItemOutcome =
  /** InferenceFulfilled (or, with redundancy, ResultSubmitted by our signer) for this request. */
  | { kind: "fulfilled"; tx: string; block: number }
  /** ResultSkipped: the contract did not take it (`reason` is the 4-byte error selector). */
  | { kind: "skipped"; tx: string; block: number; reason: string }
  /** No event for it at all: must not be acked. */
  | { kind: "missing"; tx: string; block: number };

export interface BatchReceipt {
  tx: string;
  block: number;
  gasUsed: bigint;
  outcomes: Map<string, ItemOutcome>;
}

export interface SubmitterOptions {
  gasHeadroomPercent: number;
  txTimeoutMs: number;
  feeBumpPercent: number;
  /** Re-sends before giving up on a batch (default 5). */
  maxResends?: number;
  /** Receipt polling period (default 100 ms). */
  pollMs?: number;
}

/** Gas the oracle spends per item outside the callback (verification, storage, events). */
const PER_ITEM_OVERHEAD = 40_000n;
const BASE_OVERHEAD = 60_000n;

const iface = new Interface(ORACLE_ABI);

export class SubmitError extends Error {
  readonly transient = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SubmitError";
  }
}

interface Sender {
  wallet: Wallet;
  nonces: NonceManager;
  busy: number;
}

export class Submitter {
  private readonly senders: Sender[];

  constructor(
    private readonly deps: { provider: JsonRpcProvider; oracle: string; chainId: number; keys: string[]; metrics: OracleMetrics; log: Logger },
    private readonly opts: SubmitterOptions,
  ) {
    this.senders = deps.keys.map((k) => {
      const wallet = new Wallet(k, deps.provider);
      return { wallet, nonces: new NonceManager(deps.provider, wallet.address), busy: 0 };
    });
  }

  /** Addresses of the sending keys (never the keys). */
  get addresses(): string[] {
    return this.senders.map((s) => s.wallet.address);
  }

  /**
   * Sends one signed batch and waits for its receipt. `callbackGas[i]` is the callback gas limit
   * of `results[i]`'s request. Throws {@link SubmitError} (transient) when the batch did not land.
   */
  async submitBatch(
    results: ResultSubmission[], signature: string, callbackGas: number[], signer: string, onSent?: (tx: string) => void,
  ): Promise<BatchReceipt> {
    const sender = this.senders.reduce((a, b) => (b.busy < a.busy ? b : a));
    sender.busy++;
    try {
      const data = iface.encodeFunctionData("fulfilBatch", [results.map((r) => [commitmentTuple(r.request), r.output, r.status]), signature]);
      const gasLimit = await this.gasLimit(sender, data, callbackGas);
      const receipt = await this.sendAndWait(sender, data, gasLimit, onSent);
      this.deps.metrics.gasSpent.inc(Number(receipt.gasUsed));
      this.deps.metrics.batchSize.observe(results.length);
      if (receipt.status !== 1) throw new SubmitError(`fulfilBatch ${receipt.hash} reverted in block ${receipt.blockNumber}`);
      return { tx: receipt.hash, block: receipt.blockNumber, gasUsed: receipt.gasUsed, outcomes: this.outcomes(receipt, results, signer) };
    } finally {
      sender.busy--;
    }
  }

  private async gasLimit(sender: Sender, data: string, callbackGas: number[]): Promise<bigint> {
    let estimate: bigint;
    try {
      estimate = await withRetry(() => this.deps.provider.estimateGas({ from: sender.wallet.address, to: this.deps.oracle, data }), {
        what: "eth_estimateGas", attempts: 3, log: this.deps.log, onError: () => this.deps.metrics.rpcErrors.inc(),
      });
    } catch (err) {
      throw new SubmitError(`fulfilBatch would fail: ${decodeRevert(err)}`, { cause: err });
    }
    const withHeadroom = (estimate * BigInt(100 + this.opts.gasHeadroomPercent)) / 100n;
    // EIP-150: a call receives at most 63/64 of the gas left, so the contract needs more than the sum.
    const callbacks = callbackGas.reduce((a, g) => a + (BigInt(g) * 64n) / 63n + PER_ITEM_OVERHEAD, BASE_OVERHEAD);
    return withHeadroom > callbacks ? withHeadroom : callbacks;
  }

  /**
   * Sends a transaction from the operator key (the first key), sharing its nonce manager with
   * the batches: used to register enclaves. Throws when it reverts.
   */
  async sendFromOperator(to: string, data: string): Promise<TransactionReceipt> {
    const sender = this.senders[0];
    let estimate: bigint;
    try {
      estimate = await this.deps.provider.estimateGas({ from: sender.wallet.address, to, data });
    } catch (err) {
      throw new SubmitError(`transaction would fail: ${decodeRevert(err)}`, { cause: err });
    }
    const receipt = await this.sendAndWait(sender, data, (estimate * BigInt(100 + this.opts.gasHeadroomPercent)) / 100n, undefined, to);
    if (receipt.status !== 1) throw new SubmitError(`transaction ${receipt.hash} reverted`);
    return receipt;
  }

  /** The operator address: it registers runners and receives the fees. */
  get operator(): string {
    return this.senders[0].wallet.address;
  }

  private async sendAndWait(
    sender: Sender, data: string, gasLimit: bigint, onSent?: (tx: string) => void, to = this.deps.oracle,
  ): Promise<TransactionReceipt> {
    const { provider, log, metrics } = this.deps;
    const fee = await withRetry(() => provider.getFeeData(), { what: "fee data", attempts: 4, log, onError: () => metrics.rpcErrors.inc() });
    let maxFee = fee.maxFeePerGas ?? fee.gasPrice ?? 1_000_000_000n;
    let tip = fee.maxPriorityFeePerGas ?? 1_000_000n;
    let nonce = await sender.nonces.take();
    const hashes: string[] = [];
    const maxResends = this.opts.maxResends ?? 5;
    for (let sendNo = 0; sendNo <= maxResends; sendNo++) {
      const tx = { to, data, nonce, gasLimit, maxFeePerGas: maxFee, maxPriorityFeePerGas: tip, chainId: this.deps.chainId, type: 2 };
      try {
        const signed = await sender.wallet.signTransaction(tx);
        const resp = await provider.broadcastTransaction(signed);
        hashes.push(resp.hash);
        onSent?.(resp.hash);
        metrics.txSent.inc({ kind: sendNo === 0 ? "first" : "resend" });
        log.debug({ tx: resp.hash, nonce, sendNo, from: sender.wallet.address }, "fulfilBatch sent");
      } catch (err) {
        if (isNonceTooLow(err) && hashes.length === 0) {
          // Someone (a previous run of this node, a re-send) used the nonce: take a fresh one.
          sender.nonces.resync();
          nonce = await sender.nonces.take();
          log.info({ nonce, from: sender.wallet.address }, "nonce too low: resynced");
          sendNo--;
          continue;
        }
        if (hashes.length === 0) {
          sender.nonces.release(nonce); // never accepted: the next batch takes this nonce, no gap
          throw new SubmitError(`sending fulfilBatch failed: ${shortError(err)}`, { cause: err });
        }
        // A re-send failed (an earlier version was mined, or the fee is still too low): keep waiting.
        if (!isNonceTooLow(err) && !isUnderpriced(err)) log.warn({ err: shortError(err) }, "re-send failed");
      }
      const receipt = await this.waitAny(hashes, this.opts.txTimeoutMs);
      if (receipt) return receipt;
      maxFee = (maxFee * BigInt(100 + this.opts.feeBumpPercent)) / 100n;
      tip = (tip * BigInt(100 + this.opts.feeBumpPercent)) / 100n;
      log.warn({ nonce, hashes, maxFee: maxFee.toString() }, "fulfilBatch not mined in time: re-sending with a higher fee");
    }
    sender.nonces.resync();
    throw new SubmitError(`transaction not mined after ${maxResends} re-sends (${hashes.join(", ")})`);
  }

  private async waitAny(hashes: string[], timeoutMs: number): Promise<TransactionReceipt | null> {
    const deadline = Date.now() + timeoutMs;
    const pollMs = this.opts.pollMs ?? 100;
    while (Date.now() < deadline) {
      for (const h of hashes) {
        const r = await this.deps.provider.getTransactionReceipt(h).catch((err) => {
          this.deps.metrics.rpcErrors.inc();
          this.deps.log.debug({ err: shortError(err) }, "receipt poll failed");
          return null;
        });
        if (r) return r;
      }
      await sleep(pollMs);
    }
    return null;
  }

  /** Reads what the receipt says about each request of the batch. */
  private outcomes(receipt: TransactionReceipt, results: ResultSubmission[], signer: string): Map<string, ItemOutcome> {
    const out = new Map<string, ItemOutcome>();
    const oracle = getAddress(this.deps.oracle);
    const mine = getAddress(signer);
    for (const log of receipt.logs) {
      if (getAddress(log.address) !== oracle) continue;
      const ev = iface.parseLog(log);
      if (!ev) continue;
      const id = (ev.args.requestId as bigint).toString();
      const at = { tx: receipt.hash, block: receipt.blockNumber };
      if (ev.name === "InferenceFulfilled") out.set(id, { kind: "fulfilled", ...at });
      else if (ev.name === "ResultSubmitted" && getAddress(ev.args.signer) === mine && !out.has(id)) out.set(id, { kind: "fulfilled", ...at });
      else if (ev.name === "ResultSkipped") out.set(id, { kind: "skipped", reason: ev.args.reason, ...at });
    }
    for (const r of results) {
      const id = r.request.requestId.toString();
      if (!out.has(id)) out.set(id, { kind: "missing", tx: receipt.hash, block: receipt.blockNumber });
    }
    return out;
  }
}

/** A short reason for a failed estimate, with the custom error selector when there is one. */
export function decodeRevert(err: unknown): string {
  const e = err as { data?: string; info?: { error?: { data?: string } }; shortMessage?: string };
  const data = e?.data ?? e?.info?.error?.data;
  if (typeof data === "string" && data.length >= 10) return `reverted with selector ${data.slice(0, 10)}`;
  return shortError(err);
}

/** The commitment as an ABI tuple, in field order. */
export function commitmentTuple(c: RequestCommitment): unknown[] {
  return [c.requestId, c.modelId, c.requester, c.modelHash, c.inputHash, c.fee, c.callbackGasLimit, c.deadline, c.redundancy];
}
