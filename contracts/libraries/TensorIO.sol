// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {OracleTypes} from "./OracleTypes.sol";

/// @title TensorIO
/// @notice What a consumer needs to build a model's input and read its output.
///
/// Output is always `abi.encode(int256[])` of the model's output length, fixed-point with the
/// model's `decimals` (value = v / 10^decimals). Input is `abi.encode(int256[])` (input encoding
/// 0) or, for a model registered with input encoding 1..4, the values packed big-endian as two's
/// complement signed integers of 1, 2, 4 or 8 bytes each (int8, int16, int32, int64).
library TensorIO {
    /// @notice Input encoding 0: `abi.encode(int256[])` (`OracleTypes.InputEncoding`, as are the next four).
    uint8 internal constant ENCODING_ABI_INT256 = uint8(OracleTypes.InputEncoding.AbiInt256);
    /// @notice Input encoding 1: packed int8.
    uint8 internal constant ENCODING_PACKED_INT8 = uint8(OracleTypes.InputEncoding.PackedInt8);
    /// @notice Input encoding 2: packed int16.
    uint8 internal constant ENCODING_PACKED_INT16 = uint8(OracleTypes.InputEncoding.PackedInt16);
    /// @notice Input encoding 3: packed int32.
    uint8 internal constant ENCODING_PACKED_INT32 = uint8(OracleTypes.InputEncoding.PackedInt32);
    /// @notice Input encoding 4: packed int64.
    uint8 internal constant ENCODING_PACKED_INT64 = uint8(OracleTypes.InputEncoding.PackedInt64);

    /// @notice The encoding is none of 0..4. Selector 0x4b4d68d2.
    /// @param encoding The encoding given.
    error TensorIOUnknownEncoding(uint8 encoding);

    /// @notice A value does not fit the packed width of the encoding. Selector 0xffd94d76.
    /// @param index Position of the value.
    /// @param value The value.
    /// @param encoding The encoding.
    error TensorIOValueOutOfRange(uint256 index, int256 value, uint8 encoding);

    /// @notice Index past the end of an encoded tensor. Selector 0xfe103c08.
    /// @param index The index asked for.
    /// @param length Number of values in the tensor.
    error TensorIOIndexOutOfRange(uint256 index, uint256 length);

    /// @notice The tensor has no values. Selector 0xa5d37dbb.
    error TensorIOEmpty();

    /// @notice `abi.encode(int256[])` of `values`: input encoding 0.
    function encode(int256[] memory values) internal pure returns (bytes memory) {
        return abi.encode(values);
    }

    /// @notice `values` in the model's input encoding (0 = `abi.encode(int256[])`, 1..4 = packed).
    function encodeInput(int256[] memory values, uint8 encoding) internal pure returns (bytes memory) {
        if (encoding == ENCODING_ABI_INT256) return abi.encode(values);
        return encodePacked(values, encoding);
    }

    /// @notice `values` packed big-endian, two's complement, 1/2/4/8 bytes each for encoding 1/2/3/4.
    /// Reverts with `TensorIOValueOutOfRange` for a value the width cannot hold.
    function encodePacked(int256[] memory values, uint8 encoding) internal pure returns (bytes memory out) {
        if (encoding < ENCODING_PACKED_INT8 || encoding > ENCODING_PACKED_INT64) revert TensorIOUnknownEncoding(encoding);
        uint256 width = 1 << (encoding - 1);
        uint256 bits = 8 * width;
        int256 max = int256((uint256(1) << (bits - 1)) - 1);
        int256 min = -max - 1;
        uint256 mask = (uint256(1) << bits) - 1;
        out = new bytes(values.length * width);
        for (uint256 i = 0; i < values.length; ++i) {
            int256 v = values[i];
            if (v < min || v > max) revert TensorIOValueOutOfRange(i, v, encoding);
            // Two's complement of v truncated to `bits`: exact because min <= v <= max.
            uint256 u = uint256(v) & mask;
            for (uint256 b = 0; b < width; ++b) {
                out[i * width + b] = bytes1(uint8(u >> (8 * (width - 1 - b))));
            }
        }
    }

    /// @notice The values of an output (`abi.encode(int256[])`).
    function decode(bytes memory output) internal pure returns (int256[] memory) {
        return abi.decode(output, (int256[]));
    }

    /// @notice Number of values of a canonical `abi.encode(int256[])` in calldata (the callback's
    /// `output`), without copying it to memory.
    function length(bytes calldata output) internal pure returns (uint256 n) {
        if (output.length < 64) return 0;
        assembly ("memory-safe") {
            // Safe: output.length >= 64, so the length word (second word) is inside `output`.
            n := calldataload(add(output.offset, 0x20))
        }
    }

    /// @notice Value `index` of an output in calldata, without decoding the whole array.
    /// The oracle only delivers canonical outputs (offset word 0x20, length word, values).
    function at(bytes calldata output, uint256 index) internal pure returns (int256 v) {
        uint256 n = length(output);
        if (index >= n || output.length < 64 + 32 * n) revert TensorIOIndexOutOfRange(index, n);
        assembly ("memory-safe") {
            // Safe: index < n and output holds 64 + 32 n bytes, so the word is inside `output`.
            v := calldataload(add(output.offset, add(0x40, mul(index, 0x20))))
        }
    }

    /// @notice Position and value of the largest value (the first one on ties): a classifier's class.
    function argmax(int256[] memory values) internal pure returns (uint256 index, int256 value) {
        if (values.length == 0) revert TensorIOEmpty();
        value = values[0];
        for (uint256 i = 1; i < values.length; ++i) {
            if (values[i] > value) (index, value) = (i, values[i]);
        }
    }
}
