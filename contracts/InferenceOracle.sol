// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IEnclaveRegistry} from "./interfaces/IEnclaveRegistry.sol";
import {IInferenceConsumer} from "./interfaces/IInferenceConsumer.sol";
import {IInferenceOracle} from "./interfaces/IInferenceOracle.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {ITypeAndVersion} from "./interfaces/ITypeAndVersion.sol";
import {OracleTypes} from "./libraries/OracleTypes.sol";
import {TensorCodec} from "./libraries/TensorCodec.sol";

/// @title InferenceOracle
/// @notice Requests, fees, result verification, callbacks and expiry. See {IInferenceOracle}.
contract InferenceOracle is IInferenceOracle, Ownable2Step, ReentrancyGuardTransient, EIP712 {
    // ---------------------------------------------------------------- constants

    bytes32 private constant _RESULT_TYPEHASH = keccak256(
        "InferenceResult(uint256 requestId,bytes32 modelHash,bytes32 inputHash,bytes32 outputHash,uint8 status)"
    );
    bytes32 private constant _BATCH_TYPEHASH = keccak256("InferenceBatch(bytes32[] results)");

    /// @dev Reported by `requestCommitment` for a fulfilled request, whose slot is cleared (zero):
    /// clearing earns the EIP-3529 refund (4,800 gas) on every fulfilment. A request id up to
    /// `_requestCount` with a zero slot is fulfilled; ids are never reused, so it cannot be
    /// mistaken for a new request.
    bytes32 private constant _FULFILLED = bytes32(uint256(2));
    /// @dev Stored for an expired request. A pending request stores its commitment hash, which
    /// equals it with probability 2^-255.
    bytes32 private constant _EXPIRED = bytes32(uint256(3));

    /// @notice Gas kept back, on top of the callback's limit, for the work between the gas check
    /// and the CALL (a cold EXTCODESIZE, the CALL itself). Same margin as Chainlink's
    /// `callWithExactGas`.
    uint256 public constant CALLBACK_GAS_RESERVE = 5_000;

    /// @dev See `_balances`.
    uint256 private constant _WITHDRAWN_MARK = 1 << 255;

    /// @notice Gas stipend of a pushed refund; a requester that needs more is credited instead.
    uint256 public constant REFUND_GAS_STIPEND = 30_000;

    // ---------------------------------------------------------------- immutables

    IModelRegistry private immutable _modelRegistry;
    IEnclaveRegistry private immutable _enclaveRegistry;

    // ---------------------------------------------------------------- storage

    /// @dev requestId => commitment hash (pending), zero (fulfilled, or never requested when the id
    /// is above `_requestCount`) or _EXPIRED.
    mapping(uint256 requestId => bytes32) private _requests;
    /// @dev Withdrawable ether (operators' fees, refunds a requester could not receive) in the low
    /// 255 bits; bit 255 (_WITHDRAWN_MARK) is set by a withdrawal, so that the slot stays non-zero
    /// and the operator's next fee is a non-zero -> non-zero write (2,900 gas) instead of a
    /// zero -> non-zero one (20,000 gas). Balances never come near 2^255 wei.
    mapping(address account => uint256) private _balances;
    /// @dev keccak256(requestId, outputHash, status) => (count << 160) | first operator; only for
    /// redundancy > 1 while pending. The first voter shares the slot with the count.
    mapping(bytes32 groupKey => uint256) private _groupHeads;
    /// @dev keccak256(requestId, outputHash, status) => index (>= 1) => operator.
    mapping(bytes32 groupKey => mapping(uint256 index => address)) private _groupVoters;
    /// @dev keccak256(requestId, operator) => whether the operator already counted (redundancy > 1).
    mapping(bytes32 voteKey => bool) private _voted;

    /// @dev One slot: the request counter and the option bounds, read together on every request.
    uint64 private _requestCount;
    uint32 private _minCallbackGasLimit;
    uint32 private _maxCallbackGasLimit;
    uint32 private _maxDeadlineDelay;
    uint8 private _maxRedundancy;

    // ---------------------------------------------------------------- constructor

    /// @param initialOwner The account that sets the option bounds.
    /// @param modelRegistry_ The model registry.
    /// @param enclaveRegistry_ The enclave registry.
    /// @param config_ The initial option bounds.
    constructor(
        address initialOwner,
        IModelRegistry modelRegistry_,
        IEnclaveRegistry enclaveRegistry_,
        Config memory config_
    ) Ownable(initialOwner) EIP712("InferenceOracle", "1") {
        _modelRegistry = modelRegistry_;
        _enclaveRegistry = enclaveRegistry_;
        _setConfig(config_);
    }

    // ---------------------------------------------------------------- requests

    /// @inheritdoc IInferenceOracle
    function requestInference(uint256 modelId, bytes calldata input, RequestOptions calldata options)
        external
        payable
        returns (uint256 requestId)
    {
        (bytes32 modelHash, uint256 fee) = _checkRequest(modelId, input, options);
        // Checked: 2^64 requests cannot be reached, but an overflow would silently reuse ids.
        requestId = ++_requestCount;
        _requests[requestId] = _commit(requestId, modelId, modelHash, input, fee, options);
        _emitRequested(requestId, modelId, modelHash, input, fee, options);
        // Last, after every effect: the refund may re-enter, and finds the request complete.
        if (msg.value > fee) _refund(msg.sender, msg.value - fee);
    }

    /// @inheritdoc IInferenceOracle
    function quote(uint256 modelId, RequestOptions calldata options) external view returns (uint256 fee) {
        (bytes32 modelHash,, uint96 modelFee, bool active) = _modelRegistry.requestTerms(modelId);
        if (modelHash == bytes32(0)) revert InferenceOracleUnknownModel(modelId);
        if (!active) revert InferenceOracleModelInactive(modelId);
        if (options.redundancy == 0 || options.redundancy > _maxRedundancy) {
            revert InferenceOracleInvalidRedundancy(options.redundancy, _maxRedundancy);
        }
        return uint256(modelFee) * options.redundancy;
    }

    // ---------------------------------------------------------------- results

    /// @inheritdoc IInferenceOracle
    function fulfil(RequestCommitment calldata request, bytes calldata output, uint8 status, bytes calldata signature)
        external
        nonReentrant
    {
        bytes32 outputHash = keccak256(output);
        bytes32 digest = _hashTypedDataV4(_resultStructHash(request, outputHash, status));
        address signer = ECDSA.recoverCalldata(digest, signature);
        (address operator, bytes32 measurement) = _enclaveRegistry.activeEnclave(signer);
        bytes4 problem = _check(request, output, status, operator, measurement);
        if (problem != bytes4(0)) _revertProblem(problem, request, status, operator, measurement);
        _accept(request, output, outputHash, status, signer, operator);
    }

    /// @inheritdoc IInferenceOracle
    function fulfilBatch(ResultSubmission[] calldata results, bytes calldata signature) external nonReentrant {
        uint256 n = results.length;
        if (n == 0) revert InferenceOracleEmptyBatch();
        bytes32[] memory outputHashes = new bytes32[](n);
        bytes32[] memory structHashes = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            outputHashes[i] = keccak256(results[i].output);
            structHashes[i] = _resultStructHash(results[i].request, outputHashes[i], results[i].status);
        }
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(_BATCH_TYPEHASH, _hashWords(structHashes))));
        address signer = ECDSA.recoverCalldata(digest, signature);
        (address operator, bytes32 measurement) = _enclaveRegistry.activeEnclave(signer);
        for (uint256 i = 0; i < n; ++i) {
            ResultSubmission calldata r = results[i];
            bytes4 problem = _check(r.request, r.output, r.status, operator, measurement);
            if (problem != bytes4(0)) {
                emit ResultSkipped(r.request.requestId, signer, problem);
            } else {
                _accept(r.request, r.output, outputHashes[i], r.status, signer, operator);
            }
        }
    }

    /// @inheritdoc IInferenceOracle
    function expire(RequestCommitment calldata request) external nonReentrant {
        uint256 requestId = request.requestId;
        bytes4 problem = _checkPending(request);
        if (problem != bytes4(0)) _revertProblem(problem, request, 0, address(0), bytes32(0));
        if (block.timestamp <= request.deadline) {
            revert InferenceOracleDeadlineNotReached(requestId, request.deadline);
        }
        _requests[requestId] = _EXPIRED;
        emit InferenceExpired(requestId, request.requester, request.fee);
        _refund(request.requester, request.fee);
    }

    // ---------------------------------------------------------------- balances

    /// @inheritdoc IInferenceOracle
    function withdraw() external nonReentrant {
        _withdraw(payable(msg.sender));
    }

    /// @inheritdoc IInferenceOracle
    function withdrawTo(address payable recipient) external nonReentrant {
        _withdraw(recipient);
    }

    // ---------------------------------------------------------------- owner

    /// @inheritdoc IInferenceOracle
    function setConfig(Config calldata config_) external onlyOwner {
        _setConfig(config_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IInferenceOracle
    function requestState(uint256 requestId) external view returns (uint8) {
        bytes32 stored = _requests[requestId];
        if (stored == bytes32(0)) {
            return uint8(_exists(requestId) ? OracleTypes.RequestState.Fulfilled : OracleTypes.RequestState.None);
        }
        if (stored == _EXPIRED) return uint8(OracleTypes.RequestState.Expired);
        return uint8(OracleTypes.RequestState.Pending);
    }

    /// @inheritdoc IInferenceOracle
    function requestCommitment(uint256 requestId) external view returns (bytes32) {
        bytes32 stored = _requests[requestId];
        return stored == bytes32(0) && _exists(requestId) ? _FULFILLED : stored;
    }

    /// @inheritdoc IInferenceOracle
    function commitmentHash(RequestCommitment calldata request) external pure returns (bytes32) {
        return keccak256(abi.encode(request));
    }

    /// @inheritdoc IInferenceOracle
    function balances(address account) external view returns (uint256) {
        return _balances[account] & ~_WITHDRAWN_MARK;
    }

    /// @inheritdoc IInferenceOracle
    function config() external view returns (Config memory) {
        return Config(_minCallbackGasLimit, _maxCallbackGasLimit, _maxDeadlineDelay, _maxRedundancy);
    }

    /// @inheritdoc IInferenceOracle
    function requestCount() external view returns (uint256) {
        return _requestCount;
    }

    /// @inheritdoc IInferenceOracle
    function agreementCount(uint256 requestId, bytes32 outputHash, uint8 status) external view returns (uint256) {
        return _groupHeads[_groupKey(requestId, outputHash, status)] >> 160;
    }

    /// @inheritdoc IInferenceOracle
    function modelRegistry() external view returns (address) {
        return address(_modelRegistry);
    }

    /// @inheritdoc IInferenceOracle
    function enclaveRegistry() external view returns (address) {
        return address(_enclaveRegistry);
    }

    /// @inheritdoc ITypeAndVersion
    function typeAndVersion() external pure returns (string memory) {
        return "InferenceOracle 1.0.0";
    }

    // ---------------------------------------------------------------- internal: requests

    /// @dev Validates model, input, options and payment; returns the model hash and the exact fee.
    function _checkRequest(uint256 modelId, bytes calldata input, RequestOptions calldata options)
        private
        view
        returns (bytes32 modelHash, uint256 fee)
    {
        (bytes32 hash, uint32 inputLength, uint96 modelFee, bool active) = _modelRegistry.requestTerms(modelId);
        if (hash == bytes32(0)) revert InferenceOracleUnknownModel(modelId);
        if (!active) revert InferenceOracleModelInactive(modelId);
        if (!TensorCodec.isCanonical(input, inputLength)) revert InferenceOracleMalformedInput(inputLength);
        _checkOptions(options);
        fee = uint256(modelFee) * options.redundancy;
        if (msg.value < fee) revert InferenceOracleInsufficientFee(msg.value, fee);
        return (hash, fee);
    }

    /// @dev keccak256(abi.encode(RequestCommitment)): for a struct of static fields that is the
    /// same encoding as the fields one after another.
    function _commit(
        uint256 requestId,
        uint256 modelId,
        bytes32 modelHash,
        bytes calldata input,
        uint256 fee,
        RequestOptions calldata options
    ) private view returns (bytes32) {
        return keccak256(
            abi.encode(
                requestId,
                modelId,
                msg.sender,
                modelHash,
                keccak256(input),
                fee,
                options.callbackGasLimit,
                options.deadline,
                options.redundancy
            )
        );
    }

    function _emitRequested(
        uint256 requestId,
        uint256 modelId,
        bytes32 modelHash,
        bytes calldata input,
        uint256 fee,
        RequestOptions calldata options
    ) private {
        emit InferenceRequested(
            requestId,
            modelId,
            msg.sender,
            modelHash,
            input,
            fee,
            options.callbackGasLimit,
            options.deadline,
            options.redundancy
        );
    }

    function _checkOptions(RequestOptions calldata options) private view {
        uint32 gasLimit = options.callbackGasLimit;
        if (gasLimit != 0 && (gasLimit < _minCallbackGasLimit || gasLimit > _maxCallbackGasLimit)) {
            revert InferenceOracleCallbackGasLimitOutOfBounds(gasLimit, _minCallbackGasLimit, _maxCallbackGasLimit);
        }
        if (options.deadline <= block.timestamp) revert InferenceOracleDeadlineInPast(options.deadline, block.timestamp);
        uint256 latest = block.timestamp + _maxDeadlineDelay;
        if (options.deadline > latest) revert InferenceOracleDeadlineTooFar(options.deadline, latest);
        if (options.redundancy == 0 || options.redundancy > _maxRedundancy) {
            revert InferenceOracleInvalidRedundancy(options.redundancy, _maxRedundancy);
        }
    }

    // ---------------------------------------------------------------- internal: results

    /// @dev EIP-712 struct hash of `InferenceResult`, as `resultStructHash` in eip712.ts.
    function _resultStructHash(RequestCommitment calldata request, bytes32 outputHash, uint8 status)
        private
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(_RESULT_TYPEHASH, request.requestId, request.modelHash, request.inputHash, outputHash, status)
        );
    }

    /// @dev Returns the selector of the error that makes a pending commitment unusable, or zero.
    function _checkPending(RequestCommitment calldata request) private view returns (bytes4) {
        bytes32 stored = _requests[request.requestId];
        if (stored == bytes32(0)) {
            return _exists(request.requestId)
                ? InferenceOracleAlreadyFulfilled.selector
                : InferenceOracleUnknownRequest.selector;
        }
        if (stored == _EXPIRED) return InferenceOracleAlreadyExpired.selector;
        if (stored != keccak256(abi.encode(request))) return InferenceOracleCommitmentMismatch.selector;
        return bytes4(0);
    }

    /// @dev Returns the selector of the error that keeps a signed result from being accepted, or
    /// zero. The signature has been checked; everything here is about this one item.
    function _check(
        RequestCommitment calldata request,
        bytes calldata output,
        uint8 status,
        address operator,
        bytes32 measurement
    ) private view returns (bytes4) {
        bytes4 problem = _checkPending(request);
        if (problem != bytes4(0)) return problem;
        if (block.timestamp > request.deadline) return InferenceOracleDeadlinePassed.selector;
        if (status > OracleTypes.MAX_RESULT_STATUS) return InferenceOracleInvalidStatus.selector;
        (uint32 outputLength, bool allowed) = _modelRegistry.servingTerms(request.modelId, measurement);
        if (!allowed) return InferenceOracleMeasurementNotAllowedForModel.selector;
        bool wellFormed = status == uint8(OracleTypes.ResultStatus.Ok)
            ? TensorCodec.isCanonical(output, outputLength)
            : output.length == 0;
        if (!wellFormed) return InferenceOracleMalformedOutput.selector;
        if (request.redundancy > 1 && _voted[_voteKey(request.requestId, operator)]) {
            return InferenceOracleAlreadySubmitted.selector;
        }
        return bytes4(0);
    }

    /// @dev Reverts with the error `problem` names, with its arguments.
    function _revertProblem(
        bytes4 problem,
        RequestCommitment calldata request,
        uint8 status,
        address operator,
        bytes32 measurement
    ) private pure {
        uint256 id = request.requestId;
        if (problem == InferenceOracleUnknownRequest.selector) revert InferenceOracleUnknownRequest(id);
        if (problem == InferenceOracleAlreadyFulfilled.selector) revert InferenceOracleAlreadyFulfilled(id);
        if (problem == InferenceOracleAlreadyExpired.selector) revert InferenceOracleAlreadyExpired(id);
        if (problem == InferenceOracleCommitmentMismatch.selector) revert InferenceOracleCommitmentMismatch(id);
        if (problem == InferenceOracleDeadlinePassed.selector) revert InferenceOracleDeadlinePassed(id, request.deadline);
        if (problem == InferenceOracleInvalidStatus.selector) revert InferenceOracleInvalidStatus(status);
        if (problem == InferenceOracleMeasurementNotAllowedForModel.selector) {
            revert InferenceOracleMeasurementNotAllowedForModel(request.modelId, measurement);
        }
        if (problem == InferenceOracleMalformedOutput.selector) revert InferenceOracleMalformedOutput(id);
        revert InferenceOracleAlreadySubmitted(id, operator);
    }

    /// @dev Records an accepted result. With redundancy 1 it is final at once; otherwise it counts
    /// toward its (outputHash, status) group and the request is final when a group reaches k.
    function _accept(
        RequestCommitment calldata request,
        bytes calldata output,
        bytes32 outputHash,
        uint8 status,
        address signer,
        address operator
    ) private {
        uint256 requestId = request.requestId;
        emit ResultSubmitted(requestId, signer, operator, outputHash, status);
        if (request.redundancy == 1) {
            delete _requests[requestId]; // fulfilled: see _FULFILLED
            _credit(operator, request.fee);
        } else if (!_vote(request, outputHash, status, operator)) {
            return;
        }
        emit InferenceFulfilled(requestId, outputHash, status, output);
        _callback(request, output, status);
    }

    /// @dev Counts the operator's vote; returns true (and pays the group) if it completes the quorum.
    /// Each group member gets fee / k; the operator completing the quorum also gets the remainder,
    /// so the credits always sum to the fee.
    function _vote(RequestCommitment calldata request, bytes32 outputHash, uint8 status, address operator)
        private
        returns (bool final_)
    {
        uint256 requestId = request.requestId;
        bytes32 groupKey = _groupKey(requestId, outputHash, status);
        uint256 head = _groupHeads[groupKey];
        uint256 count = head >> 160;
        uint256 k = request.redundancy;
        if (count + 1 < k) {
            if (count == 0) head = uint256(uint160(operator));
            else _groupVoters[groupKey][count] = operator;
            _groupHeads[groupKey] = head + (1 << 160);
            _voted[_voteKey(requestId, operator)] = true;
            return false;
        }
        delete _requests[requestId]; // fulfilled: see _FULFILLED
        uint256 share = request.fee / k;
        _credit(address(uint160(head)), share);
        for (uint256 i = 1; i < count; ++i) {
            _credit(_groupVoters[groupKey][i], share);
        }
        // fee - share * (k - 1) = share + (fee % k): the remainder goes to the completing operator.
        _credit(operator, request.fee - share * (k - 1));
        return true;
    }

    /// @dev Calls the requester's `onInferenceResult` with exactly `callbackGasLimit` gas.
    /// Reverts the whole submission if the relayer did not send enough gas for that, so a relayer
    /// cannot make a callback fail on purpose. Copies no returndata, so a consumer returning
    /// megabytes costs the oracle nothing; a revert or out-of-gas in the consumer is reported,
    /// not propagated: the fulfilment stands.
    function _callback(RequestCommitment calldata request, bytes calldata output, uint8 status) private {
        uint256 gasLimit = request.callbackGasLimit;
        if (gasLimit == 0) return;
        address target = request.requester;
        bytes memory payload = abi.encodeCall(IInferenceConsumer.onInferenceResult, (request.requestId, output, status));
        uint256 gasLeft = gasleft();
        // EIP-150: a CALL forwards at most 63/64 of what is left after its own cost. The callee gets
        // the full limit only if that share, after the reserve, exceeds the limit.
        if (gasLeft < CALLBACK_GAS_RESERVE || (gasLeft - CALLBACK_GAS_RESERVE) * 63 / 64 <= gasLimit) {
            revert InferenceOracleInsufficientGasForCallback(request.requestId, gasLeft, request.callbackGasLimit);
        }
        bool success;
        uint256 gasUsed;
        if (target.code.length != 0) {
            uint256 before = gasleft();
            assembly ("memory-safe") {
                // out and outsize 0: no returndata is copied (returndata bomb). Safe: payload is a
                // bytes array in memory, its data starts 32 bytes after its length word.
                success := call(gasLimit, target, 0, add(payload, 0x20), mload(payload), 0, 0)
            }
            gasUsed = before - gasleft();
        }
        emit CallbackCompleted(request.requestId, success, gasUsed);
    }

    // ---------------------------------------------------------------- internal: ether

    /// @dev Adds `amount` to the withdrawable balance of `account`.
    function _credit(address account, uint256 amount) private {
        // Safe: every credited wei is ether this contract holds (< 2^128), so the balance stays
        // below 2^255 and never reaches the mark bit, let alone overflows.
        unchecked {
            _balances[account] += amount;
        }
    }

    /// @dev Pushes a refund with a bounded stipend; credits the balance if the push fails, so a
    /// requester that rejects ether never blocks the caller.
    function _refund(address to, uint256 amount) private {
        if (!_send(to, amount, REFUND_GAS_STIPEND)) {
            _credit(to, amount);
            emit RefundCredited(to, amount);
        }
    }

    function _withdraw(address payable recipient) private {
        uint256 amount = _balances[msg.sender] & ~_WITHDRAWN_MARK;
        if (amount == 0) revert InferenceOracleNothingToWithdraw(msg.sender);
        _balances[msg.sender] = _WITHDRAWN_MARK; // stays non-zero: see _balances
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

    // ---------------------------------------------------------------- internal: misc

    function _setConfig(Config memory c) private {
        if (c.minCallbackGasLimit > c.maxCallbackGasLimit || c.maxRedundancy == 0 || c.maxDeadlineDelay == 0) {
            revert InferenceOracleInvalidConfig();
        }
        _minCallbackGasLimit = c.minCallbackGasLimit;
        _maxCallbackGasLimit = c.maxCallbackGasLimit;
        _maxDeadlineDelay = c.maxDeadlineDelay;
        _maxRedundancy = c.maxRedundancy;
        emit ConfigUpdated(c);
    }

    /// @dev Whether `requestId` was ever handed out (ids run from 1 to `_requestCount`).
    function _exists(uint256 requestId) private view returns (bool) {
        return requestId != 0 && requestId <= _requestCount;
    }

    function _groupKey(uint256 requestId, bytes32 outputHash, uint8 status) private pure returns (bytes32) {
        return keccak256(abi.encode(requestId, outputHash, status));
    }

    function _voteKey(uint256 requestId, address operator) private pure returns (bytes32) {
        return keccak256(abi.encode(requestId, operator));
    }

    /// @dev keccak256 of the words of a bytes32 array: EIP-712's encoding of a `bytes32[]` member.
    function _hashWords(bytes32[] memory words) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            // Safe: a memory bytes32[] is its length word followed by `length` words.
            h := keccak256(add(words, 0x20), shl(5, mload(words)))
        }
    }
}
