/**
 * The contract surface the node uses, as human-readable ABI fragments taken from the working
 * agreement (docs/interfaces.md). The node needs no build artifacts: addresses come from
 * deployments/<network>.json and these fragments say how to talk to them.
 */
/** `RequestCommitment`: everything fixed at request time; the oracle stores its keccak256. */
export const COMMITMENT_TUPLE =
  "(uint256 requestId, uint256 modelId, address requester, bytes32 modelHash, bytes32 inputHash, uint256 fee, uint32 callbackGasLimit, uint64 deadline, uint8 redundancy)";
const OPTIONS_TUPLE = "(uint32 callbackGasLimit, uint64 deadline, uint8 redundancy)";

export const ORACLE_ABI = [
  `function requestInference(uint256 modelId, bytes input, ${OPTIONS_TUPLE} options) payable returns (uint256 requestId)`,
  `function quote(uint256 modelId, ${OPTIONS_TUPLE} options) view returns (uint256 fee)`,
  `function fulfil(${COMMITMENT_TUPLE} request, bytes output, uint8 status, bytes signature)`,
  `function fulfilBatch((${COMMITMENT_TUPLE} request, bytes output, uint8 status)[] results, bytes signature)`,
  `function expire(${COMMITMENT_TUPLE} request)`,
  "function requestState(uint256 requestId) view returns (uint8)",
  "function requestCommitment(uint256 requestId) view returns (bytes32)",
  `function commitmentHash(${COMMITMENT_TUPLE} request) pure returns (bytes32)`,
  "function requestCount() view returns (uint256)",
  "function withdraw()",
  "function balances(address account) view returns (uint256)",
  "function enclaveRegistry() view returns (address)",
  "function modelRegistry() view returns (address)",
  "event InferenceRequested(uint256 indexed requestId, uint256 indexed modelId, address indexed requester, bytes32 modelHash, bytes input, uint256 fee, uint32 callbackGasLimit, uint64 deadline, uint8 redundancy)",
  "event ResultSubmitted(uint256 indexed requestId, address indexed signer, address indexed operator, bytes32 outputHash, uint8 status)",
  "event InferenceFulfilled(uint256 indexed requestId, bytes32 outputHash, uint8 status, bytes output)",
  "event CallbackCompleted(uint256 indexed requestId, bool success, uint256 gasUsed)",
  "event ResultSkipped(uint256 indexed requestId, address indexed signer, bytes4 reason)",
  "event InferenceExpired(uint256 indexed requestId, address indexed requester, uint256 refund)",
];

/** A request's commitment, as `fulfilBatch` and `expire` take it back. */
export interface RequestCommitment {
  requestId: bigint;
  modelId: bigint;
  requester: string;
  modelHash: string;
  inputHash: string;
  fee: bigint;
  callbackGasLimit: number;
  deadline: bigint;
  redundancy: number;
}

export const ENCLAVE_REGISTRY_ABI = [
  "function isMeasurementAllowed(bytes32 measurement) view returns (bool)",
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
