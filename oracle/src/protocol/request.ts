/**
 * The request commitment: what `InferenceOracle` stores (as one keccak256) for a pending request,
 * and what `fulfil`, `fulfilBatch` and `expire` take back. Every field is in the request's
 * `InferenceRequested` event, so a node rebuilds it from the log without reading storage.
 */
import { AbiCoder, keccak256 } from "ethers";
import { COMMITMENT_TUPLE } from "./abi";

export interface RequestCommitment {
  requestId: bigint;
  modelId: bigint;
  requester: string;
  /** sha256 of the model file (0x-hex, 32 bytes). */
  modelHash: string;
  /** keccak256 of the input bytes. */
  inputHash: string;
  /** Fee paid, in wei. */
  fee: bigint;
  callbackGasLimit: bigint;
  deadline: bigint;
  redundancy: bigint;
}

/** The commitment as an ABI tuple, in field order (`COMMITMENT_TUPLE` in protocol/abi.ts). */
export function commitmentTuple(c: RequestCommitment): unknown[] {
  return [c.requestId, c.modelId, c.requester, c.modelHash, c.inputHash, c.fee, c.callbackGasLimit, c.deadline, c.redundancy];
}

/**
 * The fields of an `InferenceRequested` event. `Small` is the type of the uint32 `callbackGasLimit`
 * and uint8 `redundancy`: bigint as ethers decodes them, number from the node's own log decoder
 * (`RequestedEvent` in chain/codec.ts).
 */
export interface InferenceRequestedFields<Small extends bigint | number = bigint> {
  requestId: bigint;
  modelId: bigint;
  requester: string;
  modelHash: string;
  input: string;
  fee: bigint;
  callbackGasLimit: Small;
  deadline: bigint;
  redundancy: Small;
}

/** The fields of an `InferenceRequested` event, as ethers decodes them (`log.args`). */
export type InferenceRequestedArgs = InferenceRequestedFields<bigint>;

/** Rebuilds the commitment of a request from its `InferenceRequested` event. */
export function commitmentFromEvent(args: InferenceRequestedArgs): RequestCommitment {
  return {
    requestId: BigInt(args.requestId),
    modelId: BigInt(args.modelId),
    requester: args.requester,
    modelHash: args.modelHash,
    inputHash: keccak256(args.input),
    fee: BigInt(args.fee),
    callbackGasLimit: BigInt(args.callbackGasLimit),
    deadline: BigInt(args.deadline),
    redundancy: BigInt(args.redundancy),
  };
}

/** The hash the oracle stores for a pending request (`requestCommitment(requestId)`). */
export function commitmentHash(c: RequestCommitment): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode([COMMITMENT_TUPLE], [commitmentTuple(c)]));
}
