// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITypeAndVersion} from "./ITypeAndVersion.sol";
import {P256Sig} from "../libraries/OracleTypes.sol";

/// @title IEnclaveRegistry
/// @notice Enclave signers the oracle trusts, with the roots and measurements that make them
/// trusted. A signer is registered either from a development-platform report verified on-chain
/// (P-256 chain: vendor root -> platform key -> report), or from a real TEE's evidence verified
/// off-chain by a threshold of registered auditors who countersign an EIP-712 `EnclaveAttestation`.
/// Revoking a root or a measurement stops every signer that depends on it at once.
interface IEnclaveRegistry is ITypeAndVersion {
    /// @notice Life cycle of an enclave signer.
    enum EnclaveStatus {
        None,
        Active,
        Retired,
        Revoked,
        /// Revoked because it was proven to have equivocated (its operator's bond was slashed).
        Slashed
    }

    /// @notice Life cycle of a vendor root key.
    enum RootStatus {
        None,
        Trusted,
        Revoked
    }

    /// @notice A registered enclave signer.
    struct Enclave {
        /// @notice The account that registered the signer; it receives the signer's fees.
        address operator;
        /// @notice Unix time after which the signer is no longer accepted.
        uint64 expiresAt;
        /// @notice `OracleTypes.TeeType` of the attesting platform.
        uint8 teeType;
        /// @notice Whether the signer is active, retired by its operator, revoked by the owner, or
        /// slashed.
        EnclaveStatus status;
        /// @notice Measurement of the runner that holds the signer's key.
        bytes32 measurement;
        /// @notice Vendor root that certified the platform; zero for auditor-attested signers.
        bytes32 rootId;
    }

    /// @notice A vendor root key.
    struct Root {
        /// @notice x coordinate of the P-256 key.
        bytes32 x;
        /// @notice y coordinate of the P-256 key.
        bytes32 y;
        /// @notice Whether the root is trusted or revoked.
        RootStatus status;
    }

    /// @notice What auditors countersign (EIP-712, domain "EnclaveRegistry" version "1") after
    /// verifying a real TEE's evidence off-chain.
    struct EnclaveAttestation {
        /// @notice The enclave's result-signing address, bound in the evidence's report data.
        address signer;
        /// @notice The only account that may register this attestation; it becomes the signer's
        /// operator and receives its fees. Binding it here is what makes a copy of the
        /// countersigned attestation (e.g. from the mempool) worthless to anyone else.
        address operator;
        /// @notice The runner measurement the evidence attests.
        bytes32 measurement;
        /// @notice `OracleTypes.TeeType` of the evidence (not DevSimulated).
        uint8 teeType;
        /// @notice sha256 of the raw evidence bytes the auditors verified.
        bytes32 evidenceHash;
        /// @notice Unix time after which the attestation (and the signer) is no longer valid.
        uint64 expiresAt;
    }

    /// @notice A vendor root became trusted.
    /// @param rootId keccak256(abi.encode(x, y)).
    /// @param x x coordinate of the P-256 key.
    /// @param y y coordinate of the P-256 key.
    event RootAdded(bytes32 indexed rootId, bytes32 x, bytes32 y);

    /// @notice A vendor root was revoked for good; every signer it certified stops at once.
    /// @param rootId The root.
    event RootRevoked(bytes32 indexed rootId);

    /// @notice A runner measurement was allowed or disallowed; disallowing stops every signer
    /// with that measurement at once, allowing again resumes them.
    /// @param measurement The runner measurement.
    /// @param allowed Whether it is allowed.
    event MeasurementAllowedUpdated(bytes32 indexed measurement, bool allowed);

    /// @notice An enclave signer was registered (or renewed by its operator).
    /// @param signer The enclave's result-signing address.
    /// @param operator The account that receives its fees.
    /// @param measurement The runner measurement.
    /// @param teeType `OracleTypes.TeeType` of the attesting platform.
    /// @param expiresAt Unix time after which the signer is no longer accepted.
    /// @param evidenceHash sha256 of the report (development platform) or of the TEE evidence.
    event EnclaveRegistered(
        address indexed signer,
        address indexed operator,
        bytes32 indexed measurement,
        uint8 teeType,
        uint64 expiresAt,
        bytes32 evidenceHash
    );

    /// @notice An enclave signer was revoked for good: by the owner, or because it was slashed
    /// (`IOperatorBonds.BondSlashed` in the same transaction).
    /// @param signer The signer.
    event EnclaveRevoked(address indexed signer);

