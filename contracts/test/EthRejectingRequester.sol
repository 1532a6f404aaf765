// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title EthRejectingRequester
/// @notice TEST ONLY. A requester that rejects every ether transfer, to show that its refunds are
/// credited instead of blocking `expire`, and that it can still withdraw them elsewhere.
contract EthRejectingRequester {
    /// @notice Forwards a call (e.g. requestInference) to the oracle with this contract as sender.
    function call(address oracle, bytes calldata data) external payable {
        (bool ok, bytes memory ret) = oracle.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }

    receive() external payable {
        revert("no ether");
    }
}
