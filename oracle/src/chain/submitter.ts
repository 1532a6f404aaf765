/**
 * The submitter: sends signed batches as `fulfilBatch` transactions and tells, per request, what
 * the chain made of it — from the receipt's events, never from the mere fact that a transaction
 * was mined.
 *
 * - One {@link NonceManager} per sending key; each batch goes to the least busy key.
 * - Gas: an upper bound computed from the batch (calldata, a per-item allowance over twice what
 *   an item costs, and each callback's gas plus the EIP-150 1/64), never less than the callback
 *   gas the contract forwards (the oracle checks that enough gas is left for each callback). Only
 *   gas used is paid. `eth_estimateGas` is not called per batch: on a local node it re-executes
 *   the batch a dozen times (binary search) and was what slowed block production under load.
 *   After a batch reverts, the next batches are estimated first (plus headroom), so a batch that
 *   would revert again fails before it is sent.
 * - A transaction not mined within `txTimeoutMs` is re-sent with the same nonce and fees raised by
 *   `feeBumpPercent`; any of the sent versions may be the one mined.
 * - A nonce another transaction of the key already used ("nonce too low" when mined, a refused
 *   replacement while pending: another process sending from the key) resyncs the nonce and sends
 *   again, a bounded number of times.
 * - Batches are pipelined: a batch is signed and sent while earlier ones still await their
 *   receipts (the nonce manager hands out consecutive nonces without a round trip).
 *
 * The hot path talks raw JSON-RPC (see rpc.ts and codec.ts): calldata, signing, receipts and
 * their events are encoded and read without ethers' general coders and formatters.
 */
import { Wallet } from "ethers";
import type { Logger } from "pino";
import { TransientError } from "../errors";
import type { RequestCommitment } from "../protocol/request";
import { encodeFulfilBatch, requestEventOf, signEip1559, type RawLog } from "./codec";
import { batchGasBound } from "./gas";
import { NonceManager, isNonceOccupied, isNonceTooLow, isUnderpriced } from "./nonce";
import { shortError, sleep, withRetry } from "./retry";
import type { FastJsonRpcProvider } from "./rpc";
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
  /** Milliseconds spent estimating gas, and from then until the receipt was read. */
  timings: { estimateMs: number; minedMs: number };
}

export interface SubmitterOptions {
  gasHeadroomPercent: number;
  txTimeoutMs: number;
  feeBumpPercent: number;
  /** Re-sends before giving up on a batch (default 5). */
  maxResends?: number;
  /** Most gas one transaction may use (the chain's per-transaction cap); headroom stays under it. */
  maxTxGas?: number;
  /** Receipt polling period (default 100 ms). */
  pollMs?: number;
}

/**
 * Resyncs of one send's nonce before it gives up: each follows a transaction another process sent
 * from the same key, so a few cover even two nodes racing on one key.
 */
const MAX_NONCE_RESYNCS = 8;

/** A receipt as JSON-RPC returns it, with the fields the node reads. */
export interface RawReceipt {
  transactionHash: string;
  blockNumber: string;
  status: string;
  gasUsed: string;
  logs: RawLog[];
}

/** The part of a receipt callers of {@link Submitter.sendFromOperator} read. */
export interface SentReceipt {
  hash: string;
  blockNumber: number;
  gasUsed: bigint;
  status: number;
  logs: RawLog[];
}

/** A batch or transaction that did not land (reverted, not mined, not accepted): retried. */
export class SubmitError extends TransientError {
  override name = "SubmitError";
}

interface Sender {
  wallet: Wallet;
  nonces: NonceManager;
  busy: number;
}

export class Submitter {
  private readonly senders: Sender[];

