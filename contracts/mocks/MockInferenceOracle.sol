// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IInferenceConsumer} from "../interfaces/IInferenceConsumer.sol";
import {IInferenceOracle} from "../interfaces/IInferenceOracle.sol";
import {OracleTypes} from "../libraries/OracleTypes.sol";

/// @title MockInferenceOracle — NOT FOR PRODUCTION
/// @notice A stand-in for the InferenceOracle in a consumer's UNIT TESTS: the same interface and
/// events, but no enclaves, no signatures and no model registry. The test answers each request
/// itself (`answer`, `answerWith`) or expires it (`expire` after the deadline, `expireNow` at
/// once); the mock then does what the oracle does — marks the request final, emits the same
/// events, and calls the consumer back with exactly the request's callback gas limit. It checks
/// the request options, the fee bound and the payment (fee + gas prepayment) like the oracle; it
/// accepts any input bytes and any model id (a model's fee is 0 unless `setModelFee` set one; no
/// publisher share). At an answer the fee goes to the answerer's balance and the whole gas
/// prepayment back to the requester's balance (`withdraw`, or `InferenceConsumer.claimOracleBalance`).
/// Anyone can answer: NEVER deploy it where real value is at stake. Integration tests belong on
/// the real contracts (`oracle dev`).
contract MockInferenceOracle is IInferenceOracle {
    /// @notice Request state, as `OracleTypes.RequestState`, by request id.
    mapping(uint256 requestId => uint8) private _state;
    /// @notice The commitment of each request.
    mapping(uint256 requestId => RequestCommitment) private _commitments;
    /// @notice Fee per enclave by model id (0 unless set).
    mapping(uint256 modelId => uint96) public modelFee;
    mapping(address account => uint256) private _balances;
    /// @notice The agreed result of each answered request (returned by `finalResult` when k > 1).
    mapping(uint256 requestId => bytes32) private _finalOutputHash;
    mapping(uint256 requestId => uint8) private _finalStatus;
    Config private _config = Config({
        minCallbackGasLimit: 10_000, maxCallbackGasLimit: 2_000_000, maxDeadlineDelay: 7 days, maxRedundancy: 8,
        resultGasOverhead: 150_000
    });
    uint256 private _requestCount;

    /// @notice Gas kept back before a callback, as the oracle does.
    uint256 public constant CALLBACK_GAS_RESERVE = 5_000;

    /// @notice The mock has no enclaves: answer with `answer` or `answerWith`. Selector 0x302d2a5e.
    error MockInferenceOracleNoEnclaves();

    /// @notice A model's fee was set for the mock.
    /// @param modelId The model.
    /// @param fee Fee per enclave in wei.
    event MockModelFeeSet(uint256 indexed modelId, uint96 fee);

    // ---------------------------------------------------------------- test controls

    /// @notice Sets the fee per enclave of a model (default 0).
    function setModelFee(uint256 modelId, uint96 fee) external {
        modelFee[modelId] = fee;
        emit MockModelFeeSet(modelId, fee);
    }

    /// @notice Answers a pending request with `values` (status Ok, output `abi.encode(values)`).
    function answer(uint256 requestId, int256[] calldata values) external {
        _finish(requestId, abi.encode(values), uint8(OracleTypes.ResultStatus.Ok));
    }

    /// @notice Answers a pending request with any output and status (e.g. a failure status and
    /// empty output, or a malformed output to test the consumer's decoding).
    function answerWith(uint256 requestId, bytes calldata output, uint8 status) external {
        if (status > OracleTypes.MAX_RESULT_STATUS) revert InferenceOracleInvalidStatus(status);
        _finish(requestId, output, status);
    }

    /// @notice Expires a pending request now, deadline or not (the real oracle waits for the
    /// deadline: see `expire`), refunding its fee to the requester.
    function expireNow(uint256 requestId) external {
        _checkPendingId(requestId);
        _expire(_commitments[requestId]);
    }

    /// @notice The commitment of a request, as `fulfil` and `expire` take it.
    function commitmentOf(uint256 requestId) external view returns (RequestCommitment memory) {
        if (_state[requestId] == 0) revert InferenceOracleUnknownRequest(requestId);
        return _commitments[requestId];
    }

    // ---------------------------------------------------------------- IInferenceOracle

    /// @inheritdoc IInferenceOracle
    function requestInference(uint256 modelId, bytes calldata input, RequestOptions calldata options)
        external
        payable
        returns (uint256 requestId)
    {
        _checkOptions(options);
        Quote memory q = _quote(modelId, options);
        if (q.fee > options.maxFee) revert InferenceOracleFeeAboveMax(q.fee, options.maxFee);
        if (msg.value < q.total) revert InferenceOracleInsufficientFee(msg.value, q.total);
        requestId = ++_requestCount;
        _commitments[requestId] = RequestCommitment({
            requestId: requestId, modelId: modelId, requester: msg.sender, modelHash: bytes32(0),
            inputHash: keccak256(input), fee: q.fee, gasPrepayment: q.gasPrepayment, maxGasPrice: options.maxGasPrice,
            callbackGasLimit: options.callbackGasLimit, deadline: options.deadline, redundancy: options.redundancy
        });
        _state[requestId] = uint8(OracleTypes.RequestState.Pending);
        emit InferenceRequested(
            requestId, modelId, msg.sender, bytes32(0), input, q.fee, q.gasPrepayment, options.maxGasPrice,
            options.callbackGasLimit, options.deadline, options.redundancy
        );
        if (msg.value > q.total) _pay(msg.sender, msg.value - q.total);
    }

    /// @inheritdoc IInferenceOracle
    function quote(uint256 modelId, RequestOptions calldata options) external view returns (uint256 total) {
        return _quote(modelId, options).total;
    }

    /// @inheritdoc IInferenceOracle
    function quoteParts(uint256 modelId, RequestOptions calldata options) external view returns (Quote memory) {
        return _quote(modelId, options);
    }

    /// @notice Not available: the mock has no enclaves. Reverts with `MockInferenceOracleNoEnclaves`.
    function fulfil(RequestCommitment calldata, bytes calldata, uint8, bytes calldata) external pure {
        revert MockInferenceOracleNoEnclaves();
    }

    /// @notice Not available: the mock has no enclaves. Reverts with `MockInferenceOracleNoEnclaves`.
    function fulfilBatch(ResultSubmission[] calldata, bytes calldata) external pure {
        revert MockInferenceOracleNoEnclaves();
    }

    /// @inheritdoc IInferenceOracle
    function expire(RequestCommitment calldata request) external {
        _checkPendingId(request.requestId);
        if (keccak256(abi.encode(request)) != keccak256(abi.encode(_commitments[request.requestId]))) {
            revert InferenceOracleCommitmentMismatch(request.requestId);
        }
        if (block.timestamp <= request.deadline) revert InferenceOracleDeadlineNotReached(request.requestId, request.deadline);
        _expire(request);
    }

    /// @inheritdoc IInferenceOracle
    function withdraw() external {
        _withdraw(payable(msg.sender));
    }

    /// @inheritdoc IInferenceOracle
    function withdrawTo(address payable recipient) external {
        _withdraw(recipient);
    }

    /// @inheritdoc IInferenceOracle
    /// @dev Anyone may call it on the mock.
    function setConfig(Config calldata config_) external {
        if (
            config_.minCallbackGasLimit > config_.maxCallbackGasLimit || config_.maxRedundancy == 0
                || config_.maxDeadlineDelay == 0
        ) {
            revert InferenceOracleInvalidConfig();
        }
        _config = config_;
        emit ConfigUpdated(config_);
    }

    /// @inheritdoc IInferenceOracle
    function requestState(uint256 requestId) external view returns (uint8) {
        return _state[requestId];
    }

    /// @inheritdoc IInferenceOracle
    function requestCommitment(uint256 requestId) external view returns (bytes32) {
        uint8 s = _state[requestId];
        if (s == uint8(OracleTypes.RequestState.Pending)) return keccak256(abi.encode(_commitments[requestId]));
        return bytes32(uint256(s));
    }

    /// @inheritdoc IInferenceOracle
    function commitmentHash(RequestCommitment calldata request) external pure returns (bytes32) {
        return keccak256(abi.encode(request));
    }

    /// @inheritdoc IInferenceOracle
    function balances(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @inheritdoc IInferenceOracle
    function config() external view returns (Config memory) {
        return _config;
    }

    /// @inheritdoc IInferenceOracle
    function requestCount() external view returns (uint256) {
        return _requestCount;
    }

    /// @inheritdoc IInferenceOracle
    /// @dev Always 0: the mock counts no enclave votes.
    function agreementCount(uint256, bytes32, uint8) external pure returns (uint256) {
        return 0;
    }

    /// @inheritdoc IInferenceOracle
    /// @dev As the oracle: the answered result when the request's redundancy is above 1, else zero.
    function finalResult(uint256 requestId) external view returns (bytes32 outputHash, uint8 status) {
        if (_commitments[requestId].redundancy <= 1) return (bytes32(0), 0);
        return (_finalOutputHash[requestId], _finalStatus[requestId]);
    }

    /// @inheritdoc IInferenceOracle
    /// @dev The mock has no registry: address(0).
    function modelRegistry() external pure returns (address) {
        return address(0);
    }

    /// @inheritdoc IInferenceOracle
    /// @dev The mock has no registry: address(0).
    function enclaveRegistry() external pure returns (address) {
        return address(0);
    }

    /// @notice "MockInferenceOracle …", never "InferenceOracle …", so tools cannot mistake it.
    function typeAndVersion() external pure returns (string memory) {
        return "MockInferenceOracle 2.1.0 (NOT FOR PRODUCTION)";
    }

    // ---------------------------------------------------------------- internal

    /// @dev The oracle's formula: fee = model fee x k; prepayment = maxGasPrice x (callbackGasLimit
    /// + k x resultGasOverhead). The mock has no publisher share.
    function _quote(uint256 modelId, RequestOptions calldata o) private view returns (Quote memory q) {
        if (o.redundancy == 0 || o.redundancy > _config.maxRedundancy) {
            revert InferenceOracleInvalidRedundancy(o.redundancy, _config.maxRedundancy);
        }
        q.fee = uint256(modelFee[modelId]) * o.redundancy;
        q.operatorFee = q.fee;
        q.gasPrepayment =
            uint256(o.maxGasPrice) * (uint256(o.callbackGasLimit) + uint256(o.redundancy) * _config.resultGasOverhead);
        q.total = q.fee + q.gasPrepayment;
    }

    function _checkOptions(RequestOptions calldata o) private view {
        Config memory c = _config;
        if (o.callbackGasLimit != 0 && (o.callbackGasLimit < c.minCallbackGasLimit || o.callbackGasLimit > c.maxCallbackGasLimit)) {
            revert InferenceOracleCallbackGasLimitOutOfBounds(o.callbackGasLimit, c.minCallbackGasLimit, c.maxCallbackGasLimit);
        }
        if (o.deadline <= block.timestamp) revert InferenceOracleDeadlineInPast(o.deadline, block.timestamp);
        if (o.deadline > block.timestamp + c.maxDeadlineDelay) {
            revert InferenceOracleDeadlineTooFar(o.deadline, block.timestamp + c.maxDeadlineDelay);
        }
        if (o.redundancy == 0 || o.redundancy > c.maxRedundancy) revert InferenceOracleInvalidRedundancy(o.redundancy, c.maxRedundancy);
    }

    function _checkPendingId(uint256 requestId) private view {
        uint8 s = _state[requestId];
        if (s == uint8(OracleTypes.RequestState.None)) revert InferenceOracleUnknownRequest(requestId);
        if (s == uint8(OracleTypes.RequestState.Fulfilled)) revert InferenceOracleAlreadyFulfilled(requestId);
        if (s == uint8(OracleTypes.RequestState.Expired)) revert InferenceOracleAlreadyExpired(requestId);
    }

    /// @dev Final result: the fee goes to the caller's withdrawable balance (it plays the operator),
    /// the whole gas prepayment back to the requester's.
    function _finish(uint256 requestId, bytes memory output, uint8 status) private {
        _checkPendingId(requestId);
        RequestCommitment memory c = _commitments[requestId];
        _state[requestId] = uint8(OracleTypes.RequestState.Fulfilled);
        bytes32 outputHash = keccak256(output);
        (_finalOutputHash[requestId], _finalStatus[requestId]) = (outputHash, status);
        _balances[msg.sender] += c.fee;
        _balances[c.requester] += c.gasPrepayment;
        (bool success, uint256 gasUsed) = _callback(c, output, status);
        // Signer zero: nothing signed a mock result.
        emit InferenceFulfilled(requestId, address(0), status, success, gasUsed, c.gasPrepayment, output);
    }

    function _expire(RequestCommitment memory c) private {
        _state[c.requestId] = uint8(OracleTypes.RequestState.Expired);
        uint256 refund = c.fee + c.gasPrepayment;
        emit InferenceExpired(c.requestId, c.requester, refund);
        _pay(c.requester, refund);
    }

    /// @dev The oracle's callback: exactly the limit (checked per EIP-150), no returndata copied.
    /// A deliberate copy of `InferenceOracle._callback`, so consumers' unit tests meet the same gas
    /// semantics; a shared library was tried and costs the oracle ~110 gas per result, so the copy stays.
    function _callback(RequestCommitment memory c, bytes memory output, uint8 status)
        private
        returns (bool success, uint256 gasUsed)
    {
        uint256 gasLimit = c.callbackGasLimit;
        if (gasLimit == 0) return (false, 0);
        bytes memory payload = abi.encodeCall(IInferenceConsumer.onInferenceResult, (c.requestId, output, status));
        uint256 gasLeft = gasleft();
        if (gasLeft < CALLBACK_GAS_RESERVE || (gasLeft - CALLBACK_GAS_RESERVE) * 63 / 64 <= gasLimit) {
            revert InferenceOracleInsufficientGasForCallback(c.requestId, gasLeft, c.callbackGasLimit);
        }
        address target = c.requester;
        if (target.code.length != 0) {
            uint256 before = gasleft();
            assembly ("memory-safe") {
                // Safe: payload is a bytes array in memory; out and outsize 0 copy no returndata.
                success := call(gasLimit, target, 0, add(payload, 0x20), mload(payload), 0, 0)
            }
            gasUsed = before - gasleft();
        }
    }

    /// @dev Pushes ether with a bounded stipend; credits the balance if the recipient rejects it.
    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        if (!_send(to, amount, 30_000)) {
            _balances[to] += amount;
            emit RefundCredited(to, amount);
        }
    }

    function _withdraw(address payable recipient) private {
        uint256 amount = _balances[msg.sender];
        if (amount == 0) revert InferenceOracleNothingToWithdraw(msg.sender);
        _balances[msg.sender] = 0;
        emit Withdrawn(msg.sender, recipient, amount);
        if (!_send(recipient, amount, gasleft())) revert InferenceOracleTransferFailed(recipient, amount);
    }

    /// @dev Sends ether without copying returndata.
    function _send(address to, uint256 amount, uint256 gasLimit) private returns (bool success) {
        assembly ("memory-safe") {
            // No input, no output: nothing in memory is read or written.
            success := call(gasLimit, to, amount, 0, 0, 0, 0)
        }
    }
}
