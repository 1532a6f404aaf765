/**
 * Enumerations shared by the contracts, the runner, the node and the auditor.
 * The Solidity side mirrors these values in `contracts/libraries/OracleTypes.sol`; a test holds
 * the two equal. Changing a value is a change of the on-chain format.
 */

/** Outcome of one inference, signed by the runner as part of the result. */
export enum ResultStatus {
  /** The model ran and `output` is `abi.encode(int256[])` of its fixed-point output. */
  Ok = 0,
  /** An input value lies outside the range the model's tensor type can hold. Output is empty. */
  InputOutOfRange = 1,
  /** The model produced a value that cannot be represented (NaN, infinity, or beyond int256). */
  OutputNotRepresentable = 2,
}

/**
 * How a model's request input is encoded (`ModelSpec.inputEncoding`). Outputs are always
 * `abi.encode(int256[])`. Packed encodings are big-endian two's complement, values back to back.
 */
export enum InputEncoding {
  /** `abi.encode(int256[])`: 64 + 32·n bytes. */
  AbiInt256 = 0,
  PackedInt8 = 1,
  PackedInt16 = 2,
  PackedInt32 = 3,
  PackedInt64 = 4,
}

/** A model's determinism class (`ModelSpec.determinism`). */
export enum Determinism {
  /** Float arithmetic: deterministic only within one runtime build. */
  Float = 0,
  /** Integer-only: one correct output on any CPU. */
  BitExact = 1,
}

/** Basis points in a whole: a publisher's share of the fee is at most this. */
export const BPS = 10_000;

/** Kind of trusted execution environment that attested an enclave signer. */
export enum TeeType {
  /** The development platform: a software simulation of a TEE. Not hardware-backed. */
  DevSimulated = 0,
  AwsNitro = 1,
  IntelSgx = 2,
  IntelTdx = 3,
  AmdSevSnp = 4,
}

/**
 * Version of the development-platform attestation report layout. 2 added `operator`, the one
 * account that may register the report; the EnclaveRegistry rejects every other version.
 */
export const REPORT_VERSION = 2;
/** Version of the development-platform certificate layout (unchanged since 1). */
export const CERTIFICATE_VERSION = 1;

/** EIP-712 domain names and versions. */
export const ORACLE_DOMAIN_NAME = "InferenceOracle";
export const REGISTRY_DOMAIN_NAME = "EnclaveRegistry";
export const DOMAIN_VERSION = "1";
