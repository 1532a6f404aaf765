// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IInferenceOracle} from "../interfaces/IInferenceOracle.sol";
import {InferenceConsumer} from "../InferenceConsumer.sol";
import {OracleTypes} from "../libraries/OracleTypes.sol";

/// @title IrisClassifierConsumer
/// @notice Example consumer: asks an iris classifier (4 features in, 3 class scores out, fixed
/// point) for the species of a flower and stores the predicted class, the argmax of the scores.
contract IrisClassifierConsumer is InferenceConsumer {
    /// @notice Number of class scores the model returns.
    uint256 public constant CLASS_COUNT = 3;
    /// @notice Number of features the model takes.
    uint256 public constant FEATURE_COUNT = 4;

    /// @notice The classifier's model id in the ModelRegistry.
    uint256 public immutable MODEL_ID;

    /// @notice Gas the callback asks for; argmax of 3 values and one store need far less.
    uint32 public constant CALLBACK_GAS_LIMIT = 100_000;

    /// @notice Predicted class + 1 per request (0 = no result yet).
    mapping(uint256 requestId => uint256) private _classPlusOne;

    /// @notice A classification was requested.
    /// @param requestId The oracle's request id.
    /// @param requester Who asked.
    event ClassificationRequested(uint256 indexed requestId, address indexed requester);

    /// @notice A flower was classified.
    /// @param requestId The request.
    /// @param predictedClass Index of the highest score (0 setosa, 1 versicolor, 2 virginica).
    event IrisClassified(uint256 indexed requestId, uint256 predictedClass);

    /// @notice The runner reported a failure, or the output had the wrong size.
    /// @param requestId The request.
    /// @param status The result status.
    event ClassificationFailed(uint256 indexed requestId, uint8 status);

    /// @notice No prediction for this request (yet). Selector 0x7bdd2fa0.
    /// @param requestId The request.
    error IrisClassifierNoPrediction(uint256 requestId);

    /// @param oracle The InferenceOracle.
    /// @param modelId The iris classifier's model id.
    constructor(IInferenceOracle oracle, uint256 modelId) InferenceConsumer(oracle) {
        MODEL_ID = modelId;
    }

    /// @notice Requests a classification of one flower; the caller pays the fee and the gas
    /// prepayment (see the oracle's `quote`; excess stays here and funds later requests).
    /// @param features Sepal length, sepal width, petal length, petal width, fixed point.
    /// @param deadline Unix time after which the request expires.
    /// @param maxFee The most the caller agrees to pay in fees: the request reverts if the model's
    /// fee is above it when it is made.
    /// @param maxGasPrice Wei per gas the relaying operator may be reimbursed at most.
    /// @return requestId The oracle's request id.
    function classify(int256[FEATURE_COUNT] calldata features, uint64 deadline, uint96 maxFee, uint64 maxGasPrice)
        external
        payable
        returns (uint256 requestId)
    {
        int256[] memory input = new int256[](FEATURE_COUNT);
        for (uint256 i = 0; i < FEATURE_COUNT; ++i) {
            input[i] = features[i];
        }
        requestId = _requestInference(
            MODEL_ID,
            abi.encode(input),
            IInferenceOracle.RequestOptions({
                callbackGasLimit: CALLBACK_GAS_LIMIT,
                deadline: deadline,
                redundancy: 1,
                maxFee: maxFee,
                maxGasPrice: maxGasPrice
            })
        );
        emit ClassificationRequested(requestId, msg.sender);
    }

    /// @notice The predicted class of a fulfilled request.
    /// @param requestId The request.
    function predictedClass(uint256 requestId) external view returns (uint256) {
        uint256 stored = _classPlusOne[requestId];
        if (stored == 0) revert IrisClassifierNoPrediction(requestId);
        return stored - 1;
    }

    function _onInferenceResult(uint256 requestId, bytes calldata output, uint8 status) internal override {
        if (status != uint8(OracleTypes.ResultStatus.Ok)) {
            emit ClassificationFailed(requestId, status);
            return;
        }
        int256[] memory scores = abi.decode(output, (int256[]));
        if (scores.length != CLASS_COUNT) {
            emit ClassificationFailed(requestId, status);
            return;
        }
        uint256 best = 0;
        for (uint256 i = 1; i < CLASS_COUNT; ++i) {
            if (scores[i] > scores[best]) best = i;
        }
        _classPlusOne[requestId] = best + 1;
        emit IrisClassified(requestId, best);
    }
}
