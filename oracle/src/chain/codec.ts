/**
 * The node's hot-path codecs, written against the ABI layout directly (bytes in, hex out)
 * because ethers' general coders were a large share of the node's CPU per result: the
 * `fulfilBatch` calldata (its commitments from protocol/request.ts), the oracle's events named by
 * topic in raw JSON-RPC logs and receipts (a request itself is read by protocol/request.ts's
 * `requestFromLog`), and EIP-1559 transaction serialisation.
 * test/oracle/chain/codec.test.ts checks each against ethers.
 */
import { Signature, type SigningKey } from "ethers";
import { ORACLE_TOPICS, oracleInterface } from "../protocol/abi";
import { abiWord as word, fromHex, keccak256Hex } from "../protocol/bytes";
import { encodeCommitment, type RequestCommitment } from "../protocol/request";

function dynBytes(hex: string): Buffer {
  const b = fromHex(hex);
  const padded = Buffer.alloc(Math.ceil(b.length / 32) * 32);
  padded.set(b);
  return Buffer.concat([word(b.length), padded]);
}

const FULFIL_BATCH_SELECTOR = fromHex(oracleInterface.getFunction("fulfilBatch")!.selector);

/** Calldata of `fulfilBatch((RequestCommitment request, bytes output, uint8 status)[] results, bytes signature)`. */
export function encodeFulfilBatch(results: { request: RequestCommitment; output: string; status: number }[], signature: string): string {
  // Each element is a dynamic tuple: commitment (11 words) ‖ offset of output ‖ status ‖ output.
  const elements = results.map((r) => Buffer.concat([encodeCommitment(r.request), word(13 * 32), word(r.status), dynBytes(r.output)]));
  const offsets: Uint8Array[] = [];
  let at = results.length * 32;
  for (const e of elements) { offsets.push(word(at)); at += e.length; }
  const array = Buffer.concat([word(results.length), ...offsets, ...elements]);
  const head = Buffer.concat([word(64), word(64 + array.length)]);
  return "0x" + Buffer.concat([FULFIL_BATCH_SELECTOR, head, array, dynBytes(signature)]).toString("hex");
}

/** A log as JSON-RPC returns it. */
export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
  removed?: boolean;
}

/**
 * The oracle events a receipt says about each request: the name, the request id, the signer
 * (ResultSubmitted, InferenceFulfilled, ResultSkipped), the reason (ResultSkipped).
 */
export interface RequestEventRef {
  name: "InferenceRequested" | "ResultSubmitted" | "InferenceFulfilled" | "ResultSkipped" | "InferenceExpired";
  requestId: bigint;
  signer?: string;
  reason?: string;
}

/** A request id as the oracle's events index it: one 32-byte topic word, 0x-hex (also the id's calldata argument). */
export function requestIdTopic(requestId: bigint | string): string {
  return "0x" + BigInt(requestId).toString(16).padStart(64, "0");
}

const BY_TOPIC = new Map<string, RequestEventRef["name"]>(Object.entries(ORACLE_TOPICS).map(([name, topic]) => [topic, name as RequestEventRef["name"]]));

/** Names an oracle event by its topic and reads its indexed request id; undefined for other logs. */
export function requestEventOf(log: { topics: readonly string[]; data: string }): RequestEventRef | undefined {
  const name = BY_TOPIC.get(log.topics[0]);
  if (!name || log.topics.length < 2) return undefined;
  const ref: RequestEventRef = { name, requestId: BigInt(log.topics[1]) };
  if (name === "ResultSubmitted" || name === "InferenceFulfilled" || name === "ResultSkipped") ref.signer = "0x" + log.topics[2].slice(26).toLowerCase();
  if (name === "ResultSkipped") ref.reason = log.data.slice(0, 10);
  return ref;
}

// --- EIP-1559 transactions ----------------------------------------------------------------------

function rlpLength(len: number, offset: number): Buffer {
  if (len < 56) return Buffer.from([offset + len]);
  const hex = len.toString(16);
  const lenBytes = Buffer.from(hex.length % 2 ? "0" + hex : hex, "hex");
  return Buffer.concat([Buffer.from([offset + 55 + lenBytes.length]), lenBytes]);
}

function rlpBytes(b: Uint8Array): Uint8Array {
  if (b.length === 1 && b[0] < 0x80) return b;
  return Buffer.concat([rlpLength(b.length, 0x80), b]);
}

function rlpInt(v: bigint | number): Uint8Array {
  const n = BigInt(v);
  if (n < 0n) throw new RangeError("negative integer");
  if (n === 0n) return Buffer.from([0x80]);
  const hex = n.toString(16);
  return rlpBytes(Buffer.from(hex.length % 2 ? "0" + hex : hex, "hex"));
}

function rlpList(items: Uint8Array[]): Buffer {
  const body = Buffer.concat(items);
  return Buffer.concat([rlpLength(body.length, 0xc0), body]);
}

export interface Eip1559Tx {
  chainId: number | bigint;
  nonce: number;
  maxPriorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  gasLimit: bigint;
  to: string;
  value?: bigint;
  data: string;
}

/** Signs a type-2 transaction (no access list); returns the raw transaction and its hash. */
export function signEip1559(tx: Eip1559Tx, key: SigningKey): { raw: string; hash: string } {
  const fields = [
    rlpInt(tx.chainId), rlpInt(tx.nonce), rlpInt(tx.maxPriorityFeePerGas), rlpInt(tx.maxFeePerGas), rlpInt(tx.gasLimit),
    rlpBytes(fromHex(tx.to)), rlpInt(tx.value ?? 0n), rlpBytes(fromHex(tx.data)), rlpList([]),
  ];
  const unsigned = Buffer.concat([Buffer.from([2]), rlpList(fields)]);
  const sig = Signature.from(key.sign(keccak256Hex(unsigned)));
  const signed = Buffer.concat([Buffer.from([2]), rlpList([...fields, rlpInt(sig.yParity), rlpInt(BigInt(sig.r)), rlpInt(BigInt(sig.s))])]);
  return { raw: "0x" + signed.toString("hex"), hash: keccak256Hex(signed) };
}
