// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {OracleTypes} from "./OracleTypes.sol";

/// @title TensorCodec
/// @notice Validation of the on-chain tensor formats without decoding them.
///
/// `abi.encode(int256[])`: every 32-byte word is a valid int256, so the encoding is canonical
/// exactly when the head is the offset 0x20, the length word equals the expected element count,
/// and nothing follows the last element.
///
/// Packed (`OracleTypes.InputEncoding` 1..4): big-endian two's complement integers of 1, 2, 4 or 8
/// bytes back to back. Every byte string of the right length is a valid packed tensor, so the
/// length is the whole check.
///
/// Either check costs a few hundred gas for any length.
library TensorCodec {
    /// @notice Whether `data` is the canonical `abi.encode(int256[])` of exactly `length` values.
    function isCanonical(bytes calldata data, uint256 length) internal pure returns (bool ok) {
        // Checked arithmetic: `length` comes from a uint32 registry field, so this cannot overflow,
        // but the check costs nothing measurable and keeps the function safe for any caller.
        if (data.length != 64 + 32 * length) return false;
        assembly ("memory-safe") {
            // Safe: data.length >= 64 was established above, so both words are inside `data`.
            ok := and(eq(calldataload(data.offset), 0x20), eq(calldataload(add(data.offset, 0x20)), length))
        }
    }

    /// @notice Whether `data` is a well-formed input of `length` values in `encoding`
    /// (`OracleTypes.InputEncoding`); false for an unknown encoding.
    function isWellFormedInput(bytes calldata data, uint256 length, uint8 encoding) internal pure returns (bool) {
        if (encoding == uint8(OracleTypes.InputEncoding.AbiInt256)) return isCanonical(data, length);
        if (encoding > OracleTypes.MAX_INPUT_ENCODING) return false;
        // Widths 1, 2, 4, 8 bytes for encodings 1..4.
        return data.length == length << (encoding - 1);
    }
}
