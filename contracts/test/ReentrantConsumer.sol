// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IInferenceOracle} from "../interfaces/IInferenceOracle.sol";
import {InferenceConsumer} from "../InferenceConsumer.sol";
import {Forwarder} from "./Forwarder.sol";

/// @title ReentrantConsumer
/// @notice TEST ONLY. An attacker: in its callback it replays a call into the oracle (e.g. the
/// same fulfilment, to be paid or called back twice), and on receiving ether it calls `withdraw`
/// again (to be paid twice). It records what its re-entries returned.
contract ReentrantConsumer is InferenceConsumer, Forwarder {
    /// @notice Calldata replayed against the oracle inside the callback.
    bytes public replay;
    /// @notice Whether `receive` re-enters `withdraw`.
    bool public reenterWithdraw;
    /// @notice Number of callbacks received.
    uint256 public callbackCount;
    /// @notice Whether the last re-entry succeeded, and what it returned (revert data if not).
    bool public reentrySucceeded;
    bytes public reentryResult;

    constructor(IInferenceOracle oracle) InferenceConsumer(oracle) {}

    /// @notice Sets the oracle call to replay from the callback.
    function arm(bytes calldata data) external {
        replay = data;
    }

    /// @notice Makes `receive` re-enter `withdraw`.
    function armWithdraw(bool on) external {
        reenterWithdraw = on;
    }

    /// @notice Requests an inference, paying the quote from this contract's balance.
    function request(uint256 modelId, bytes calldata input, IInferenceOracle.RequestOptions calldata options)
        external
        payable
        returns (uint256)
    {
        return _requestInference(modelId, input, options);
    }

    /// @notice Sends the armed calldata to `target` (e.g. to register an enclave as operator).
    function execute(address target) external {
        _forward(target, 0, replay);
    }

    /// @notice Withdraws this contract's oracle balance.
    function withdrawFromOracle() external {
        ORACLE.withdraw();
    }

    receive() external payable override {
        if (reenterWithdraw) {
            reenterWithdraw = false;
            (reentrySucceeded, reentryResult) = address(ORACLE).call(abi.encodeCall(IInferenceOracle.withdraw, ()));
        }
    }

    function _onInferenceResult(uint256, bytes calldata, uint8) internal override {
        ++callbackCount;
        (reentrySucceeded, reentryResult) = address(ORACLE).call(replay);
    }
}
