// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IInferenceConsumer} from "./interfaces/IInferenceConsumer.sol";
import {IInferenceOracle} from "./interfaces/IInferenceOracle.sol";

/// @title InferenceConsumer
/// @notice Base of a contract that asks the InferenceOracle for inferences. Inherit it, call
/// `_requestInference`, and override `_onInferenceResult`, which only the oracle can reach.
/// The fee is paid from this contract's balance; refunds of expired requests come back to it.
abstract contract InferenceConsumer is IInferenceConsumer {
    /// @notice The oracle this consumer trusts for results.
    IInferenceOracle public immutable ORACLE;

    /// @notice A caller other than the oracle delivered a result. Selector 0x0f5b4695.
    /// @param caller The caller.
    error InferenceConsumerOnlyOracle(address caller);

    /// @param oracle The InferenceOracle.
    constructor(IInferenceOracle oracle) {
        ORACLE = oracle;
    }

    /// @notice Accepts refunds of expired requests and funding for fees.
    receive() external payable virtual {}

    /// @inheritdoc IInferenceConsumer
    function onInferenceResult(uint256 requestId, bytes calldata output, uint8 status) external {
        if (msg.sender != address(ORACLE)) revert InferenceConsumerOnlyOracle(msg.sender);
        _onInferenceResult(requestId, output, status);
    }

    /// @notice Requests an inference, paying exactly the oracle's quote from this contract's balance.
    /// @param modelId The model.
    /// @param input `abi.encode(int256[])` of the model's input length.
    /// @param options Callback gas limit, deadline and redundancy.
    /// @return requestId The oracle's request id.
    function _requestInference(uint256 modelId, bytes memory input, IInferenceOracle.RequestOptions memory options)
        internal
        returns (uint256 requestId)
    {
        uint256 fee = ORACLE.quote(modelId, options);
        return ORACLE.requestInference{value: fee}(modelId, input, options);
    }

    /// @notice Handles a final result. Runs with exactly the request's callback gas limit; a revert
    /// here is reported by the oracle (`CallbackCompleted`) and does not undo the fulfilment.
    /// @param requestId The request.
    /// @param output `abi.encode(int256[])` of the output when status is Ok, else empty.
    /// @param status `OracleTypes.ResultStatus` of the result.
    function _onInferenceResult(uint256 requestId, bytes calldata output, uint8 status) internal virtual;
}
