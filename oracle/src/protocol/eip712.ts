/**
 * EIP-712 types of the oracle: the enclave's result signatures and the auditors' countersigned
 * enclave attestations. One module, used by the runner (signing), the host and the node
 * (batching, checking), the auditor (recovering) and the tests.
 *
 * Result hashing has one implementation, {@link ResultHasher}: pre-built type hashes and domain
 * separator, one keccak over bytes per struct (protocol/bytes.ts: hash-wasm once initialised,
 * js-sha3 before). The runner and the host use its `*Raw` methods on their hot path;
 * {@link resultStructHash}, {@link resultDigest} and {@link batchDigest} are thin hex wrappers
 * over it. test/oracle/enclave/digest.test.ts holds it equal to ethers' TypedDataEncoder and
 * test/contracts/protocol.test.ts to Solidity.
 */
import { TypedDataDomain, TypedDataEncoder, getAddress } from "ethers";
import { decodeInt256Array, encodeInt256Array, fromHex, keccak256Bytes, toHex } from "./bytes";
import { DOMAIN_VERSION, ORACLE_DOMAIN_NAME, REGISTRY_DOMAIN_NAME, ResultStatus } from "./constants";

/** What an enclave signs for one request. Hashes are 0x-prefixed 32-byte hex. */
export interface InferenceResult {
  requestId: bigint;
  /** sha256 of the .onnx file bytes, as registered in the ModelRegistry. */
  modelHash: string;
  /** keccak256 of the request's input bytes (`abi.encode(int256[])`). */
  inputHash: string;
  /** keccak256 of the output bytes (`abi.encode(int256[])`, empty when status is not Ok). */
  outputHash: string;
  status: ResultStatus;
}

export const INFERENCE_RESULT_TYPES = {
  InferenceResult: [
    { name: "requestId", type: "uint256" },
    { name: "modelHash", type: "bytes32" },
    { name: "inputHash", type: "bytes32" },
    { name: "outputHash", type: "bytes32" },
    { name: "status", type: "uint8" },
  ],
};

export const INFERENCE_BATCH_TYPES = {
  InferenceBatch: [{ name: "results", type: "bytes32[]" }],
};

export const ENCLAVE_ATTESTATION_TYPES = {
  EnclaveAttestation: [
    { name: "signer", type: "address" },
    { name: "operator", type: "address" },
    { name: "measurement", type: "bytes32" },
    { name: "teeType", type: "uint8" },
    { name: "evidenceHash", type: "bytes32" },
    { name: "expiresAt", type: "uint64" },
  ],
};

/**
 * Auditor's statement: evidence `evidenceHash` attests `signer` running `measurement`, to be
 * registered by `operator` alone (the registry refuses any other sender, so a copy is worthless).
 */
export interface EnclaveAttestation {
  signer: string;
  /** The only account that may register the attestation; it becomes the signer's operator. */
  operator: string;
  measurement: string;
  teeType: number;
  /** sha256 of the raw evidence bytes the auditor verified (quote, document or report). */
  evidenceHash: string;
  expiresAt: bigint;
}

export function oracleDomain(chainId: bigint | number, oracle: string): TypedDataDomain {
  return { name: ORACLE_DOMAIN_NAME, version: DOMAIN_VERSION, chainId, verifyingContract: getAddress(oracle) };
}

export function registryDomain(chainId: bigint | number, registry: string): TypedDataDomain {
  return { name: REGISTRY_DOMAIN_NAME, version: DOMAIN_VERSION, chainId, verifyingContract: getAddress(registry) };
}

/** `encodeType` of a struct without nested struct types: `Name(type1 name1,type2 name2,…)`. */
function typeHash(types: Record<string, { name: string; type: string }[]>, primary: string): Uint8Array {
  return keccak256Bytes(Buffer.from(`${primary}(${types[primary].map((f) => `${f.type} ${f.name}`).join(",")})`));
}

const RESULT_TYPEHASH = typeHash(INFERENCE_RESULT_TYPES, "InferenceResult");
const BATCH_TYPEHASH = typeHash(INFERENCE_BATCH_TYPES, "InferenceBatch");
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

/** A bytes32 value from 0x hex; throws RangeError unless it is 32 bytes. */
function bytes32Word(hex: string): Uint8Array {
  const bytes = fromHex(hex);
  if (bytes.length !== 32) throw new RangeError("expected 32 bytes");
  return bytes;
}

/** Scratch for one struct: typehash ‖ requestId ‖ modelHash ‖ inputHash ‖ outputHash ‖ status. */
const STRUCT = new Uint8Array(192);
STRUCT.set(RESULT_TYPEHASH, 0);

/**
 * `hashStruct(InferenceResult)` from 32-byte words (requestId big-endian, the three hashes raw)
 * and the status, written into `out` at `outOffset` (32 bytes). Synchronous, so the shared
 * scratch buffer cannot be interleaved.
 */