  constructor(
    private readonly deps: { provider: FastJsonRpcProvider; oracle: string; chainId: number; keys: string[]; metrics: OracleMetrics; log: Logger },
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
      const data = encodeFulfilBatch(results, signature);
      const t0 = Date.now();
      const gasLimit = await this.gasLimit(sender, data, callbackGas, results.map((r) => (r.output.length - 2) / 2));
      const t1 = Date.now();
      const receipt = await this.sendAndWait(sender, data, gasLimit, onSent);
      const timings = { estimateMs: t1 - t0, minedMs: Date.now() - t1 };
      this.deps.metrics.gasSpent.inc(Number(receipt.gasUsed));
      this.deps.metrics.batchSize.observe(results.length);
      if (receipt.status !== 1) {
        this.estimateFirst = true;
        throw new SubmitError(`fulfilBatch ${receipt.hash} reverted in block ${receipt.blockNumber}`);
      }
      return { tx: receipt.hash, block: receipt.blockNumber, gasUsed: receipt.gasUsed, outcomes: this.outcomes(receipt, results, signer), timings };
    } finally {
      sender.busy--;
    }
  }

  /** Set when a batch reverted: estimate (and so pre-check) the following batches. */
  private estimateFirst = false;

  private async gasLimit(sender: Sender, data: string, callbackGas: number[], outputBytes: number[]): Promise<bigint> {
    // Callbacks with the EIP-150 1/64, per-item overhead, calldata (at most 16 gas a byte), each output copied and logged.
    const bound = batchGasBound((data.length - 2) / 2, callbackGas, outputBytes);
    if (!this.estimateFirst) return bound;
    let estimate: bigint;
    try {
      estimate = await withRetry(() => this.estimateGas(sender.wallet.address, this.deps.oracle, data), {
        what: "eth_estimateGas", attempts: 3, log: this.deps.log, onError: () => this.deps.metrics.rpcErrors.inc(),
      });
    } catch (err) {
      throw new SubmitError(`fulfilBatch would fail: ${decodeRevert(err)}`, { cause: err });
    }
    this.estimateFirst = false;
    const withHeadroom = (estimate * BigInt(100 + this.opts.gasHeadroomPercent)) / 100n;
    if (withHeadroom <= bound) return bound;
    // Headroom never pushes a batch over the per-transaction cap it was sized to fit.
    const cap = BigInt(this.opts.maxTxGas ?? Number.MAX_SAFE_INTEGER);
    return withHeadroom < cap ? withHeadroom : bound > estimate ? bound : estimate;
  }

  /**
   * Sends a transaction from the operator key (the first key), sharing its nonce manager with
   * the batches: used to register enclaves and to bond (`value` wei). Throws when it reverts.
   */
  async sendFromOperator(to: string, data: string, value = 0n): Promise<SentReceipt> {
    const sender = this.senders[0];
    let estimate: bigint;
    try {
      estimate = await this.estimateGas(sender.wallet.address, to, data, value);
    } catch (err) {
      throw new SubmitError(`transaction would fail: ${decodeRevert(err)}`, { cause: err });
    }
    const receipt = await this.sendAndWait(sender, data, (estimate * BigInt(100 + this.opts.gasHeadroomPercent)) / 100n, undefined, to, "operator transaction", value);
    if (receipt.status !== 1) throw new SubmitError(`transaction ${receipt.hash} reverted`);
    return receipt;
  }

  /** The operator address: it registers runners and receives the fees. */
  get operator(): string {
    return this.senders[0].wallet.address;
  }

  private async estimateGas(from: string, to: string, data: string, value = 0n): Promise<bigint> {
    const tx = value === 0n ? { from, to, data } : { from, to, data, value: "0x" + value.toString(16) };
    return BigInt(await this.deps.provider.rpc.call<string>("eth_estimateGas", [tx]));
  }

  private feeCache?: { at: number; fee: Promise<{ maxFee: bigint; tip: bigint; price: bigint }> };

  /** The gas price a transaction sent now pays (base fee + tip, or the legacy gas price), wei. */
  async gasPrice(): Promise<bigint> {
    return (await this.feeData()).price;
  }

  /** Fees as ethers' getFeeData computes them (2 × base fee + tip), read at most once a second; `price` is what is paid (base fee + tip). */
  private feeData(): Promise<{ maxFee: bigint; tip: bigint; price: bigint }> {
    const now = Date.now();
    if (this.feeCache && now - this.feeCache.at < 1000) return this.feeCache.fee;
    const { provider, log, metrics } = this.deps;
    const fee = withRetry(async () => {
      const [block, tip] = await provider.rpc.batch<unknown>([
        { method: "eth_getBlockByNumber", params: ["latest", false] }, { method: "eth_maxPriorityFeePerGas", params: [] },
      ]);
      if (block.error) throw block.error;
      const base = (block.result as { baseFeePerGas?: string } | null)?.baseFeePerGas;
      const t = tip.error ? 1_000_000_000n : BigInt(tip.result as string);
      if (base === undefined) {
        const gasPrice = BigInt(await provider.rpc.call<string>("eth_gasPrice"));
        return { maxFee: gasPrice, tip: gasPrice, price: gasPrice };
      }
      return { maxFee: BigInt(base) * 2n + t, tip: t, price: BigInt(base) + t };
    }, { what: "fee data", attempts: 4, log, onError: () => metrics.rpcErrors.inc() });
    this.feeCache = { at: now, fee };
    fee.catch(() => { if (this.feeCache?.fee === fee) this.feeCache = undefined; });
    return fee;
  }

  private async sendAndWait(
    sender: Sender, data: string, gasLimit: bigint, onSent?: (tx: string) => void, to = this.deps.oracle, what = "fulfilBatch", value = 0n,
  ): Promise<SentReceipt> {
    const { provider, log, metrics } = this.deps;
    let { maxFee, tip } = await this.feeData();
    let nonce = await sender.nonces.take();
    const hashes: string[] = [];
    let resyncs = 0;
    const maxResends = this.opts.maxResends ?? 5;
    for (let sendNo = 0; sendNo <= maxResends; sendNo++) {
      const tx = { to, data, value, nonce, gasLimit, maxFeePerGas: maxFee, maxPriorityFeePerGas: tip, chainId: this.deps.chainId };
      try {
        const signed = signEip1559(tx, sender.wallet.signingKey);
        await provider.rpc.call("eth_sendRawTransaction", [signed.raw]);
        hashes.push(signed.hash);
        onSent?.(signed.hash);
        metrics.txSent.inc({ kind: sendNo === 0 ? "first" : "resend" });
        log.debug({ tx: signed.hash, nonce, sendNo, from: sender.wallet.address }, `${what} sent`);
      } catch (err) {
        if (hashes.length === 0 && (isNonceTooLow(err) || isNonceOccupied(err)) && resyncs < MAX_NONCE_RESYNCS) {
          // Someone else used the nonce: a previous run of this node, or another process sending
          // from this key, whose transaction is mined ("nonce too low") or still pending (a
          // "replacement" refused: this process sent nothing with it yet). The nonce is not ours
          // to give back; read the count again, pending transactions included, and take the next.
          resyncs++;
          sender.nonces.resync();
          nonce = await sender.nonces.take();
          log.info({ nonce, from: sender.wallet.address, err: shortError(err) }, "nonce already used by another transaction of this key: resynced");
          metrics.nonceResyncs.inc();
          sendNo--;
          continue;
        }
        if (hashes.length === 0) {
          // A node that mines at once (Hardhat automine) reports a failed execution here: the
          // computed bound was too low (e.g. a publisher credited for the first time), so the next
          // batches are estimated first, as after a mined revert.
          if (/ran out of gas|reverted/i.test(shortError(err))) this.estimateFirst = true;
          sender.nonces.release(nonce); // never accepted: the next batch takes this nonce, no gap
          const advice = /insufficient funds|enough funds/i.test(shortError(err))
            ? ` (the sending account ${sender.wallet.address} cannot pay for gas: fund it, or set ORACLE_PRIVATE_KEY to a funded key)` : undefined;
          throw new SubmitError(`sending ${what} failed: ${shortError(err)}`, { cause: err, advice });
        }
        // A re-send failed (an earlier version was mined, or the fee is still too low): keep waiting.
        if (!isNonceTooLow(err) && !isUnderpriced(err)) log.warn({ err: shortError(err) }, "re-send failed");
      }
      const receipt = await this.waitAny(hashes, this.opts.txTimeoutMs);
      if (receipt) return receipt;
      maxFee = (maxFee * BigInt(100 + this.opts.feeBumpPercent)) / 100n;
      tip = (tip * BigInt(100 + this.opts.feeBumpPercent)) / 100n;
      log.warn({ nonce, hashes, maxFee: maxFee.toString() }, `${what} not mined in time: re-sending with a higher fee`);
    }
    sender.nonces.resync();
    throw new SubmitError(`transaction not mined after ${maxResends} re-sends (${hashes.join(", ")})`);
  }

  /** Polls the receipts of every version sent (one JSON-RPC batch per poll) until one is mined. */
  private async waitAny(hashes: string[], timeoutMs: number): Promise<SentReceipt | null> {
    const deadline = Date.now() + timeoutMs;
    const pollMs = this.opts.pollMs ?? 100;
    while (Date.now() < deadline) {
      const answers = await this.deps.provider.rpc.batch<RawReceipt | null>(hashes.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })))
        .catch((err) => {
          this.deps.metrics.rpcErrors.inc();
          this.deps.log.debug({ err: shortError(err) }, "receipt poll failed");
          return [];
        });
      for (const a of answers) {
        if (a.error) { this.deps.metrics.rpcErrors.inc(); continue; }
        const r = a.result;
        if (r && r.blockNumber) {
          return { hash: r.transactionHash, blockNumber: Number(r.blockNumber), gasUsed: BigInt(r.gasUsed), status: Number(r.status), logs: r.logs };
        }
      }
      await sleep(pollMs);
    }
    return null;
  }

  /** Reads what the receipt says about each request of the batch. */
  private outcomes(receipt: SentReceipt, results: ResultSubmission[], signer: string): Map<string, ItemOutcome> {
    const out = new Map<string, ItemOutcome>();
    const oracle = this.deps.oracle.toLowerCase();
    const mine = signer.toLowerCase();
    const at = { tx: receipt.hash, block: receipt.blockNumber };
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== oracle) continue;
      const ev = requestEventOf(log);
      if (!ev) continue;
      const id = ev.requestId.toString();
      if (ev.name === "InferenceFulfilled") out.set(id, { kind: "fulfilled", ...at });
      else if (ev.name === "ResultSubmitted" && ev.signer === mine && !out.has(id)) out.set(id, { kind: "fulfilled", ...at });
      else if (ev.name === "ResultSkipped") out.set(id, { kind: "skipped", reason: ev.reason!, ...at });
    }
    for (const r of results) {
      const id = r.request.requestId.toString();
      if (!out.has(id)) out.set(id, { kind: "missing", ...at });
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
