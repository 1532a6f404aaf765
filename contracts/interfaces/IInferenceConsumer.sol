// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IInferenceConsumer
/// @notice What the InferenceOracle calls when a request becomes final.
interface IInferenceConsumer {
    /// @notice Receives a final result. Called once per request, by the oracle only, with exactly
    /// the callback gas limit of the request. A revert here does not undo the fulfilment.
    /// @param requestId The request.
    /// @param output `abi.encode(int256[])` of the model's output when status is Ok, else empty.
    /// @param status `OracleTypes.ResultStatus` of the result.
    function onInferenceResult(uint256 requestId, bytes calldata output, uint8 status) external;
}
