// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title TensorCodec
/// @notice Validation of the on-chain tensor format, `abi.encode(int256[])`, without decoding it.
/// Every 32-byte word is a valid int256, so the encoding is canonical exactly when the head is
/// the offset 0x20, the length word equals the expected element count, and nothing follows the
/// last element. Checking that much keeps the check at a few hundred gas for any length.
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
}