export function resultStructHashRaw(requestId: Uint8Array, modelHash: Uint8Array, inputHash: Uint8Array, outputHash: Uint8Array, status: number, out: Uint8Array, outOffset: number): void {
  if (!Number.isInteger(status) || status < 0 || status > 255) throw new RangeError("status must be a uint8");
  if (requestId.length !== 32 || modelHash.length !== 32 || inputHash.length !== 32 || outputHash.length !== 32) throw new RangeError("expected 32 bytes");
  const buf = STRUCT;
  buf.set(requestId, 32);
  buf.set(modelHash, 64);
  buf.set(inputHash, 96);
  buf.set(outputHash, 128);
  buf[191] = status;
  out.set(keccak256Bytes(buf), outOffset);
}

/** `hashStruct(InferenceResult)`, as raw 32 bytes. */
export function resultStructHashBytes(r: InferenceResult): Uint8Array {
  const out = new Uint8Array(32);
  resultStructHashRaw(uint256Word(r.requestId), bytes32Word(r.modelHash), bytes32Word(r.inputHash), bytes32Word(r.outputHash), r.status, out, 0);
  return out;
}

/** EIP-712 struct hash of one result: the element of an `InferenceBatch`. */
export function resultStructHash(result: InferenceResult): string {
  return toHex(resultStructHashBytes(result));
}

/**
 * Precomputed domain separator of one oracle domain, over the module's type hashes. The `*Raw`
 * methods work on 32-byte words and return raw bytes (keccak over bytes, no hex): the runner's and
 * the host's hot path; the others take and return the protocol module's hex forms.
 */
export class ResultHasher {
  readonly #wrapBuf = new Uint8Array(66);

  constructor(domain: TypedDataDomain) {
    this.#wrapBuf[0] = 0x19;
    this.#wrapBuf[1] = 0x01;
    this.#wrapBuf.set(fromHex(TypedDataEncoder.hashDomain(domain)), 2);
  }

  /** {@link resultStructHashRaw}: the struct hash needs no domain. */
  structHashRaw(requestId: Uint8Array, modelHash: Uint8Array, inputHash: Uint8Array, outputHash: Uint8Array, status: number, out: Uint8Array, outOffset: number): void {
    resultStructHashRaw(requestId, modelHash, inputHash, outputHash, status, out, outOffset);
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
    return resultStructHashBytes(r);
  }

  /** The digest signed for one result (`fulfil`). */
  resultDigest(r: InferenceResult): string {
    return toHex(this.#wrap(resultStructHashBytes(r)));
  }

  /** The digest signed for a batch (`fulfilBatch`), from the results' struct hashes. */
  batchDigestOfStructHashes(structHashes: Uint8Array[]): string {
    const packed = new Uint8Array(32 * structHashes.length);
    structHashes.forEach((h, i) => packed.set(h, 32 * i));
    return toHex(this.batchDigestRaw(packed));
  }

  batchDigest(results: InferenceResult[]): string {
    return this.batchDigestOfStructHashes(results.map(resultStructHashBytes));
  }

  #wrap(structHash: Uint8Array): Uint8Array {
    const buf = this.#wrapBuf;
    buf.set(structHash, 34);
    return keccak256Bytes(buf);
  }
}

/** The digest an enclave signs for a single result (`fulfil`). */
export function resultDigest(domain: TypedDataDomain, result: InferenceResult): string {
  return new ResultHasher(domain).resultDigest(result);
}

/** The digest an enclave signs for a batch of results (`fulfilBatch`): one signature for all. */
export function batchDigest(domain: TypedDataDomain, results: InferenceResult[]): string {
  return new ResultHasher(domain).batchDigest(results);
}

/** The digest an auditor signs to countersign verified TEE evidence. */
export function enclaveAttestationDigest(domain: TypedDataDomain, att: EnclaveAttestation): string {
  return TypedDataEncoder.hash(domain, ENCLAVE_ATTESTATION_TYPES, att);
}

/** `abi.encode(int256[])`: the on-chain form of every input and output tensor (0x hex). */
export function encodeTensor(values: readonly bigint[]): string {
  return toHex(encodeInt256Array(values));
}

/**
 * Inverse of {@link encodeTensor}; throws on bytes that are not a canonical `int256[]` encoding
 * (offset word 0x20, length word n, exactly 64 + 32·n bytes: see protocol/bytes.ts).
 */
export function decodeTensor(data: string | Uint8Array): bigint[] {
  try {
    return decodeInt256Array(typeof data === "string" ? fromHex(data) : data);
  } catch (cause) {
    throw new Error("input is not canonical abi.encode(int256[])", { cause });
  }
}
