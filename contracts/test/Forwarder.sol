// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Forwarder
/// @notice TEST ONLY. Calls another contract as this one, and bubbles up its revert data as is.
abstract contract Forwarder {
    function _forward(address target, uint256 value, bytes memory data) internal {
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