    /// @notice An operator retired its own enclave signer for good.
    /// @param signer The signer.
    /// @param operator The operator.
    event EnclaveRetired(address indexed signer, address indexed operator);

    /// @notice An auditor key was trusted or untrusted.
    /// @param auditor The auditor's address.
    /// @param trusted Whether its countersignatures count.
    event AuditorUpdated(address indexed auditor, bool trusted);

    /// @notice The number of distinct auditor signatures `registerAttestedEnclave` needs changed.
    /// @param threshold The new threshold; zero disables the auditor path.
    event AuditorThresholdUpdated(uint8 threshold);

    /// @notice The maximum age of a development-platform report at registration changed.
    /// @param maxReportAge The new maximum, in seconds.
    event MaxReportAgeUpdated(uint64 maxReportAge);

    /// @notice The root is not trusted (never added). Selector 0x4ccffeb4.
    /// @param rootId The root.
    error EnclaveRegistryUntrustedRoot(bytes32 rootId);

    /// @notice The root was revoked. Selector 0x4819ff3a.
    /// @param rootId The root.
    error EnclaveRegistryRootRevoked(bytes32 rootId);

    /// @notice The root was already added. Selector 0x87044b17.
    /// @param rootId The root.
    error EnclaveRegistryRootAlreadyAdded(bytes32 rootId);

    /// @notice The key is not a valid P-256 public key. Selector 0xec973c46.
    /// @param x x coordinate.
    /// @param y y coordinate.
    error EnclaveRegistryInvalidRootKey(bytes32 x, bytes32 y);

    /// @notice The report or certificate has a layout version this contract does not read. Selector 0x4b4eda64.
    /// @param version The version found.
    error EnclaveRegistryUnsupportedVersion(uint16 version);

    /// @notice The report or the auditors' attestation binds another operator than the caller: only
    /// the operator the platform signed into the report (or the auditors into the attestation) may
    /// register it, so a copy (from the mempool or the node's public `/v1/attestation`) cannot be
    /// replayed by another account to take over the signer and its fees. Selector 0x1bdea2e1.
    /// @param expected The operator the report or attestation names.
    /// @param caller The account that submitted it.
    error EnclaveRegistryOperatorMismatch(address expected, address caller);

    /// @notice The report's platform is not the one the certificate names. Selector 0x6339b87d.
    /// @param reportPlatformId Platform id in the report.
    /// @param certificatePlatformId Platform id in the certificate.
    error EnclaveRegistryPlatformMismatch(bytes32 reportPlatformId, bytes32 certificatePlatformId);

    /// @notice The root's signature over the certificate does not verify. Selector 0x4d27c620.
    /// @param rootId The root.
    error EnclaveRegistryInvalidCertificateSignature(bytes32 rootId);

    /// @notice The platform key's signature over the report does not verify. Selector 0x3420bbdc.
    /// @param platformId The platform.
    error EnclaveRegistryInvalidReportSignature(bytes32 platformId);

    /// @notice The certificate is not valid now. Selector 0xb37b8608.
    /// @param notBefore Start of validity.
    /// @param notAfter End of validity.
    /// @param timestamp The current block time.
    error EnclaveRegistryCertificateNotValid(uint64 notBefore, uint64 notAfter, uint256 timestamp);

    /// @notice The report was issued in the future, beyond the allowed clock skew. Selector 0x2acd28ac.
    /// @param issuedAt Issue time in the report.
    /// @param timestamp The current block time.
    error EnclaveRegistryReportFromFuture(uint64 issuedAt, uint256 timestamp);

    /// @notice The report is older than the maximum report age. Selector 0x829b9966.
    /// @param issuedAt Issue time in the report.
    /// @param timestamp The current block time.
    /// @param maxReportAge The maximum age in seconds.
    error EnclaveRegistryReportStale(uint64 issuedAt, uint256 timestamp, uint64 maxReportAge);

    /// @notice The report has expired. Selector 0x14b6de33.
    /// @param expiresAt Expiry in the report.
    /// @param timestamp The current block time.
    error EnclaveRegistryReportExpired(uint64 expiresAt, uint256 timestamp);

    /// @notice The auditors' attestation has expired. Selector 0xc46e24b9.
    /// @param expiresAt Expiry in the attestation.
    /// @param timestamp The current block time.
    error EnclaveRegistryAttestationExpired(uint64 expiresAt, uint256 timestamp);

