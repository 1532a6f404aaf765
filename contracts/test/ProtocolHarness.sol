// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {AttestationReport} from "../libraries/AttestationReport.sol";
import {OracleTypes} from "../libraries/OracleTypes.sol";
import {TensorCodec} from "../libraries/TensorCodec.sol";

/// @title ProtocolHarness
/// @notice TEST ONLY. Exposes the Solidity encodings so tests can hold them equal to
/// `oracle/src/protocol`. Deployed with the domain name of the contract it imitates.
contract ProtocolHarness is EIP712 {
    /// @param name EIP-712 domain name ("InferenceOracle" or "EnclaveRegistry").
    constructor(string memory name) EIP712(name, "1") {}

    /// @notice EIP-712 struct hash of `InferenceResult`.
    function resultStructHash(uint256 requestId, bytes32 modelHash, bytes32 inputHash, bytes32 outputHash, uint8 status)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(OracleTypes.RESULT_TYPEHASH, requestId, modelHash, inputHash, outputHash, status));
    }

    /// @notice EIP-712 digest of one result under this contract's domain.
    function resultDigest(uint256 requestId, bytes32 modelHash, bytes32 inputHash, bytes32 outputHash, uint8 status)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(resultStructHash(requestId, modelHash, inputHash, outputHash, status));
    }

    /// @notice EIP-712 digest of a batch of result struct hashes under this contract's domain.
    function batchDigest(bytes32[] calldata structHashes) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(OracleTypes.BATCH_TYPEHASH, keccak256(abi.encodePacked(structHashes))))
        );
    }

    /// @notice Encodes a report as the platform signs it.
    function encodeReport(AttestationReport.Report calldata r) external pure returns (bytes memory) {
        return AttestationReport.encode(r);
    }

    /// @notice Decodes a report.
    function decodeReport(bytes calldata data) external pure returns (AttestationReport.Report memory) {
        return AttestationReport.decodeReport(data);
    }

    /// @notice Encodes a certificate as the root signs it.
    function encodeCertificate(AttestationReport.Certificate calldata c) external pure returns (bytes memory) {
        return AttestationReport.encode(c);
    }

    /// @notice sha256 of a report's encoding: what the platform key signs.
    function reportDigest(AttestationReport.Report calldata r) external pure returns (bytes32) {
        return sha256(AttestationReport.encode(r));
    }

    /// @notice sha256 of a certificate's encoding: what the root signs.
    function certificateDigest(AttestationReport.Certificate calldata c) external pure returns (bytes32) {
        return sha256(AttestationReport.encode(c));
    }

    /// @notice Root id of a P-256 key.
    function rootId(bytes32 x, bytes32 y) external pure returns (bytes32) {
        return AttestationReport.rootId(x, y);
    }

    /// @notice Whether `data` is canonical `abi.encode(int256[])` of `length` values.
    function isCanonicalTensor(bytes calldata data, uint256 length) external pure returns (bool) {
        return TensorCodec.isCanonical(data, length);
    }

    /// @notice Whether `data` is a well-formed input of `length` values in `encoding`.
    function isWellFormedInput(bytes calldata data, uint256 length, uint8 encoding) external pure returns (bool) {
        return TensorCodec.isWellFormedInput(data, length, encoding);
    }

    /// @notice The enum bounds and the report and certificate versions, to compare with constants.ts.
    function constants()
        external
        pure
        returns (uint8 maxResultStatus, uint8 maxTeeType, uint16 reportVersion, uint16 certificateVersion)
    {
        return (
            OracleTypes.MAX_RESULT_STATUS,
            OracleTypes.MAX_TEE_TYPE,
            OracleTypes.REPORT_VERSION,
            OracleTypes.CERTIFICATE_VERSION
        );
    }

    /// @notice The bounds of the model-spec enums and the basis-point whole, to compare with constants.ts.
    function modelConstants() external pure returns (uint8 maxInputEncoding, uint8 maxDeterminism, uint16 bps) {
        return (OracleTypes.MAX_INPUT_ENCODING, OracleTypes.MAX_DETERMINISM, OracleTypes.BPS);
    }
}
