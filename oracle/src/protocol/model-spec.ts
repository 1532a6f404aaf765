/** A model as `ModelRegistry.registerModel` takes it (`IModelRegistry.ModelSpec`, `MODEL_SPEC_TUPLE` in abi.ts). */
export interface ModelSpec {
  modelHash: string;
  inputLength: number;
  outputLength: number;
  decimals: number;
  /** Fee per enclave, wei (a request of redundancy k pays k times). */
  fee: bigint;
  uri: string;
  /** `InputEncoding`: 0 abi.encode(int256[]), 1..4 packed int8/16/32/64. */
  inputEncoding: number;
  /** `Determinism`: 0 float, 1 bit-exact (integer-only). */
  determinism: number;
  /** The publisher's share of the fee, basis points (≤ 10 000), fixed at registration. */
  publisherShareBps: number;
}

/** The spec as the ABI tuple `registerModel` takes, in field order. */
export function modelSpecTuple(spec: ModelSpec): unknown[] {
  return [
    spec.modelHash, spec.inputLength, spec.outputLength, spec.decimals, spec.fee, spec.uri, spec.inputEncoding,
    spec.determinism, spec.publisherShareBps,
  ];
}