    /// @notice This path does not accept the TEE type (reports: DevSimulated only; auditors: real TEEs only). Selector 0x620a4306.
    /// @param teeType The TEE type given.
    error EnclaveRegistryUnsupportedTeeType(uint8 teeType);

    /// @notice The measurement is not allowed. Selector 0xf3c31aa3.
    /// @param measurement The measurement.
    error EnclaveRegistryMeasurementNotAllowed(bytes32 measurement);

    /// @notice The enclave signer address is zero. Selector 0x0f7f455f.
    error EnclaveRegistryZeroSigner();

    /// @notice The signer is bound to another operator and cannot be re-registered. Selector 0x0a7b3d0b.
    /// @param signer The signer.
    /// @param operator The operator it is bound to.
    error EnclaveRegistrySignerBoundToOtherOperator(address signer, address operator);

    /// @notice The signer was never registered. Selector 0xe015d1c0.
    /// @param signer The signer.
    error EnclaveRegistryUnknownSigner(address signer);

    /// @notice The owner revoked the signer, or it was slashed. Selector 0x1ee2c6ef.
    /// @param signer The signer.
    error EnclaveRegistrySignerRevoked(address signer);

    /// @notice The signer was already slashed: evidence against it cannot be used again.
    /// Selector 0xf911c312.
    /// @param signer The signer.
    error EnclaveRegistrySignerSlashed(address signer);

    /// @notice The operator retired the signer. Selector 0x70b5e9dc.
    /// @param signer The signer.
    error EnclaveRegistrySignerRetired(address signer);

    /// @notice The signer's registration has expired. Selector 0x6ca98bd9.
    /// @param signer The signer.
    /// @param expiresAt When it expired.
    error EnclaveRegistrySignerExpired(address signer, uint64 expiresAt);

    /// @notice Only the signer's operator may retire it. Selector 0x16be3dad.
    /// @param signer The signer.
    /// @param caller The account that tried.
    error EnclaveRegistryNotOperator(address signer, address caller);

    /// @notice The auditor path is disabled (threshold zero). Selector 0xfef8530f.
    error EnclaveRegistryAuditorPathDisabled();

    /// @notice A signature recovered to an address that is not a trusted auditor. Selector 0x1113327f.
    /// @param auditor The recovered address.
    error EnclaveRegistryUntrustedAuditor(address auditor);

    /// @notice Two signatures came from the same auditor. Selector 0x23dd0f40.
    /// @param auditor The auditor.
    error EnclaveRegistryDuplicateAuditor(address auditor);

    /// @notice Fewer auditor signatures than the threshold. Selector 0xe56d10e4.
    /// @param given Number of signatures given.
    /// @param threshold Number required.
    error EnclaveRegistryNotEnoughAuditors(uint256 given, uint8 threshold);

    /// @notice The maximum report age must be positive. Selector 0x840e8fbe.
    error EnclaveRegistryZeroMaxReportAge();

    /// @notice Trusts a vendor root key. Owner only.
    /// @param x x coordinate of the P-256 key.
    /// @param y y coordinate of the P-256 key.
    /// @return rootId keccak256(abi.encode(x, y)).
    function addRoot(bytes32 x, bytes32 y) external returns (bytes32 rootId);

    /// @notice Revokes a vendor root for good; every signer it certified stops at once. Owner only.
    /// @param rootId The root.
    function revokeRoot(bytes32 rootId) external;

    /// @notice Allows or disallows a runner measurement. Owner only.
    /// @param measurement The measurement.
    /// @param allowed Whether signers with it are accepted.
    function setMeasurementAllowed(bytes32 measurement, bool allowed) external;

    /// @notice Sets the maximum age of a development-platform report at registration. Owner only.
    /// @param maxReportAge Seconds; positive.
    function setMaxReportAge(uint64 maxReportAge) external;

    /// @notice Registers the enclave signer a development-platform report binds to the operator it
    /// names, which must be the caller (`EnclaveRegistryOperatorMismatch` otherwise). Verifies
    /// root -> certificate -> report with P-256, the report version, the measurement, freshness
    /// and validity times. The signer expires at the earlier of the report's expiry and
    /// the certificate's end of validity.
    /// @param report abi-encoded report (see `AttestationReport`).
    /// @param reportSig Platform key's P-256 signature over sha256(report).
    /// @param certificate abi-encoded platform certificate.
    /// @param certSig Root's P-256 signature over sha256(certificate).
    /// @param rootId The root that signed the certificate.
    /// @return signer The registered enclave signer.
    function registerEnclave(
        bytes calldata report,
        P256Sig calldata reportSig,
        bytes calldata certificate,
        P256Sig calldata certSig,
        bytes32 rootId
    ) external returns (address signer);

