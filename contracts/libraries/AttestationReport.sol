// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title AttestationReport
/// @notice Encoding of the development platform's attestation report and platform certificate,
/// byte for byte as `oracle/src/protocol/report.ts` (a test holds the two equal):
///
///   report      = abi.encode(uint16 version, uint8 teeType, bytes32 platformId, bytes32 measurement,
///                            address enclaveSigner, address operator, bytes32 runtime,
///                            uint64 issuedAt, uint64 expiresAt)                      (version 2)
///   certificate = abi.encode(uint16 version, bytes32 platformId, bytes32 platformKeyX,
///                            bytes32 platformKeyY, uint64 notBefore, uint64 notAfter) (version 1)
///
/// Both are signed with P-256 over their sha256. The platform is a SIMULATION of TEE hardware.
library AttestationReport {
    /// @notice A decoded attestation report.
    struct Report {
        /// @notice Layout version, `OracleTypes.REPORT_VERSION`.
        uint16 version;
        /// @notice `OracleTypes.TeeType` of the platform that produced the report.
        uint8 teeType;
        /// @notice Identifier of the platform; must equal the certificate's.
        bytes32 platformId;
        /// @notice sha256 measurement of the runner code and runtime identifiers.
        bytes32 measurement;
        /// @notice Address of the key the runner generated inside itself to sign results.
        address enclaveSigner;
        /// @notice The only account that may register the signer (and so be paid its fees): the
        /// operator the host was configured with. Binding it here is what stops another account
        /// from replaying the report to take the signer over.
        address operator;
        /// @notice sha256 of the runtime identifiers (Node major version, onnxruntime version).
        bytes32 runtime;
        /// @notice Unix time the platform issued the report.
        uint64 issuedAt;
        /// @notice Unix time after which the report (and the signer it binds) is no longer valid.
        uint64 expiresAt;
    }

    /// @notice A decoded platform certificate: the vendor root's statement about a platform key.
    struct Certificate {
        /// @notice Layout version, `OracleTypes.CERTIFICATE_VERSION`.
        uint16 version;
        /// @notice Identifier of the platform the key belongs to.
        bytes32 platformId;
        /// @notice x coordinate of the platform's P-256 key.
        bytes32 platformKeyX;
        /// @notice y coordinate of the platform's P-256 key.
        bytes32 platformKeyY;
        /// @notice Unix time from which the certificate is valid.
        uint64 notBefore;
        /// @notice Unix time until which the certificate is valid.
        uint64 notAfter;
    }

    /// @notice The layout version a report declares in its first word, read before decoding it, so
    /// that a report of another layout (version 1 is a word shorter) is rejected for its version
    /// rather than failing to decode. Zero if the data is shorter than a word or the word is no uint16.
    function versionOf(bytes calldata data) internal pure returns (uint16) {
        if (data.length < 32) return 0;
        uint256 word = uint256(bytes32(data[:32]));
        return word > type(uint16).max ? 0 : uint16(word);
    }

    /// @notice Decodes a report; reverts (ABI decoding) if a field is out of its type's range.
    function decodeReport(bytes calldata data) internal pure returns (Report memory r) {
        // Every field is static, so the struct is encoded inline: the same bytes as its fields
        // encoded one after the other, in declaration order (the layout above).
        r = abi.decode(data, (Report));
    }

    /// @notice Decodes a certificate; reverts (ABI decoding) if a field is out of its type's range.
    function decodeCertificate(bytes calldata data) internal pure returns (Certificate memory c) {
        (c.version, c.platformId, c.platformKeyX, c.platformKeyY, c.notBefore, c.notAfter) =
            abi.decode(data, (uint16, bytes32, bytes32, bytes32, uint64, uint64));
    }

    /// @notice The canonical encoding of a report (what the platform key signs the sha256 of).
    function encode(Report memory r) internal pure returns (bytes memory) {
        // A static struct encodes as its fields in order (see decodeReport).
        return abi.encode(r);
    }

    /// @notice The canonical encoding of a certificate (what the vendor root signs the sha256 of).
    function encode(Certificate memory c) internal pure returns (bytes memory) {
        return abi.encode(c.version, c.platformId, c.platformKeyX, c.platformKeyY, c.notBefore, c.notAfter);
    }

    /// @notice Identifier of a vendor root key: `keccak256(abi.encode(x, y))`.
    function rootId(bytes32 x, bytes32 y) internal pure returns (bytes32) {
        return keccak256(abi.encode(x, y));
    }
}
