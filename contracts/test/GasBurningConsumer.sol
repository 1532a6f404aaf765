// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Forwarder} from "./Forwarder.sol";

/// @title GasBurningConsumer
/// @notice TEST ONLY. An attacker whose callback burns all the gas it is given.
contract GasBurningConsumer is Forwarder {
    /// @notice Requests an inference with this contract as requester.
    function request(address oracle, bytes calldata data) external payable {
        _forward(oracle, msg.value, data);
    }

    fallback() external {
        assembly {
            for {} 1 {} {}
        }
    }
}
