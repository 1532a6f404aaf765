/**
 * The contract surface the auditor reads: events and calldata of the oracle and the enclave
 * registry, as human-readable ABI fragments. The auditor needs no build artifacts; addresses come
 * from deployments/<network>.json. The tuples are those of `contracts/interfaces/` (and of the
 * node's `oracle/src/chain/abi.ts`, which lacks the auditor-path and view functions read here).
 */
import { Interface } from "ethers";
import { COMMITMENT_TUPLE } from "../chain/abi";

const P256_SIG = "(bytes32 r, bytes32 s)";
const ATTESTATION_TUPLE = "(address signer, bytes32 measurement, uint8 teeType, bytes32 evidenceHash, uint64 expiresAt)";

/** InferenceOracle: the calls whose calldata carries results, the events of a request's life, views. */
export const ORACLE_AUDIT_ABI = [
  `function fulfil(${COMMITMENT_TUPLE} request, bytes output, uint8 status, bytes signature)`,
  `function fulfilBatch((${COMMITMENT_TUPLE} request, bytes output, uint8 status)[] results, bytes signature)`,
  "function requestState(uint256 requestId) view returns (uint8)",
  "function requestCount() view returns (uint256)",
  "function enclaveRegistry() view returns (address)",
  "function modelRegistry() view returns (address)",
  "event InferenceRequested(uint256 indexed requestId, uint256 indexed modelId, address indexed requester, bytes32 modelHash, bytes input, uint256 fee, uint32 callbackGasLimit, uint64 deadline, uint8 redundancy)",
  "event ResultSubmitted(uint256 indexed requestId, address indexed signer, address indexed operator, bytes32 outputHash, uint8 status)",
  "event InferenceFulfilled(uint256 indexed requestId, bytes32 outputHash, uint8 status, bytes output)",
  "event CallbackCompleted(uint256 indexed requestId, bool success, uint256 gasUsed)",
  "event InferenceExpired(uint256 indexed requestId, address indexed requester, uint256 refund)",
];

/** EnclaveRegistry: both registration calls, the signer's record, roots, auditors, events. */
export const REGISTRY_AUDIT_ABI = [
  `function registerEnclave(bytes report, ${P256_SIG} reportSig, bytes certificate, ${P256_SIG} certSig, bytes32 rootId) returns (address signer)`,
  `function registerAttestedEnclave(${ATTESTATION_TUPLE} att, bytes[] auditorSignatures)`,
  "function getEnclave(address signer) view returns ((address operator, uint64 expiresAt, uint8 teeType, uint8 status, bytes32 measurement, bytes32 rootId))",
  "function getRoot(bytes32 rootId) view returns ((bytes32 x, bytes32 y, uint8 status))",
  "function isMeasurementAllowed(bytes32 measurement) view returns (bool)",
  "function isAuditor(address auditor) view returns (bool)",
  "function auditorThreshold() view returns (uint8)",
  "event EnclaveRegistered(address indexed signer, address indexed operator, bytes32 indexed measurement, uint8 teeType, uint64 expiresAt, bytes32 evidenceHash)",
  "event EnclaveRevoked(address indexed signer)",
  "event EnclaveRetired(address indexed signer, address indexed operator)",
];

export const oracleAuditInterface = new Interface(ORACLE_AUDIT_ABI);
export const registryAuditInterface = new Interface(REGISTRY_AUDIT_ABI);

/** `IEnclaveRegistry.EnclaveStatus`. */
export const ENCLAVE_STATUS = ["None", "Active", "Retired", "Revoked"] as const;
/** `IEnclaveRegistry.RootStatus`. */
export const ROOT_STATUS = ["None", "Trusted", "Revoked"] as const;
/** `OracleTypes.RequestState`. */
export const REQUEST_STATE = ["None", "Pending", "Fulfilled", "Expired"] as const;
