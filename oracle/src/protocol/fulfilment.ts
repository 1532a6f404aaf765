/**
 * `InferenceFulfilled`: the one log a final request leaves (the result, who made it final, the
 * callback's outcome and the refund). The oracle logs only what cannot be derived, to keep
 * `fulfil` under 70k gas; this module derives the rest the same way for every reader (node, auditor,
 * client, console): the output hash is keccak256(output), and the gas reimbursed to the operators is
 * the request's gasPrepayment minus what came back to the requester.
 *
 * And the `fulfil` / `fulfilBatch` call a submission was made with, as its calldata states it, with
 * the EIP-712 digest its signature covers (the auditor and the client recover the signer from it).
 */
import type { TypedDataDomain } from "ethers";
import { oracleInterface } from "./abi";
import { fromHex, keccak256Hex } from "./bytes";
import { batchDigest, resultDigest, type InferenceResult } from "./eip712";
import { commitmentOf, type RequestCommitment } from "./request";

/** The event's arguments as ethers decodes them (a `Result` read by name works too). */
export interface InferenceFulfilledArgs {
  requestId: bigint;
  signer: string;
  status: bigint | number;
  callbackSuccess: boolean;
  callbackGasUsed: bigint;
  gasRefunded: bigint;
  output: string;
}

export interface Fulfilment {
  requestId: bigint;
  /** The enclave signer whose submission made the request final (redundancy 1: the only one). */
  signer: string;
  status: number;
  /** 0x-hex output bytes (empty for a failure status). */
  output: string;
  /** keccak256(output): what the enclave signed. */
  outputHash: string;
  /** false with callbackGasUsed 0 when no callback was asked for or the requester has no code. */
  callbackSuccess: boolean;
  callbackGasUsed: bigint;
  /** Wei of the gas prepayment credited back to the requester. */
  gasRefunded: bigint;
}

export function fulfilmentFromEvent(a: InferenceFulfilledArgs): Fulfilment {
  const output = String(a.output);
  return {
    requestId: BigInt(a.requestId), signer: a.signer, status: Number(a.status), output, outputHash: keccak256Hex(fromHex(output)),
    callbackSuccess: Boolean(a.callbackSuccess), callbackGasUsed: BigInt(a.callbackGasUsed), gasRefunded: BigInt(a.gasRefunded),
  };
}

/** Reads an `InferenceFulfilled` log (as ethers or raw JSON-RPC gives it); throws for any other log. */
export function fulfilmentFromLog(log: { topics: readonly string[]; data: string }): Fulfilment {
  const parsed = oracleInterface.parseLog(log);
  if (parsed?.name !== "InferenceFulfilled") throw new Error(`not an InferenceFulfilled log (topic ${log.topics[0]})`);
  return fulfilmentFromEvent(parsed.args as unknown as InferenceFulfilledArgs);
}

/** Wei of the prepayment that reimbursed the agreeing operators' gas. */
export function gasReimbursed(gasPrepayment: bigint, f: Pick<Fulfilment, "gasRefunded">): bigint {
  return gasPrepayment - f.gasRefunded;
}

/** One result of a `fulfil` / `fulfilBatch` call: the request's commitment, the output and its status. */
export interface FulfilItem {
  request: RequestCommitment;
  /** 0x-hex output bytes. */
  output: string;
  status: number;
}

/** A `fulfil` or `fulfilBatch` call, decoded from its calldata. */
export interface FulfilCall {
  /** `fulfilBatch`: one signature over the `InferenceBatch` of every item. */
  batch: boolean;
  items: FulfilItem[];
  signature: string;
}

/** Decodes `fulfil` / `fulfilBatch` calldata; undefined for another call or data that does not decode. */
export function decodeFulfilCall(data: string): FulfilCall | undefined {
  let call;
  try {
    call = oracleInterface.parseTransaction({ data });
  } catch {
    return undefined;
  }
  const item = (r: { request: RequestCommitment; output: string; status: bigint }): FulfilItem => ({
    request: commitmentOf(r.request), output: r.output, status: Number(r.status),
  });
  if (call?.name === "fulfil") return { batch: false, items: [item(call.args as never)], signature: call.args.signature };
  if (call?.name === "fulfilBatch") return { batch: true, items: (call.args.results as never[]).map(item), signature: call.args.signature };
  return undefined;
}

/** The EIP-712 digest a call's signature covers: the `InferenceResult` of `fulfil`, the `InferenceBatch` of `fulfilBatch`. */
export function fulfilCallDigest(domain: TypedDataDomain, call: FulfilCall): string {
  const results: InferenceResult[] = call.items.map((it) => ({
    requestId: it.request.requestId, modelHash: it.request.modelHash, inputHash: it.request.inputHash,
    outputHash: keccak256Hex(fromHex(it.output)), status: it.status,
  }));
  return call.batch ? batchDigest(domain, results) : resultDigest(domain, results[0]);
}
