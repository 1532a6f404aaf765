// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Forwarder} from "./Forwarder.sol";

/// @title EthRejectingRequester
/// @notice TEST ONLY. A requester that rejects every ether transfer, to show that its refunds are
/// credited instead of blocking `expire`, and that it can still withdraw them elsewhere.
contract EthRejectingRequester is Forwarder {
    /// @notice Forwards a call (e.g. requestInference) to the oracle with this contract as sender.
    function call(address oracle, bytes calldata data) external payable {
        _forward(oracle, msg.value, data);
    }

    receive() external payable {
        revert("no ether");
    }
}
