/**
 * EIP-712 types of the oracle: the enclave's result signatures and the auditors' countersigned
 * enclave attestations. One module, used by the runner (signing), the node (batching), the
 * auditor (recovering) and the tests; `test/contracts/protocol.test.ts` holds it equal to Solidity.
 */
import { TypedDataDomain, TypedDataEncoder, getAddress } from "ethers";
import { decodeInt256Array, encodeInt256Array, fromHex, toHex } from "./bytes";
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
    { name: "measurement", type: "bytes32" },
    { name: "teeType", type: "uint8" },
    { name: "evidenceHash", type: "bytes32" },
    { name: "expiresAt", type: "uint64" },
  ],
};

/** Auditor's statement: evidence `evidenceHash` attests `signer` running `measurement`. */
export interface EnclaveAttestation {
  signer: string;
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

/** EIP-712 struct hash of one result: the element of an `InferenceBatch`. */
export function resultStructHash(result: InferenceResult): string {
  return TypedDataEncoder.from(INFERENCE_RESULT_TYPES).hash(result);
}

/** The digest an enclave signs for a single result (`fulfil`). */
export function resultDigest(domain: TypedDataDomain, result: InferenceResult): string {
  return TypedDataEncoder.hash(domain, INFERENCE_RESULT_TYPES, result);
}

/** The digest an enclave signs for a batch of results (`fulfilBatch`): one signature for all. */
export function batchDigest(domain: TypedDataDomain, results: InferenceResult[]): string {
  return TypedDataEncoder.hash(domain, INFERENCE_BATCH_TYPES, { results: results.map(resultStructHash) });
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
