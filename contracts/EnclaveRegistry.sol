// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";
import {IEnclaveRegistry} from "./interfaces/IEnclaveRegistry.sol";
import {OperatorBonds} from "./OperatorBonds.sol";
import {ITypeAndVersion} from "./interfaces/ITypeAndVersion.sol";
import {AttestationReport} from "./libraries/AttestationReport.sol";
import {OracleTypes, P256Sig} from "./libraries/OracleTypes.sol";

/// @title EnclaveRegistry
/// @notice Which enclave signers the InferenceOracle accepts, and why. See {IEnclaveRegistry}.
/// @dev The development platform is a SIMULATION of TEE hardware; its reports are verified here in
/// full (two P-256 signatures). Real TEE evidence is verified off-chain by auditors. Operators'
/// bonds live here too ({OperatorBonds}): a signer is active only while its operator is bonded.
contract EnclaveRegistry is IEnclaveRegistry, Ownable2Step, EIP712, OperatorBonds {
    // ---------------------------------------------------------------- structs

    /// @dev Storage form of {Enclave}. Its first word holds everything `activeEnclave` needs but
    /// the measurement, including the revocation epoch at registration: while the registry's
    /// epoch has not moved since, no measurement or root was revoked and no serving operator's bond
    /// fell below the minimum, so the signer's measurement is still allowed, its root still trusted
    /// and its operator still bonded (all checked at registration) and the reads that would show it
    /// are skipped.
    struct EnclaveRecord {
        /// @dev See {Enclave-operator}.
        address operator;
        /// @dev See {Enclave-expiresAt}; saturated at 2^48 - 1 (year 8.9 million), which never comes.
        uint48 expiresAt;
        /// @dev See {Enclave-teeType}.
        uint8 teeType;
        /// @dev See {Enclave-status}.
        EnclaveStatus status;
        /// @dev `_revocationEpoch` when the signer was registered, renewed or refreshed.
        uint32 epoch;
        /// @dev See {Enclave-measurement}.
        bytes32 measurement;
        /// @dev See {Enclave-rootId}.
        bytes32 rootId;
    }

    // ---------------------------------------------------------------- constants

    /// @notice How far in the future a report's `issuedAt` may lie (clocks of platform and chain differ).
    uint64 public constant MAX_CLOCK_SKEW = 120;

    bytes32 private constant _ATTESTATION_TYPEHASH = keccak256(
        "EnclaveAttestation(address signer,address operator,bytes32 measurement,uint8 teeType,bytes32 evidenceHash,uint64 expiresAt)"
    );

    // ---------------------------------------------------------------- storage

    /// @dev Declared first: it shares a slot with {OperatorBonds}' minimum bond, which
    /// `activeEnclave` reads with it (see there). Incremented by every revocation of a measurement
    /// or a root (not of a signer: that is in the signer's own first word), and by every fall of a
    /// serving operator's bond below the minimum (`_onBondReduced`). 2^32 revocations, each
    /// an owner transaction, cannot be reached; the increment is checked all the same, as a wrap
    /// would revive revoked signers.
    uint32 private _revocationEpoch;
    mapping(address signer => EnclaveRecord) private _enclaves;
    mapping(bytes32 rootId => Root) private _roots;
    mapping(bytes32 measurement => bool) private _measurementAllowed;
    mapping(address auditor => bool) private _auditors;
    uint64 private _maxReportAge;
    uint8 private _auditorThreshold;
    /// @dev Operators that ever registered a signer: only a fall of their bond moves the epoch, so
    /// an account that never served cannot make every signer re-check its trust by bonding and
    /// unbonding.
    mapping(address operator => bool) private _servesEnclaves;

    // ---------------------------------------------------------------- constructor

    /// @param initialOwner The account that manages roots, measurements, auditors and revocations.
    /// @param maxReportAge_ Maximum age of a report at registration, in seconds.
    /// @param minBond_ Initial minimum operator bond, wei (see {OperatorBonds}).
    /// @param unbondingDelay_ Initial unbonding delay, seconds.
    constructor(address initialOwner, uint64 maxReportAge_, uint96 minBond_, uint32 unbondingDelay_)
        Ownable(initialOwner)
        EIP712("EnclaveRegistry", "1")
        OperatorBonds(minBond_, unbondingDelay_)
    {
        _setMaxReportAge(maxReportAge_);
    }

    // ---------------------------------------------------------------- owner functions

    /// @inheritdoc IEnclaveRegistry
    function addRoot(bytes32 x, bytes32 y) external onlyOwner returns (bytes32 rootId) {
        if (!P256.isValidPublicKey(x, y)) revert EnclaveRegistryInvalidRootKey(x, y);
        rootId = AttestationReport.rootId(x, y);
        RootStatus status = _roots[rootId].status;
        if (status == RootStatus.Trusted) revert EnclaveRegistryRootAlreadyAdded(rootId);
        // Revocation is final: re-adding the key would silently revive every signer it certified.
        if (status == RootStatus.Revoked) revert EnclaveRegistryRootRevoked(rootId);
        _roots[rootId] = Root({x: x, y: y, status: RootStatus.Trusted});
        emit RootAdded(rootId, x, y);
    }

    /// @inheritdoc IEnclaveRegistry
    function revokeRoot(bytes32 rootId) external onlyOwner {
        Root storage root = _roots[rootId];
        if (root.status == RootStatus.None) revert EnclaveRegistryUntrustedRoot(rootId);
        if (root.status == RootStatus.Revoked) revert EnclaveRegistryRootRevoked(rootId);
        root.status = RootStatus.Revoked;
        ++_revocationEpoch;
        emit RootRevoked(rootId);
    }

    /// @inheritdoc IEnclaveRegistry
    function setMeasurementAllowed(bytes32 measurement, bool allowed) external onlyOwner {
        _measurementAllowed[measurement] = allowed;
        // Allowing cannot stop a signer, so only disallowing moves the epoch.
        if (!allowed) ++_revocationEpoch;
        emit MeasurementAllowedUpdated(measurement, allowed);
    }

    /// @inheritdoc IEnclaveRegistry
    function setMaxReportAge(uint64 maxReportAge_) external onlyOwner {
        _setMaxReportAge(maxReportAge_);
    }

    /// @inheritdoc IEnclaveRegistry
    function revokeSigner(address signer) external onlyOwner {
        EnclaveStatus status = _enclaves[signer].status;
        if (status == EnclaveStatus.None) revert EnclaveRegistryUnknownSigner(signer);
        if (status >= EnclaveStatus.Revoked) revert EnclaveRegistrySignerRevoked(signer);
        _enclaves[signer].status = EnclaveStatus.Revoked;
        emit EnclaveRevoked(signer);
    }

    /// @inheritdoc IEnclaveRegistry
    function setAuditor(address auditor, bool trusted) external onlyOwner {
        _auditors[auditor] = trusted;
        emit AuditorUpdated(auditor, trusted);
    }

    /// @inheritdoc IEnclaveRegistry
    function setAuditorThreshold(uint8 threshold) external onlyOwner {
        _auditorThreshold = threshold;
        emit AuditorThresholdUpdated(threshold);
    }

    // ---------------------------------------------------------------- operator functions

    /// @inheritdoc IEnclaveRegistry
    function registerEnclave(
        bytes calldata report,
        P256Sig calldata reportSig,
        bytes calldata certificate,
        P256Sig calldata certSig,
        bytes32 rootId
    ) external returns (address signer) {
        AttestationReport.Certificate memory cert = _verifyCertificate(certificate, certSig, rootId);
        AttestationReport.Report memory r = _verifyReport(report, reportSig, cert);
        signer = r.enclaveSigner;
        _bind(
            signer,
            Enclave({
                operator: msg.sender,
                expiresAt: r.expiresAt < cert.notAfter ? r.expiresAt : cert.notAfter,
                teeType: r.teeType,
                status: EnclaveStatus.Active,
                measurement: r.measurement,
                rootId: rootId
            }),
            sha256(report)
        );
    }

    /// @inheritdoc IEnclaveRegistry
    function registerAttestedEnclave(EnclaveAttestation calldata att, bytes[] calldata auditorSignatures) external {
        // First, before any signature work: the auditors signed the operator, so a copy sent by
        // anyone else could never pass `_checkAuditors` anyway; this names the problem.
        if (att.operator != msg.sender) revert EnclaveRegistryOperatorMismatch(att.operator, msg.sender);
        if (att.teeType == uint8(OracleTypes.TeeType.DevSimulated) || att.teeType > OracleTypes.MAX_TEE_TYPE) {
            revert EnclaveRegistryUnsupportedTeeType(att.teeType);
        }
        if (att.expiresAt <= block.timestamp) revert EnclaveRegistryAttestationExpired(att.expiresAt, block.timestamp);
        if (!_measurementAllowed[att.measurement]) revert EnclaveRegistryMeasurementNotAllowed(att.measurement);
        _checkAuditors(_attestationDigest(att), auditorSignatures);
        _bind(
            att.signer,
            Enclave({
                operator: msg.sender,
                expiresAt: att.expiresAt,
                teeType: att.teeType,
                status: EnclaveStatus.Active,
                measurement: att.measurement,
                rootId: bytes32(0)
            }),
            att.evidenceHash
        );
    }

    /// @inheritdoc IEnclaveRegistry
    function retireSigner(address signer) external {
        EnclaveRecord storage e = _enclaves[signer];
        if (e.status == EnclaveStatus.None) revert EnclaveRegistryUnknownSigner(signer);
        if (e.operator != msg.sender) revert EnclaveRegistryNotOperator(signer, msg.sender);
        if (e.status >= EnclaveStatus.Revoked) revert EnclaveRegistrySignerRevoked(signer);
        if (e.status == EnclaveStatus.Retired) revert EnclaveRegistrySignerRetired(signer);
        e.status = EnclaveStatus.Retired;
        emit EnclaveRetired(signer, msg.sender);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IEnclaveRegistry
    function activeEnclave(address signer) external view returns (address operator, bytes32 measurement) {
        EnclaveRecord storage e = _enclaves[signer];
        bool current;
        (operator, current) = _checkSigner(signer, e);
        measurement = e.measurement;
        // The bond too is checked only when the epoch moved: every fall of a serving operator's bond
        // below the minimum moves it (`_onBondReduced`), so a current signer's operator is bonded.
        if (!current) {
            _checkTrust(e, measurement);
            _checkBonded(operator);
        }
    }

    /// @inheritdoc IEnclaveRegistry
    function refreshSigner(address signer) external {
        EnclaveRecord storage e = _enclaves[signer];
        (address operator, bool current) = _checkSigner(signer, e);
        if (current) return;
        _checkTrust(e, e.measurement);
        _checkBonded(operator);
        e.epoch = _revocationEpoch;
    }

    /// @inheritdoc IEnclaveRegistry
    function getEnclave(address signer) external view returns (Enclave memory) {
        EnclaveRecord storage e = _enclaves[signer];
        return Enclave({
            operator: e.operator,
            expiresAt: e.expiresAt,
            teeType: e.teeType,
            status: e.status,
            measurement: e.measurement,
            rootId: e.rootId
        });
    }

    /// @inheritdoc IEnclaveRegistry
    function revocationEpoch() external view returns (uint32) {
        return _revocationEpoch;
    }

    /// @inheritdoc IEnclaveRegistry
    function getRoot(bytes32 rootId) external view returns (Root memory) {
        return _roots[rootId];
    }

    /// @inheritdoc IEnclaveRegistry
    function isMeasurementAllowed(bytes32 measurement) external view returns (bool) {
        return _measurementAllowed[measurement];
    }

    /// @inheritdoc IEnclaveRegistry
    function isAuditor(address auditor) external view returns (bool) {
        return _auditors[auditor];
    }

    /// @inheritdoc IEnclaveRegistry
    function auditorThreshold() external view returns (uint8) {
        return _auditorThreshold;
    }

    /// @inheritdoc IEnclaveRegistry
    function maxReportAge() external view returns (uint64) {
        return _maxReportAge;
    }

    /// @inheritdoc IEnclaveRegistry
    function attestationDigest(EnclaveAttestation calldata att) external view returns (bytes32) {
        return _attestationDigest(att);
    }

    /// @inheritdoc ITypeAndVersion
    function typeAndVersion() external pure returns (string memory) {
        return "EnclaveRegistry 2.1.0";
    }

    // ---------------------------------------------------------------- internal

    /// @dev Root trusted -> certificate version and validity time -> root's P-256 signature.
    function _verifyCertificate(bytes calldata certificate, P256Sig calldata sig, bytes32 rootId)
        private
        view
        returns (AttestationReport.Certificate memory cert)
    {
        Root storage root = _roots[rootId];
        RootStatus status = root.status;
        if (status == RootStatus.None) revert EnclaveRegistryUntrustedRoot(rootId);
        if (status == RootStatus.Revoked) revert EnclaveRegistryRootRevoked(rootId);
        cert = AttestationReport.decodeCertificate(certificate);
        if (cert.version != OracleTypes.CERTIFICATE_VERSION) revert EnclaveRegistryUnsupportedVersion(cert.version);
        if (block.timestamp < cert.notBefore || block.timestamp > cert.notAfter) {
            revert EnclaveRegistryCertificateNotValid(cert.notBefore, cert.notAfter, block.timestamp);
        }
        if (!P256.verify(sha256(certificate), sig.r, sig.s, root.x, root.y)) {
            revert EnclaveRegistryInvalidCertificateSignature(rootId);
        }
    }

    /// @dev Version (read before decoding), operator, platform, platform key's P-256 signature, TEE
    /// type, measurement, freshness. The operator is the one the platform signed into the report
    /// (checked below, with the signature): a copy of someone else's report reverts, whoever sends it.
    function _verifyReport(
        bytes calldata report,
        P256Sig calldata sig,
        AttestationReport.Certificate memory cert
    ) private view returns (AttestationReport.Report memory r) {
        uint16 version = AttestationReport.versionOf(report);
        if (version != OracleTypes.REPORT_VERSION) revert EnclaveRegistryUnsupportedVersion(version);
        r = AttestationReport.decodeReport(report);
        if (r.operator != msg.sender) revert EnclaveRegistryOperatorMismatch(r.operator, msg.sender);
        if (r.platformId != cert.platformId) revert EnclaveRegistryPlatformMismatch(r.platformId, cert.platformId);
        if (!P256.verify(sha256(report), sig.r, sig.s, cert.platformKeyX, cert.platformKeyY)) {
            revert EnclaveRegistryInvalidReportSignature(r.platformId);
        }
        if (r.teeType != uint8(OracleTypes.TeeType.DevSimulated)) revert EnclaveRegistryUnsupportedTeeType(r.teeType);
        if (!_measurementAllowed[r.measurement]) revert EnclaveRegistryMeasurementNotAllowed(r.measurement);
        _checkFreshness(r.issuedAt, r.expiresAt);
    }

    function _checkFreshness(uint64 issuedAt, uint64 expiresAt) private view {
        if (issuedAt > block.timestamp + MAX_CLOCK_SKEW) revert EnclaveRegistryReportFromFuture(issuedAt, block.timestamp);
        // issuedAt may lie up to MAX_CLOCK_SKEW ahead; then the report is as fresh as can be.
        if (issuedAt < block.timestamp && block.timestamp - issuedAt > _maxReportAge) {
            revert EnclaveRegistryReportStale(issuedAt, block.timestamp, _maxReportAge);
        }
        if (expiresAt <= block.timestamp) revert EnclaveRegistryReportExpired(expiresAt, block.timestamp);
    }

    /// @dev Counts distinct trusted auditors; any untrusted or repeated signer reverts the call, so
    /// a relayer cannot pad the list. Signature lists are short (a handful), so O(n^2) is fine.
    function _checkAuditors(bytes32 digest, bytes[] calldata signatures) private view {
        uint8 threshold = _auditorThreshold;
        if (threshold == 0) revert EnclaveRegistryAuditorPathDisabled();
        if (signatures.length < threshold) revert EnclaveRegistryNotEnoughAuditors(signatures.length, threshold);
        address[] memory seen = new address[](signatures.length);
        for (uint256 i = 0; i < signatures.length; ++i) {
            address auditor = ECDSA.recoverCalldata(digest, signatures[i]);
            if (!_auditors[auditor]) revert EnclaveRegistryUntrustedAuditor(auditor);
            for (uint256 j = 0; j < i; ++j) {
                if (seen[j] == auditor) revert EnclaveRegistryDuplicateAuditor(auditor);
            }
            seen[i] = auditor;
        }
    }

    /// @dev Binds `signer` to the caller. A signer stays bound to its first operator for good:
    /// another account replaying the same report or attestation cannot take over its fees once it
    /// is registered. Before that, a development report and an auditors' attestation both name
    /// their operator (checked in `_verifyReport` and `registerAttestedEnclave`), so only that
    /// account can register them at all: a copy taken from the mempool registers nothing for the
    /// copier. The same operator may renew it with fresh evidence; a retired or revoked signer
    /// stays dead.
    /// `record.operator` is always msg.sender.
    function _bind(address signer, Enclave memory record, bytes32 evidenceHash) private {
        if (signer == address(0)) revert EnclaveRegistryZeroSigner();
        EnclaveRecord storage e = _enclaves[signer];
        EnclaveStatus status = e.status;
        if (status >= EnclaveStatus.Revoked) revert EnclaveRegistrySignerRevoked(signer);
        if (status == EnclaveStatus.Retired) revert EnclaveRegistrySignerRetired(signer);
        if (status == EnclaveStatus.Active && e.operator != msg.sender) {
            revert EnclaveRegistrySignerBoundToOtherOperator(signer, e.operator);
        }
        // The measurement was found allowed and the root trusted just now: stamp the current epoch,
        // if the operator is also bonded. Otherwise stamp one the registry never reaches again
        // (epochs only grow), so every use checks the bond until `refreshSigner` finds it there.
        uint32 epoch = _revocationEpoch;
        if (!_isBonded(msg.sender)) {
            unchecked {
                --epoch;
            }
        }
        if (!_servesEnclaves[msg.sender]) _servesEnclaves[msg.sender] = true;
        _enclaves[signer] = EnclaveRecord({
            operator: record.operator,
            expiresAt: record.expiresAt > type(uint48).max ? type(uint48).max : uint48(record.expiresAt),
            teeType: record.teeType,
            status: record.status,
            epoch: epoch,
            measurement: record.measurement,
            rootId: record.rootId
        });
        emit EnclaveRegistered(signer, msg.sender, record.measurement, record.teeType, record.expiresAt, evidenceHash);
    }

    function _attestationDigest(EnclaveAttestation calldata att) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    _ATTESTATION_TYPEHASH,
                    att.signer,
                    att.operator,
                    att.measurement,
                    att.teeType,
                    att.evidenceHash,
                    att.expiresAt
                )
            )
        );
    }

    function _setMaxReportAge(uint64 maxReportAge_) private {
        if (maxReportAge_ == 0) revert EnclaveRegistryZeroMaxReportAge();
        _maxReportAge = maxReportAge_;
        emit MaxReportAgeUpdated(maxReportAge_);
    }

    /// @dev Reverts unless the signer is active and unexpired (all from its first word); returns its
    /// operator and whether the registry's epoch is still the signer's own (nothing since needs a
    /// re-check: no measurement or root revoked, no serving operator's bond fallen short).
    function _checkSigner(address signer, EnclaveRecord storage e)
        private
        view
        returns (address operator, bool current)
    {
        uint256 head;
        assembly ("memory-safe") {
            // One SLOAD of the record's first word; reading the four fields through `e` makes the
            // compiler load it once per field. Layout (EnclaveRecord, low bits first): operator
            // 0-159, expiresAt 160-207, teeType 208-215, status 216-223, epoch 224-255.
            head := sload(e.slot)
        }
        EnclaveStatus status = EnclaveStatus(uint8(head >> 216));
        if (status != EnclaveStatus.Active) _revertInactive(signer, status);
        uint48 expiresAt = uint48(head >> 160);
        if (expiresAt < block.timestamp) revert EnclaveRegistrySignerExpired(signer, expiresAt);
        return (address(uint160(head)), uint32(head >> 224) == _revocationEpoch);
    }

    /// @dev Reverts unless the signer's measurement is allowed and its root (if any) trusted now:
    /// the check a signer needs once a revocation has moved the epoch past its own.
    function _checkTrust(EnclaveRecord storage e, bytes32 measurement) private view {
        if (!_measurementAllowed[measurement]) revert EnclaveRegistryMeasurementNotAllowed(measurement);
        bytes32 rootId = e.rootId;
        // Auditor-attested signers have no root (rootId zero); every other one needs its root trusted.
        if (rootId != bytes32(0) && _roots[rootId].status != RootStatus.Trusted) {
            revert EnclaveRegistryRootRevoked(rootId);
        }
    }

    /// @dev See {OperatorBonds-_onBondReduced}: moves the epoch, so that every signer checks its
    /// operator's bond again (and is refreshed by `refreshSigner`), if `operator` ever served (or is
    /// zero: the minimum was raised). The checked increment reverts after 2^32 moves, never reached.
    function _onBondReduced(address operator) internal override {
        if (operator == address(0) || _servesEnclaves[operator]) ++_revocationEpoch;
    }

    /// @dev See {OperatorBonds-_markSlashed}. Any registered signer can be slashed, whatever its
    /// status: retiring a key or having it revoked does not undo what it signed.
    function _markSlashed(address signer) internal override returns (address operator) {
        EnclaveRecord storage e = _enclaves[signer];
        EnclaveStatus status = e.status;
        if (status == EnclaveStatus.None) revert EnclaveRegistryUnknownSigner(signer);
        if (status == EnclaveStatus.Slashed) revert EnclaveRegistrySignerSlashed(signer);
        e.status = EnclaveStatus.Slashed;
        emit EnclaveRevoked(signer);
        return e.operator;
    }

    function _revertInactive(address signer, EnclaveStatus status) private pure {
        if (status >= EnclaveStatus.Revoked) revert EnclaveRegistrySignerRevoked(signer);
        if (status == EnclaveStatus.Retired) revert EnclaveRegistrySignerRetired(signer);
        revert EnclaveRegistryUnknownSigner(signer);
    }
}
