// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TensorIO} from "../libraries/TensorIO.sol";

/// @notice Exposes `TensorIO` to the tests.
contract TensorIOHarness {
    function encodeInput(int256[] memory values, uint8 encoding) external pure returns (bytes memory) {
        return TensorIO.encodeInput(values, encoding);
    }

    function decode(bytes memory output) external pure returns (int256[] memory) {
        return TensorIO.decode(output);
    }

    function at(bytes calldata output, uint256 index) external pure returns (int256) {
        return TensorIO.at(output, index);
    }

    function length(bytes calldata output) external pure returns (uint256) {
        return TensorIO.length(output);
    }

    function argmax(int256[] memory values) external pure returns (uint256 index, int256 value) {
        return TensorIO.argmax(values);
    }
}
