// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title GasBurningConsumer
/// @notice TEST ONLY. An attacker whose callback burns all the gas it is given.
contract GasBurningConsumer {
    /// @notice Requests an inference with this contract as requester.
    function request(address oracle, bytes calldata data) external payable {
        (bool ok, bytes memory ret) = oracle.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }

    fallback() external {
        assembly {
            for {} 1 {} {}
        }
    }
}
