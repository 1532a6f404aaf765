/**
 * Messages between the host and the runner process (Node IPC, `serialization: "advanced"`, so
 * bigint and Uint8Array cross as they are). The runner answers each request with the same `id`.
 *
 * The runner understands exactly these requests: `init` (once), `attest`, `infer`. Any other
 * message, including one that asks it to sign a given digest, is answered with
 * `UNKNOWN_OPERATION` and changes nothing. No message in either direction carries the signing key.
 */

export interface InitRequest {
  type: "init";
  id: number;
  chainId: bigint;
  oracleAddress: string;
  /** Folder of model files, found by sha256 (each file's hash is checked again before use). */
  modelsDir: string;
  /** Largest model file the runner loads. */
  maxModelBytes?: number;
  /** Key derived by the platform from its secret and the measurement it computed; present only with sealing. */
  sealingKey?: Uint8Array;
  /** The measurement the platform computed (the sealed file is bound to it); present only with sealing. */
  measurement?: string;
  sealedKeyPath?: string;
}

export interface AttestRequest {
  type: "attest";
  id: number;
}

/** One job as the host checked it (host side; it crosses the IPC packed, see {@link InferRequest}). */
export interface WireJob {
  requestId: bigint;
  modelHash: string;
  input: Uint8Array;
}

/**
 * A batch of `count` jobs in ONE message, packed (no per-job objects): job i is request
 * `requestIds[32i, 32i+32)` (uint256, big-endian), model `modelHashes[32i, 32i+32)` (sha256 of
 * the .onnx file), input `inputs[inputEnds[i-1] ?? 0, inputEnds[i])` (`abi.encode(int256[])`).
 */
export interface InferRequest {
  type: "infer";
  id: number;
  /** "single": one job, one signature over its `InferenceResult`; "batch": one signature over the `InferenceBatch`. */
  mode: "single" | "batch";
  count: number;
  requestIds: Uint8Array;
  modelHashes: Uint8Array;
  inputs: Uint8Array;
  inputEnds: Uint32Array;
}

export type HostMessage = InitRequest | AttestRequest | InferRequest;

export type RunnerErrorCode =
  | "UNKNOWN_OPERATION"
  | "BAD_REQUEST"
  | "NOT_INITIALISED"
  | "MODEL_REJECTED"
  | "INPUT_REJECTED"
  | "INFERENCE_FAILED"
  | "UNSEAL_FAILED";

export interface ErrorReply {
  id: number;
  ok: false;
  code: RunnerErrorCode;
  message: string;
}

export interface InitReply {
  id: number;
  ok: true;
  type: "init";
  signer: string;
  /** True when the key came from the sealed file rather than being created now. */
  unsealed: boolean;
}

/** The runner's report request: what it asks the platform to attest. */
export interface AttestReply {
  id: number;
  ok: true;
  type: "attest";
  signer: string;
  /** keccak256(signer): the value a hardware report carries in its report data. */
  reportData: string;
}

/**
 * The results of an {@link InferRequest}, packed like it: result i has status `statuses[i]`,
 * output `outputs[outputEnds[i-1] ?? 0, outputEnds[i])` (empty unless Ok), and the raw 32-byte
 * `inputHashes`/`outputHashes` words it signed; one signature (65 bytes, r ‖ s ‖ v, 0x hex).
 */
export interface InferReply {
  id: number;
  ok: true;
  type: "infer";
  statuses: Uint8Array;
  outputs: Uint8Array;
  outputEnds: Uint32Array;
  inputHashes: Uint8Array;
  outputHashes: Uint8Array;
  signature: string;
}

export interface ReadyMessage {
  type: "ready";
}

/** An answer to one request (matched by `id`). */
export type RunnerReply = ErrorReply | InitReply | AttestReply | InferReply;

export type RunnerMessage = ReadyMessage | RunnerReply;
