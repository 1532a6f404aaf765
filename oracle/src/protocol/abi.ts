/**
 * The contract surface, in ONE place: human-readable ABI fragments of InferenceOracle,
 * EnclaveRegistry and ModelRegistry as the node, the auditor, the scripts and the tests use them.
 * Hand-kept rather than read from `artifacts/` because `oracle start` must work on a checkout
 * that was never compiled; test/oracle/chain/codec.test.ts checks every fragment against the
 * compiled artifacts, so a contract change that is not copied here fails the tests.
 */
import { Interface } from "ethers";

/** `RequestCommitment`: everything fixed at request time; the oracle stores its keccak256. */
export const COMMITMENT_TUPLE =
  "(uint256 requestId, uint256 modelId, address requester, bytes32 modelHash, bytes32 inputHash, uint256 fee, uint256 gasPrepayment, uint64 maxGasPrice, uint32 callbackGasLimit, uint64 deadline, uint8 redundancy)";
/** `RequestOptions`: what a requester states with a request. */
export const OPTIONS_TUPLE = "(uint32 callbackGasLimit, uint64 deadline, uint8 redundancy, uint96 maxFee, uint64 maxGasPrice)";
const QUOTE_TUPLE = "(uint256 fee, uint256 publisherFee, uint256 operatorFee, uint256 gasPrepayment, uint256 total)";
const CONFIG_TUPLE = "(uint32 minCallbackGasLimit, uint32 maxCallbackGasLimit, uint32 maxDeadlineDelay, uint8 maxRedundancy, uint32 resultGasOverhead)";
const P256_SIG = "(bytes32 r, bytes32 s)";
const ATTESTATION_TUPLE = "(address signer, address operator, bytes32 measurement, uint8 teeType, bytes32 evidenceHash, uint64 expiresAt)";
/** `IModelRegistry.ModelSpec`: what a publisher registers. */
export const MODEL_SPEC_TUPLE =
  "(bytes32 modelHash, uint32 inputLength, uint32 outputLength, uint8 decimals, uint96 fee, string uri, uint8 inputEncoding, uint8 determinism, uint16 publisherShareBps)";

/** InferenceOracle: requests, results, state views and the events of a request's life. */
export const ORACLE_ABI = [
  `function requestInference(uint256 modelId, bytes input, ${OPTIONS_TUPLE} options) payable returns (uint256 requestId)`,
  `function quote(uint256 modelId, ${OPTIONS_TUPLE} options) view returns (uint256 total)`,
  `function quoteParts(uint256 modelId, ${OPTIONS_TUPLE} options) view returns (${QUOTE_TUPLE})`,
  `function config() view returns (${CONFIG_TUPLE})`,
  "function finalResult(uint256 requestId) view returns (bytes32 outputHash, uint8 status)",
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
  "event InferenceRequested(uint256 indexed requestId, uint256 indexed modelId, address indexed requester, bytes32 modelHash, bytes input, uint256 fee, uint256 gasPrepayment, uint64 maxGasPrice, uint32 callbackGasLimit, uint64 deadline, uint8 redundancy)",
  "event ResultSubmitted(uint256 indexed requestId, address indexed signer, address indexed operator, bytes32 outputHash, uint8 status)",
  "event InferenceFulfilled(uint256 indexed requestId, address indexed signer, uint8 status, bool callbackSuccess, uint256 callbackGasUsed, uint256 gasRefunded, bytes output)",
  "event ResultSkipped(uint256 indexed requestId, address indexed signer, bytes4 reason)",
  "event InferenceExpired(uint256 indexed requestId, address indexed requester, uint256 refund)",
  "event VoteDropped(uint256 indexed requestId, address indexed signer)",
];

