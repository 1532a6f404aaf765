// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IInferenceOracle} from "../interfaces/IInferenceOracle.sol";
import {InferenceConsumer} from "../InferenceConsumer.sol";

/// @title RecordingConsumer
/// @notice TEST ONLY. A well-behaved consumer that records every result it receives.
contract RecordingConsumer is InferenceConsumer {
    /// @notice Number of callbacks received.
    uint256 public callbackCount;
    /// @notice The last result received.
    uint256 public lastRequestId;
    bytes public lastOutput;
    uint8 public lastStatus;

    /// @notice A result arrived.
    event ResultReceived(uint256 indexed requestId, bytes output, uint8 status);

    constructor(IInferenceOracle oracle) InferenceConsumer(oracle) {}

    /// @notice Requests an inference, paying from this contract's balance (fund it with the call).
    function request(uint256 modelId, bytes calldata input, IInferenceOracle.RequestOptions calldata options)
        external
        payable
        returns (uint256)
    {
        return _requestInference(modelId, input, options);
    }

    function _onInferenceResult(uint256 requestId, bytes calldata output, uint8 status) internal override {
        ++callbackCount;
        lastRequestId = requestId;
        lastOutput = output;
        lastStatus = status;
        emit ResultReceived(requestId, output, status);
    }
}
