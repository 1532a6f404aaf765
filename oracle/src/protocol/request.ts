/**
 * One request, as the node, the auditor and the client read it: the {@link InferenceRequest}
 * record, made from an `InferenceRequested` log by {@link requestFromLog} and nowhere else.
 *
 * Its core is the request commitment: what `InferenceOracle` stores (as one keccak256) for a
 * pending request, and what `fulfil`, `fulfilBatch` and `expire` take back. Every field is in the
 * request's `InferenceRequested` event, so a node rebuilds it from the log without reading storage.
 */
import { getAddress, type BaseContract } from "ethers";
import { ORACLE_TOPICS } from "./abi";
import { abiWord, fromHex, keccak256Hex, toHex } from "./bytes";

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

/** `quoteParts`: what a request with given options costs now, and what to send (`total`). */
export interface QuoteParts {
  /** Fees held: model fee x k (publisher share included). */
  fee: bigint;
  publisherFee: bigint;
  operatorFee: bigint;
  /** Wei held for gas: maxGasPrice x (callbackGasLimit + k x per-result overhead); the unused part is credited back. */
  gasPrepayment: bigint;
  /** fee + gasPrepayment: what `requestInference` must be sent. */
  total: bigint;
}

/**
 * The gas price a request prepays at unless told otherwise: twice the chain's fee cap now
 * (ethers' `maxFeePerGas`, itself 2 x base fee + tip; the gas price on a chain without a base fee;
 * 1 gwei if it gives neither). The relaying operator is reimbursed at min(its price, maxGasPrice)
 * and nodes decline a request priced below the chain's current price, so the headroom keeps a
 * request servable while the base fee climbs; what the relayer does not use is credited back.
 */
export async function suggestedMaxGasPrice(provider: { getFeeData(): Promise<FeeCap> }): Promise<bigint> {
  return maxGasPriceFor(await provider.getFeeData());
}

/** What {@link suggestedMaxGasPrice} reads of ethers' FeeData. */
export interface FeeCap { maxFeePerGas: bigint | null; gasPrice: bigint | null }

/** {@link suggestedMaxGasPrice} from fee data already read. */
export function maxGasPriceFor(fee: FeeCap): bigint {
  return (fee.maxFeePerGas ?? fee.gasPrice ?? 10n ** 9n) * 2n;
}

/**
 * Options bound to today's quote: `maxFee` is the fee quoted now, so a fee raised before the
 * request is mined makes it revert instead of charging more. Send `quote.total` with them.
 */
export async function quotedOptions(
  oracle: Pick<BaseContract, "getFunction">, modelId: bigint | number, terms: Omit<RequestOptions, "maxFee">,
): Promise<{ options: RequestOptions; quote: QuoteParts }> {
  const quote = await readQuote(oracle, modelId, { ...terms, maxFee: 0n });
  return { options: { ...terms, maxFee: quote.fee }, quote };
}

/** The oracle's `quoteParts` for these options, as a plain {@link QuoteParts}. */
export async function readQuote(oracle: Pick<BaseContract, "getFunction">, modelId: bigint | number, options: RequestOptions): Promise<QuoteParts> {
  const q: QuoteParts = await oracle.getFunction("quoteParts")(modelId, optionsTuple(options));
  return { fee: q.fee, publisherFee: q.publisherFee, operatorFee: q.operatorFee, gasPrepayment: q.gasPrepayment, total: q.total };
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

/** The commitment's fields alone, without what a record carries besides (for a result a caller keeps). */
export function commitmentOf(c: RequestCommitment): RequestCommitment {
  return {
    requestId: c.requestId, modelId: c.modelId, requester: c.requester, modelHash: c.modelHash, inputHash: c.inputHash, fee: c.fee,
    gasPrepayment: c.gasPrepayment, maxGasPrice: c.maxGasPrice, callbackGasLimit: c.callbackGasLimit, deadline: c.deadline, redundancy: c.redundancy,
  };
}

/** Where an event is on the chain. */
export interface EventLocation {
  blockNumber: number;
  blockHash: string;
  txHash: string;
}

/**
 * One request as its `InferenceRequested` event states it: the commitment's fields (so the record
 * is the commitment `fulfilBatch` and `expire` take), the input bytes, the commitment hash
 * (computed once, when the record is made) and where the event is.
 */
export interface InferenceRequest extends RequestCommitment {
  /** The input bytes, 0x-hex, in the model's input encoding (`inputHash` is their keccak256). */
  readonly input: string;
  /** keccak256(abi.encode(commitment)): what `requestCommitment(requestId)` returns while it is pending. */
  readonly commitmentHash: string;
  readonly event: EventLocation;
}

/** The event's fields: the commitment's, with the input bytes in place of their hash. */
export type RequestedFields = Omit<RequestCommitment, "inputHash"> & { input: string };

/** Makes the record: hashes the input and the commitment. */
export function inferenceRequest(fields: RequestedFields, event: EventLocation): InferenceRequest {
  const commitment = commitmentOf({ ...fields, inputHash: keccak256Hex(fromHex(fields.input)) });
  return { ...commitment, input: fields.input, commitmentHash: commitmentHash(commitment), event };
}

/** A log as ethers (block number a number) or raw JSON-RPC (a hex string) gives it. */
export interface RequestLogLike {
  topics: readonly string[];
  data: string;
  blockNumber: number | string;
  blockHash: string;
  transactionHash: string;
}

function readWord(data: Uint8Array, i: number): bigint {
  if (data.length < (i + 1) * 32) throw new RangeError("log data too short");
  return BigInt(toHex(data.subarray(i * 32, (i + 1) * 32)));
}

/**
 * The request an `InferenceRequested(requestId, modelId, requester indexed; modelHash, input, fee,
 * gasPrepayment, maxGasPrice, callbackGasLimit, deadline, redundancy)` log states: data words 0..7
 * are the head (the input's offset in word 1), the input's length and bytes follow. Read against
 * the ABI layout directly (the watcher decodes every request the chain emits);
 * test/oracle/protocol/request.test.ts holds it equal to ethers' decoding.
 */
export function requestFromLog(log: RequestLogLike): InferenceRequest {
  if (log.topics[0] !== ORACLE_TOPICS.InferenceRequested || log.topics.length !== 4) throw new Error("not an InferenceRequested log");
  const data = fromHex(log.data);
  const offset = Number(readWord(data, 1));
  const len = Number(readWord(data, offset / 32));
  if (offset + 32 + len > data.length) throw new RangeError("input out of range");
  return inferenceRequest({
    requestId: BigInt(log.topics[1]), modelId: BigInt(log.topics[2]), requester: getAddress("0x" + log.topics[3].slice(26)),
    modelHash: toHex(data.subarray(0, 32)),
    input: toHex(data.subarray(offset + 32, offset + 32 + len)),
    fee: readWord(data, 2), gasPrepayment: readWord(data, 3), maxGasPrice: readWord(data, 4),
    callbackGasLimit: readWord(data, 5), deadline: readWord(data, 6), redundancy: readWord(data, 7),
  }, { blockNumber: Number(log.blockNumber), blockHash: log.blockHash, txHash: log.transactionHash });
}

/** The request of the first `InferenceRequested` log among `logs` (a receipt's), of `oracle` if given. */
export function requestInLogs(logs: readonly (RequestLogLike & { address: string })[], oracle?: string): InferenceRequest | undefined {
  const log = logs.find((l) => l.topics[0] === ORACLE_TOPICS.InferenceRequested && (!oracle || l.address.toLowerCase() === oracle.toLowerCase()));
  return log ? requestFromLog(log) : undefined;
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