/** EnclaveRegistry: roots, measurements, both registration paths, a signer's record, auditors, events. */
export const ENCLAVE_REGISTRY_ABI = [
  "function isMeasurementAllowed(bytes32 measurement) view returns (bool)",
  "function addRoot(bytes32 x, bytes32 y) returns (bytes32 rootId)",
  "function revokeRoot(bytes32 rootId)",
  "function setMeasurementAllowed(bytes32 measurement, bool allowed)",
  `function registerEnclave(bytes report, ${P256_SIG} reportSig, bytes certificate, ${P256_SIG} certSig, bytes32 rootId) returns (address signer)`,
  `function registerAttestedEnclave(${ATTESTATION_TUPLE} att, bytes[] auditorSignatures)`,
  "function revokeSigner(address signer)",
  "function retireSigner(address signer)",
  "function activeEnclave(address signer) view returns (address operator, bytes32 measurement)",
  "function getEnclave(address signer) view returns ((address operator, uint64 expiresAt, uint8 teeType, uint8 status, bytes32 measurement, bytes32 rootId))",
  "function revocationEpoch() view returns (uint32)",
  "function refreshSigner(address signer)",
  "function getRoot(bytes32 rootId) view returns ((bytes32 x, bytes32 y, uint8 status))",
  "function isAuditor(address auditor) view returns (bool)",
  "function auditorThreshold() view returns (uint8)",
  "event EnclaveRegistered(address indexed signer, address indexed operator, bytes32 indexed measurement, uint8 teeType, uint64 expiresAt, bytes32 evidenceHash)",
  "event EnclaveRevoked(address indexed signer)",
  "event EnclaveRetired(address indexed signer, address indexed operator)",
  // Operators' bonds (OperatorBonds, inherited by the EnclaveRegistry)
  "function bond() payable",
  "function unbond(uint256 amount)",
  "function withdrawBond()",
  "function bondOf(address operator) view returns ((uint96 bonded, uint96 unbonding, uint64 withdrawableAt))",
  "function isBonded(address operator) view returns (bool)",
  "function minBond() view returns (uint256)",
  "function unbondingDelay() view returns (uint32)",
  "event Bonded(address indexed operator, address indexed from, uint256 amount, uint256 bonded)",
  "event BondSlashed(address indexed signer, address indexed operator, address indexed reporter, uint256 slashed, uint256 reward, uint256 burnt)",
];

/** ModelRegistry: the calls the deploy and register scripts make, and the model record the console shows and the node checks requests against. */
export const MODEL_REGISTRY_ABI = [
  `function registerModel(${MODEL_SPEC_TUPLE} spec, bytes32[] measurements) returns (uint256 modelId)`,
  "function requestTerms(uint256 modelId) view returns (bytes32 modelHash, uint32 inputLength, uint8 inputEncoding, uint96 fee, bool active)",
  "function servingTerms(uint256 modelId, bytes32 measurement) view returns (uint32 outputLength, bool allowed, address publisher, uint16 publisherShareBps)",
  "function getModel(uint256 modelId) view returns ((bytes32 modelHash, uint96 fee, uint32 inputLength, uint32 outputLength, uint8 decimals, bool active, uint8 inputEncoding, uint8 determinism, uint16 publisherShareBps, address publisher, string uri))",
  "function modelCount() view returns (uint256)",
  "function setFee(uint256 modelId, uint96 fee)",
  "event ModelRegistered(uint256 indexed modelId, address indexed publisher, bytes32 indexed modelHash, uint32 inputLength, uint32 outputLength, uint8 decimals, uint96 fee, string uri, uint8 inputEncoding, uint8 determinism, uint16 publisherShareBps)",
  "function setMeasurement(uint256 modelId, bytes32 measurement, bool allowed)",
  "function isMeasurementAllowed(uint256 modelId, bytes32 measurement) view returns (bool)",
];

export const oracleInterface = new Interface(ORACLE_ABI);
export const registryInterface = new Interface(ENCLAVE_REGISTRY_ABI);

/** Topic hashes of the oracle's events, computed once (ethers recomputes them on every lookup). */
export const ORACLE_TOPICS = {
  InferenceRequested: oracleInterface.getEvent("InferenceRequested")!.topicHash,
  ResultSubmitted: oracleInterface.getEvent("ResultSubmitted")!.topicHash,
  InferenceFulfilled: oracleInterface.getEvent("InferenceFulfilled")!.topicHash,
  ResultSkipped: oracleInterface.getEvent("ResultSkipped")!.topicHash,
  InferenceExpired: oracleInterface.getEvent("InferenceExpired")!.topicHash,
} as const;

/** `OracleTypes.RequestState` (`requestState` values). */
export enum RequestState {
  None = 0,
  Pending = 1,
  Fulfilled = 2,
  Expired = 3,
}

/** `OracleTypes.RequestState`, by value. */
export const REQUEST_STATE = ["None", "Pending", "Fulfilled", "Expired"] as const;
/** `IEnclaveRegistry.EnclaveStatus`. */
export const ENCLAVE_STATUS = ["None", "Active", "Retired", "Revoked", "Slashed"] as const;
/** `IEnclaveRegistry.RootStatus`. */
export const ROOT_STATUS = ["None", "Trusted", "Revoked"] as const;
