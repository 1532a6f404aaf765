// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Forwarder} from "./Forwarder.sol";

/// @title ReturnDataBombConsumer
/// @notice TEST ONLY. An attacker whose callback reverts with as much returndata as its gas
/// allows, so that a caller copying returndata would pay for megabytes of memory.
contract ReturnDataBombConsumer is Forwarder {
    /// @notice Bytes of returndata to revert with.
    uint256 public immutable BOMB_SIZE;

    constructor(uint256 bombSize) {
        BOMB_SIZE = bombSize;
    }

    /// @notice Requests an inference with this contract as requester.
    function request(address oracle, bytes calldata data) external payable {
        _forward(oracle, msg.value, data);
    }

    fallback() external {
        uint256 size = BOMB_SIZE;
        assembly {
            revert(0, size)
        }
    }
}
