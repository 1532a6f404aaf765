// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Forwarder} from "./Forwarder.sol";

/// @notice Test account whose `receive` needs more gas than a pushed reward's stipend (a smart
/// wallet, say): rewards pushed to it are credited instead, and it withdraws them with full gas.
contract GasHungryReceiver is Forwarder {
    uint256 public received;

    /// @notice Forwards a call with this contract as sender.
    function call(address target, bytes calldata data) external payable {
        _forward(target, msg.value, data);
    }

    receive() external payable {
        if (gasleft() < 40_000) revert("needs more gas");
        received += msg.value;
    }
}
