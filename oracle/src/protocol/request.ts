/**
 * The request commitment: what `InferenceOracle` stores (as one keccak256) for a pending request,
 * and what `fulfil`, `fulfilBatch` and `expire` take back. Every field is in the request's
 * `InferenceRequested` event, so a node rebuilds it from the log without reading storage.
 */
import { abiWord, fromHex, keccak256Hex } from "./bytes";

/**
 * `IInferenceOracle.RequestOptions`, what a requester states with a request (ethers encodes the
 * object by field name, so it can be passed to `requestInference` and `quote` as it is).
 */
export interface RequestOptions {
  /** Gas the callback gets; 0 = no callback. */
  callbackGasLimit: bigint | number;
  /** Unix time after which the request can only be expired. */
  deadline: bigint | number;
  /** Number of agreeing enclaves of distinct operators (k). */
  redundancy: bigint | number;
  /** The most the requester pays in fees (model fee x k); the request reverts above it. */
  maxFee: bigint;
  /** Wei per gas: the prepayment's price and the cap on the relayer's reimbursement. */
  maxGasPrice: bigint;
}

/** The options as an ABI tuple, in field order (`OPTIONS_TUPLE` in protocol/abi.ts). */
export function optionsTuple(o: RequestOptions): unknown[] {
  return [o.callbackGasLimit, o.deadline, o.redundancy, o.maxFee, o.maxGasPrice];
}

/** Field for field `IInferenceOracle.RequestCommitment`, in order. */
export interface RequestCommitment {
  requestId: bigint;
  modelId: bigint;
  requester: string;
  /** sha256 of the model file (0x-hex, 32 bytes). */
  modelHash: string;
  /** keccak256 of the input bytes. */
  inputHash: string;
  /** Fee held, in wei (model fee x redundancy). */
  fee: bigint;
  /** Wei held for gas: maxGasPrice x (callbackGasLimit + redundancy x resultGasOverhead). */
  gasPrepayment: bigint;
  /** The most a relaying operator is reimbursed per gas. */
  maxGasPrice: bigint;
  callbackGasLimit: bigint;
  deadline: bigint;
  redundancy: bigint;
}

/** The commitment as an ABI tuple, in field order (`COMMITMENT_TUPLE` in protocol/abi.ts). */
export function commitmentTuple(c: RequestCommitment): unknown[] {
  return [
    c.requestId, c.modelId, c.requester, c.modelHash, c.inputHash, c.fee, c.gasPrepayment, c.maxGasPrice,
    c.callbackGasLimit, c.deadline, c.redundancy,
  ];
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
  gasPrepayment: bigint;
  maxGasPrice: bigint;
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
    inputHash: keccak256Hex(fromHex(args.input)),
    fee: BigInt(args.fee),
    gasPrepayment: BigInt(args.gasPrepayment),
    maxGasPrice: BigInt(args.maxGasPrice),
    callbackGasLimit: BigInt(args.callbackGasLimit),
    deadline: BigInt(args.deadline),
    redundancy: BigInt(args.redundancy),
  };
}

function bytes32Word(hex: string): Uint8Array {
  const b = fromHex(hex);
  if (b.length !== 32) throw new RangeError(`expected 32 bytes, got ${b.length}`);
  return b;
}

function addressWord(addr: string): Uint8Array {
  const b = fromHex(addr);
  if (b.length !== 20) throw new RangeError(`expected an address, got ${addr}`);
  const word = new Uint8Array(32);
  word.set(b, 12);
  return word;
}

/**
 * `abi.encode(RequestCommitment)`: eleven static words, written against the ABI layout directly
 * (ethers' AbiCoder was a large share of the node's CPU per result). test/oracle/chain/codec.test.ts
 * holds it equal to ethers' AbiCoder and test/contracts/InferenceOracle.test.ts to the contract.
 */
export function encodeCommitment(c: RequestCommitment): Uint8Array {
  return Buffer.concat([
    abiWord(c.requestId), abiWord(c.modelId), addressWord(c.requester), bytes32Word(c.modelHash), bytes32Word(c.inputHash),
    abiWord(c.fee), abiWord(c.gasPrepayment), abiWord(c.maxGasPrice), abiWord(c.callbackGasLimit), abiWord(c.deadline),
    abiWord(c.redundancy),
  ]);
}

/** The hash the oracle stores for a pending request (`requestCommitment(requestId)`): keccak256(abi.encode(commitment)). */
export function commitmentHash(c: RequestCommitment): string {
  return keccak256Hex(encodeCommitment(c));
}
