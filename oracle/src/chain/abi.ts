/**
 * The contract surface the node uses, as human-readable ABI fragments taken from the working
 * agreement (docs/interfaces.md). The node needs no build artifacts: addresses come from
 * deployments/<network>.json and these fragments say how to talk to them.
 */
export const ORACLE_ABI = [
  "struct RequestOptions { uint32 callbackGasLimit; uint64 deadline; uint8 redundancy; }",
  "struct ResultSubmission { uint256 requestId; bytes output; uint8 status; }",
  "function requestInference(uint256 modelId, bytes input, (uint32 callbackGasLimit, uint64 deadline, uint8 redundancy) options) payable returns (uint256 requestId)",
  "function quote(uint256 modelId, (uint32 callbackGasLimit, uint64 deadline, uint8 redundancy) options) view returns (uint256 fee)",
  "function fulfil(uint256 requestId, bytes output, uint8 status, bytes signature)",
  "function fulfilBatch((uint256 requestId, bytes output, uint8 status)[] results, bytes signature)",
  "function expire(uint256 requestId)",
  "function requestState(uint256 requestId) view returns (uint8)",
  "function withdraw()",
  "function balances(address operator) view returns (uint256)",
  "event InferenceRequested(uint256 indexed requestId, uint256 indexed modelId, address indexed requester, bytes32 modelHash, bytes input, uint256 fee, uint32 callbackGasLimit, uint64 deadline, uint8 redundancy)",
  "event ResultSubmitted(uint256 indexed requestId, address indexed signer, address indexed operator, bytes32 outputHash, uint8 status)",
  "event InferenceFulfilled(uint256 indexed requestId, bytes32 outputHash, uint8 status, bytes output)",
  "event CallbackCompleted(uint256 indexed requestId, bool success, uint256 gasUsed)",
  "event ResultSkipped(uint256 indexed requestId, address indexed signer, bytes4 reason)",
  "event InferenceExpired(uint256 indexed requestId, address indexed requester, uint256 refund)",
].filter((f) => !f.startsWith("struct"));

export const ENCLAVE_REGISTRY_ABI = [
  "function addRoot(bytes32 x, bytes32 y) returns (bytes32 rootId)",
  "function revokeRoot(bytes32 rootId)",
  "function setMeasurementAllowed(bytes32 measurement, bool allowed)",
  "function registerEnclave(bytes report, (bytes32 r, bytes32 s) reportSig, bytes certificate, (bytes32 r, bytes32 s) certSig, bytes32 rootId) returns (address signer)",
  "function revokeSigner(address signer)",
  "function retireSigner(address signer)",
  "function activeEnclave(address signer) view returns (address operator, bytes32 measurement)",
  "event EnclaveRegistered(address indexed signer, address indexed operator, bytes32 indexed measurement, uint8 teeType, uint64 expiresAt, bytes32 evidenceHash)",
];

export const MODEL_REGISTRY_ABI = [
  "function registerModel((bytes32 modelHash, uint32 inputLength, uint32 outputLength, uint8 decimals, uint96 fee, string uri) spec, bytes32[] measurements) returns (uint256 modelId)",
  "function setMeasurement(uint256 modelId, bytes32 measurement, bool allowed)",
  "function isMeasurementAllowed(uint256 modelId, bytes32 measurement) view returns (bool)",
];

/** `requestState` values. */
export enum RequestState {
  None = 0,
  Pending = 1,
  Fulfilled = 2,
  Expired = 3,
}
