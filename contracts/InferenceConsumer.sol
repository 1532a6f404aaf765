// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IInferenceConsumer} from "./interfaces/IInferenceConsumer.sol";
import {IInferenceOracle} from "./interfaces/IInferenceOracle.sol";

/// @title InferenceConsumer
/// @notice Base of a contract that asks the InferenceOracle for inferences. Inherit it, call
/// `_requestInference`, and override `_onInferenceResult`, which only the oracle can reach.
/// Requests are paid from this contract's balance: the fee, bounded by the `maxFee` the consumer
/// states in its options, and the gas prepayment at its `maxGasPrice`. Refunds of expired requests
/// are pushed back to it; the unused prepayment of a fulfilled request is credited to its balance
/// in the oracle, which `claimOracleBalance` (callable by anyone) brings home.
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

    /// @notice Pulls this contract's balance in the oracle (unused gas prepayments, refunds it
    /// could not receive) back into this contract. Anyone may call it: the ether can only come here.
    function claimOracleBalance() external {
        ORACLE.withdraw();
    }

    /// @notice Requests an inference, paying the oracle's quote (fee + gas prepayment) from this
    /// contract's balance. The oracle reverts with `InferenceOracleFeeAboveMax`, charging nothing,
    /// if the model's fee x redundancy is above `options.maxFee` at that moment (e.g. the publisher
    /// raised it in the same block): the consumer never pays more fee than it stated.
    /// @param modelId The model.
    /// @param input The model's input, in its input encoding.
    /// @param options Callback gas limit, deadline, redundancy, the fee bound and the gas price bound.
    /// @return requestId The oracle's request id.
    function _requestInference(uint256 modelId, bytes memory input, IInferenceOracle.RequestOptions memory options)
        internal
        returns (uint256 requestId)
    {
        uint256 total = ORACLE.quote(modelId, options);
        return ORACLE.requestInference{value: total}(modelId, input, options);
    }

    /// @notice Handles a final result. Runs with exactly the request's callback gas limit; a revert
    /// here is reported by the oracle (`InferenceFulfilled.callbackSuccess`) and does not undo the fulfilment.
    /// @param requestId The request.
    /// @param output `abi.encode(int256[])` of the output when status is Ok, else empty.
    /// @param status `OracleTypes.ResultStatus` of the result.
    function _onInferenceResult(uint256 requestId, bytes calldata output, uint8 status) internal virtual;
}
