/**
 * Waiting for a request to become final: by subscription (the provider's event stream) or by
 * polling the logs, with a timeout. Either way the request's state is read first, so a result
 * that landed before the call is found at once.
 */
import { toBeHex, zeroPadValue, type Log } from "ethers";
import { REQUEST_STATE } from "../../src/protocol/abi";
import { ResultStatus } from "../../src/protocol/constants";
import { fulfilmentFromEvent } from "../../src/protocol/fulfilment";
import type { OracleClient } from "./client";
import { OracleTimeoutError, UnknownRequestError, withContractErrors } from "./errors";

/** `OracleTypes.RequestState`, by value. */
export const REQUEST_STATES = REQUEST_STATE;
export type RequestStateName = (typeof REQUEST_STATES)[number];

export interface WaitOptions {
  /** How long to wait, ms (default 120 000). */
  timeoutMs?: number;
  /** "subscribe" (default): the provider's event stream; "poll": read the logs every `pollIntervalMs`. */
  mode?: "subscribe" | "poll";
  /** Poll interval, ms (default 1000 when polling; 5000 as the subscription's safety re-check). */
  pollIntervalMs?: number;
}

/** A final request: fulfilled with a result, or expired without one. */
export interface FinalRequest {
  requestId: bigint;
  state: "Fulfilled" | "Expired";
  /** The result's status (Fulfilled only). */
  status?: ResultStatus;
  /** `abi.encode(int256[])` of the output when status is Ok, else "0x" (Fulfilled only). */
  output?: string;
  /** keccak256 of the output (Fulfilled only). */
  outputHash?: string;
  /** The enclave signer that made the request final (Fulfilled only). */
  signer?: string;
  /** Whether the requester's callback ran without reverting, and the gas it used (Fulfilled only). */
  callbackSuccess?: boolean;
  callbackGasUsed?: bigint;
  /** Wei of the gas prepayment credited back to the requester (Fulfilled only; claim it with `withdraw`). */
  gasRefunded?: bigint;
  /** Wei refunded to the requester (Expired only). */
  refund?: bigint;
  transactionHash: string;
  blockNumber: number;
}

/** The request's state now; throws {@link UnknownRequestError} for an id never requested. */
export async function requestState(client: OracleClient, requestId: bigint | number): Promise<RequestStateName> {
  const s = Number(await withContractErrors(() => client.oracle.requestState(requestId) as Promise<bigint>));
  if (s === 0) throw new UnknownRequestError(BigInt(requestId));
  return REQUEST_STATES[s];
}

function topic(client: OracleClient, event: string): string {
  return client.oracle.interface.getEvent(event)!.topicHash;
}

/** Logs of the oracle's `event` for one request (its id is the first indexed topic). */
export async function requestLogs(client: OracleClient, event: string, requestId: bigint): Promise<Log[]> {
  return client.provider.getLogs({
    address: client.oracle.target as string, fromBlock: client.fromBlock, toBlock: "latest",
    topics: [topic(client, event), zeroPadValue(toBeHex(requestId), 32)],
  });
}

/** The final outcome if the request is final now, else undefined. */
export async function finalOutcome(client: OracleClient, requestId: bigint): Promise<FinalRequest | undefined> {
  const state = await requestState(client, requestId);
  if (state === "Pending") return undefined;
  const event = state === "Fulfilled" ? "InferenceFulfilled" : "InferenceExpired";
  const [log] = await requestLogs(client, event, requestId);
  if (!log) throw new UnknownRequestError(requestId);
  return outcomeOf(client, requestId, log);
}

function outcomeOf(client: OracleClient, requestId: bigint, log: Log): FinalRequest {
  const ev = client.oracle.interface.parseLog(log)!;
  const base = { requestId, transactionHash: log.transactionHash, blockNumber: log.blockNumber };
  if (ev.name === "InferenceExpired") return { ...base, state: "Expired", refund: ev.args.refund as bigint };
  const f = fulfilmentFromEvent(ev.args as never);
  return {
    ...base, state: "Fulfilled", status: f.status as ResultStatus, output: f.output, outputHash: f.outputHash, signer: f.signer,
    callbackSuccess: f.callbackSuccess, callbackGasUsed: f.callbackGasUsed, gasRefunded: f.gasRefunded,
  };
}

/**
 * Waits until the request is fulfilled or expired and returns the outcome. Throws
 * {@link OracleTimeoutError} after `timeoutMs` (the request stays as it is: wait again or expire it).
 */
export async function waitForResult(client: OracleClient, requestId: bigint | number, opts: WaitOptions = {}): Promise<FinalRequest> {
  const id = BigInt(requestId);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const mode = opts.mode ?? "subscribe";
  const interval = opts.pollIntervalMs ?? (mode === "poll" ? 1000 : 5000);
  const end = Date.now() + timeoutMs;
  const listeners: [unknown, (log: unknown) => void][] = [];
  let wake: (() => void) | undefined;
  try {
    if (mode === "subscribe") {
      for (const event of ["InferenceFulfilled", "InferenceExpired"]) {
        const filter = client.oracle.filters[event](id);
        const listener = () => wake?.();
        listeners.push([filter, listener]);
        await client.oracle.on(filter, listener);
      }
    }
    for (;;) {
      const done = await finalOutcome(client, id);
      if (done) return done;
      const left = end - Date.now();
      if (left <= 0) throw new OracleTimeoutError(id, timeoutMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(interval, left));
        wake = () => { clearTimeout(timer); resolve(); };
      });
      wake = undefined;
    }
  } finally {
    for (const [filter, listener] of listeners) await client.oracle.off(filter as never, listener);
  }
}
