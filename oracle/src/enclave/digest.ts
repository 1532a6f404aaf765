/**
 * The runner's hot-path EIP-712 hashing: the same digests as protocol/eip712.ts
 * (`resultStructHash`, `resultDigest`, `batchDigest`), computed from pre-built type hashes and
 * one keccak over bytes per struct (protocol/bytes.ts: hash-wasm once initialised, js-sha3 before) instead of ethers' generic TypedDataEncoder. test/oracle/enclave/digest.test.ts holds the two equal.
 */
import { TypedDataEncoder, getBytes, hexlify, type TypedDataDomain } from "ethers";
import { INFERENCE_BATCH_TYPES, INFERENCE_RESULT_TYPES, type InferenceResult } from "../protocol/eip712";
import { keccak256Bytes } from "../protocol/bytes";

const RESULT_TYPEHASH = keccak256Bytes(Buffer.from(TypedDataEncoder.from(INFERENCE_RESULT_TYPES).encodeType("InferenceResult")));
const BATCH_TYPEHASH = keccak256Bytes(Buffer.from(TypedDataEncoder.from(INFERENCE_BATCH_TYPES).encodeType("InferenceBatch")));
const UINT256_LIMIT = 1n << 256n;

/** requestId as its 32-byte big-endian EIP-712 word; throws RangeError outside uint256. */
export function uint256Word(value: bigint, buf: Uint8Array = new Uint8Array(32), offset = 0): Uint8Array {
  if (typeof value !== "bigint" || value < 0n || value >= UINT256_LIMIT) throw new RangeError("uint256 out of range");
  let v = value;
  for (let i = 31; i >= 0; i--) {
    buf[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return buf;
}

function writeWord(buf: Uint8Array, offset: number, hex: string): void {
  const bytes = getBytes(hex);
  if (bytes.length !== 32) throw new RangeError("expected 32 bytes");
  buf.set(bytes, offset);
}

/**
 * Precomputed domain separator and type hashes of one oracle domain. The `*Raw` methods work on
 * 32-byte words and return raw bytes (keccak over bytes, no hex): the runner's and the host's hot
 * path; the others take and return the protocol module's hex forms.
 */
export class ResultHasher {
  readonly #separator: Uint8Array;
  /** Scratch for one struct: typehash ‖ requestId ‖ modelHash ‖ inputHash ‖ outputHash ‖ status. */
  readonly #struct = new Uint8Array(192);
  readonly #wrapBuf = new Uint8Array(66);

  constructor(domain: TypedDataDomain) {
    this.#separator = getBytes(TypedDataEncoder.hashDomain(domain));
    this.#struct.set(RESULT_TYPEHASH, 0);
    this.#wrapBuf[0] = 0x19;
    this.#wrapBuf[1] = 0x01;
    this.#wrapBuf.set(this.#separator, 2);
  }

  /**
   * `hashStruct(InferenceResult)` from 32-byte words (requestId big-endian, the three hashes raw)
   * and the status, written into `out` at `outOffset` (32 bytes).
   */
  structHashRaw(requestId: Uint8Array, modelHash: Uint8Array, inputHash: Uint8Array, outputHash: Uint8Array, status: number, out: Uint8Array, outOffset: number): void {
    if (!Number.isInteger(status) || status < 0 || status > 255) throw new RangeError("status must be a uint8");
    if (requestId.length !== 32 || modelHash.length !== 32 || inputHash.length !== 32 || outputHash.length !== 32) throw new RangeError("expected 32 bytes");
    const buf = this.#struct;
    buf.set(requestId, 32);
    buf.set(modelHash, 64);
    buf.set(inputHash, 96);
    buf.set(outputHash, 128);
    buf[191] = status;
    out.set(keccak256Bytes(buf), outOffset);
  }

  /** The digest signed for one result, from its struct hash (raw 32 bytes). */
  resultDigestRaw(structHash: Uint8Array): Uint8Array {
    return this.#wrap(structHash);
  }

  /** The digest signed for a batch, from its results' struct hashes packed back to back (32·n bytes). */
  batchDigestRaw(packedStructHashes: Uint8Array): Uint8Array {
    if (packedStructHashes.length % 32 !== 0) throw new RangeError("packed struct hashes must be 32·n bytes");
    const body = new Uint8Array(64);
    body.set(BATCH_TYPEHASH, 0);
    body.set(keccak256Bytes(packedStructHashes), 32);
    return this.#wrap(keccak256Bytes(body));
  }

  /** `hashStruct(InferenceResult)`, as raw 32 bytes. */
  structHash(r: InferenceResult): Uint8Array {
    const word = (hex: string) => {
      const b = new Uint8Array(32);
      writeWord(b, 0, hex);
      return b;
    };
    const out = new Uint8Array(32);
    this.structHashRaw(uint256Word(r.requestId), word(r.modelHash), word(r.inputHash), word(r.outputHash), r.status, out, 0);
    return out;
  }

  /** The digest signed for one result (`fulfil`). */
  resultDigest(r: InferenceResult): string {
    return hexlify(this.#wrap(this.structHash(r)));
  }

  /** The digest signed for a batch (`fulfilBatch`), from the results' struct hashes. */
  batchDigestOfStructHashes(structHashes: Uint8Array[]): string {
    const packed = new Uint8Array(32 * structHashes.length);
    structHashes.forEach((h, i) => packed.set(h, 32 * i));
    return hexlify(this.batchDigestRaw(packed));
  }

  batchDigest(results: InferenceResult[]): string {
    return this.batchDigestOfStructHashes(results.map((r) => this.structHash(r)));
  }

  #wrap(structHash: Uint8Array): Uint8Array {
    const buf = this.#wrapBuf;
    buf.set(structHash, 34);
    return keccak256Bytes(buf);
  }
}