    /// @notice Registers an enclave signer of a real TEE on the countersignatures of at least
    /// `auditorThreshold` distinct trusted auditors. The attestation names its operator, which must
    /// be the caller (`EnclaveRegistryOperatorMismatch` otherwise): the auditors sign the operator
    /// together with the signer, so a copy of the attestation taken from the mempool registers
    /// nothing for the copier, and changing the operator breaks every auditor signature.
    /// @param att The attestation the auditors signed.
    /// @param auditorSignatures 65-byte ECDSA signatures over the attestation's EIP-712 digest.
    function registerAttestedEnclave(EnclaveAttestation calldata att, bytes[] calldata auditorSignatures) external;

    /// @notice Revokes an enclave signer for good. Owner only.
    /// @param signer The signer.
    function revokeSigner(address signer) external;

    /// @notice Retires an enclave signer for good. Its operator only.
    /// @param signer The signer.
    function retireSigner(address signer) external;

    /// @notice Trusts or untrusts an auditor key. Owner only.
    /// @param auditor The auditor's address.
    /// @param trusted Whether its countersignatures count.
    function setAuditor(address auditor, bool trusted) external;

    /// @notice Sets how many distinct auditors must countersign. Owner only. Zero disables the path.
    /// @param threshold The number of signatures.
    function setAuditorThreshold(uint8 threshold) external;

    /// @notice The operator and measurement of an enclave signer that is accepted now: active,
    /// unexpired, its operator bonded (`IOperatorBonds.isBonded`), its measurement allowed and its
    /// root (if any) trusted. Reverts with a named error saying which of those fails
    /// (`OperatorBondsNotBonded` for an operator below the minimum bond).
    /// @param signer The signer.
    /// @return operator The account that receives the signer's fees.
    /// @return measurement The signer's runner measurement.
    function activeEnclave(address signer) external view returns (address operator, bytes32 measurement);

    /// @notice Stamps an active signer with the current revocation epoch after checking that its
    /// measurement is still allowed, its root still trusted and its operator bonded, so that
    /// `activeEnclave` skips those cold reads again (three or four, 6,300-8,400 gas) until the
    /// epoch next moves. Anyone may call it; it changes nothing else, and a signer that fails a
    /// check reverts as in `activeEnclave`. Registration and renewal stamp the epoch too (a signer
    /// registered while its operator was short of the minimum bond is stamped so that it needs a
    /// refresh). Does nothing if the signer is current.
    /// @param signer The signer.
    function refreshSigner(address signer) external;

    /// @notice The stored record of a signer (all zero if never registered).
    /// @param signer The signer.
    function getEnclave(address signer) external view returns (Enclave memory);

    /// @notice Moves by one on every revocation of a measurement or a root
    /// (`setMeasurementAllowed(m, false)`, `revokeRoot`) and every fall of a serving operator's bond
    /// below the minimum (an unbond across it, a slash, a raise of `minBond`). A signer stamped with
    /// the current epoch needs none of its measurement, root and bond re-checked.
    function revocationEpoch() external view returns (uint32);

    /// @notice A vendor root (all zero if never added).
    /// @param rootId The root.
    function getRoot(bytes32 rootId) external view returns (Root memory);

    /// @notice Whether a runner measurement is allowed.
    /// @param measurement The measurement.
    function isMeasurementAllowed(bytes32 measurement) external view returns (bool);

    /// @notice Whether an auditor's countersignatures count.
    /// @param auditor The auditor's address.
    function isAuditor(address auditor) external view returns (bool);

    /// @notice Number of distinct auditor signatures `registerAttestedEnclave` needs.
    function auditorThreshold() external view returns (uint8);

    /// @notice Maximum age of a development-platform report at registration, in seconds.
    function maxReportAge() external view returns (uint64);

    /// @notice The EIP-712 digest auditors sign for `att` (domain "EnclaveRegistry", version "1").
    /// @param att The attestation.
    function attestationDigest(EnclaveAttestation calldata att) external view returns (bytes32);
}
