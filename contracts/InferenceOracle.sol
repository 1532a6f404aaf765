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
/// @notice Requests, fees, gas prepayment, result verification, callbacks and expiry. See {IInferenceOracle}.
contract InferenceOracle is IInferenceOracle, Ownable2Step, ReentrancyGuardTransient, EIP712 {
    // ---------------------------------------------------------------- structs

    /// @dev One submission being settled, in memory for one call: who signed it, what the model
    /// pays, and the gas figures its reimbursement is computed from.
    struct Submission {
        /// @dev The enclave signer that signed the result (or the batch).
        address signer;
        /// @dev The signer's operator: receives fees and gas reimbursement.
        address operator;
        /// @dev The signer's runner measurement.
        bytes32 measurement;
        /// @dev The model whose `servingTerms` for `measurement` the next three fields hold (zero:
        /// none yet). Read once per model per call: a batch's items mostly share one.
        uint256 termsModelId;
        /// @dev The model's output length.
        uint32 outputLength;
        /// @dev Whether the model allows `measurement`.
        bool allowed;
        /// @dev The model's publisher.
        address publisher;
        /// @dev The publisher's share of the fee, basis points.
        uint16 publisherShareBps;
        /// @dev gasleft() when this item's own work began.
        uint256 gasStart;
        /// @dev This item's share of the transaction's fixed gas (intrinsic, calldata, signature
        /// recovery).
        uint256 fixedGas;
        /// @dev This item's share of the one write of the operator's balance at the end, charged
        /// only to items that are paid (a vote that does not complete a quorum writes nothing).
        uint256 operatorWriteGas;
        /// @dev Wei owed to `operator` by this call, written to its balance once at the end.
        uint256 operatorCredit;
    }

    // ---------------------------------------------------------------- constants

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
    /// @dev Set in every `_votes` word, so a vote with a zero reimbursement is still recorded.
    uint256 private constant _VOTED = 1 << 255;

    /// @notice Gas stipend of a pushed refund; a requester that needs more is credited instead.
    uint256 public constant REFUND_GAS_STIPEND = 30_000;

    /// @dev Gas a transaction pays before any code runs (intrinsic) and per calldata byte. Every
    /// byte is counted at the non-zero price (EIP-2028): the relayer never pays more than this for
    /// its calldata; zero bytes cost it 12 less each (docs/economics.md).
    uint256 private constant _TX_BASE_GAS = 21_000;
    uint256 private constant _CALLDATA_GAS_PER_BYTE = 16;
    /// @dev Gas spent before the first `gasleft()` of `fulfil`/`fulfilBatch`: dispatch, calldata
    /// offsets, the reentrancy guard (test/contracts/fees.test.ts holds every reimbursement within
    /// 100-110 % of what the relayer's transaction cost).
    uint256 private constant _ENTRY_GAS = 1_000;
    /// @dev EIP-3529 refund for clearing a request's word at finality; the relayer gets it back.
    uint256 private constant _CLEAR_REFUND = 4_800;
    /// @dev An SSTORE to a slot already read in this transaction (EIP-2929/2200): from zero, else.
    uint256 private constant _SSTORE_SET_GAS = 20_000;
    uint256 private constant _SSTORE_RESET_GAS = 2_900;
    /// @dev `InferenceFulfilled`, emitted after the measurement: three topics and six data words
    /// (375 x 4 + 8 x 192, with its encoding), plus 8 gas for each byte of the output (padded to words).
    uint256 private constant _FULFILLED_EVENT_GAS = 3_400;
    /// @dev Gas given to each `activeEnclave` re-check of an earlier vote (it uses under 20,000).
    uint256 private constant _LIVENESS_CHECK_GAS = 50_000;

    // ---------------------------------------------------------------- immutables

    IModelRegistry private immutable _modelRegistry;
    IEnclaveRegistry private immutable _enclaveRegistry;

    // ---------------------------------------------------------------- storage

    /// @dev requestId => commitment hash (pending), zero (fulfilled, or never requested when the id
    /// is above `_requestCount`) or _EXPIRED.
    mapping(uint256 requestId => bytes32) private _requests;
    /// @dev Withdrawable ether (operators' fees and gas, publishers' shares, requesters' unused
    /// prepayments and refunds they could not receive) in the low 255 bits; bit 255
    /// (_WITHDRAWN_MARK) is set by a withdrawal, so that the slot stays non-zero and the account's
    /// next credit is a non-zero -> non-zero write (2,900 gas) instead of a zero -> non-zero one
    /// (20,000 gas). Balances never come near 2^255 wei.
    mapping(address account => uint256) private _balances;
    /// @dev keccak256(requestId, outputHash, status) => (count << 160) | first voter's signer; only
    /// for redundancy > 1 while pending.
    mapping(bytes32 groupKey => uint256) private _groupHeads;
    /// @dev keccak256(requestId, outputHash, status) => index (>= 1) => voter's signer.
    mapping(bytes32 groupKey => mapping(uint256 index => address)) private _groupVoters;
    /// @dev keccak256(requestId, operator) => _VOTED | the vote's gas cost in wei (its gas at its
    /// price), paid from the prepayment if the vote is among the final agreeing ones; zero if the
    /// operator has not voted (redundancy > 1).
    mapping(bytes32 voteKey => uint256) private _votes;
    /// @dev requestId => the agreed result of a request final with redundancy > 1: the output hash
    /// for status Ok, else the status itself (a failure's output is empty, so its hash is fixed).
    mapping(uint256 requestId => bytes32) private _finalResults;

    /// @dev One slot: the request counter and the option bounds, read together on every request.
    uint64 private _requestCount;
    uint32 private _minCallbackGasLimit;
    uint32 private _maxCallbackGasLimit;
    uint32 private _maxDeadlineDelay;
    uint8 private _maxRedundancy;
    uint32 private _resultGasOverhead;

    // ---------------------------------------------------------------- constructor

    /// @param initialOwner The account that sets the option bounds.
    /// @param modelRegistry_ The model registry.
    /// @param enclaveRegistry_ The enclave registry.
    /// @param config_ The initial option bounds and per-result gas overhead.
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
        (bytes32 modelHash, uint256 fee, uint256 prepayment) = _checkRequest(modelId, input, options);
        // Checked: 2^64 requests cannot be reached, but an overflow would silently reuse ids.
        requestId = ++_requestCount;
        _requests[requestId] = _commit(requestId, modelId, modelHash, keccak256(input), fee, prepayment, options);
        _emitRequested(requestId, modelId, modelHash, input, fee, prepayment, options);
        // Last, after every effect: the refund may re-enter, and finds the request complete.
        uint256 total = fee + prepayment;
        if (msg.value > total) _refund(msg.sender, msg.value - total);
    }

    /// @inheritdoc IInferenceOracle
    function quote(uint256 modelId, RequestOptions calldata options) external view returns (uint256 total) {
        return _quote(modelId, options).total;
    }

    /// @inheritdoc IInferenceOracle
    function quoteParts(uint256 modelId, RequestOptions calldata options) external view returns (Quote memory) {
        return _quote(modelId, options);
    }

    // ---------------------------------------------------------------- results

    /// @inheritdoc IInferenceOracle
    function fulfil(RequestCommitment calldata request, bytes calldata output, uint8 status, bytes calldata signature)
        external
        nonReentrant
    {
        uint256 gasStart = gasleft();
        bytes32 outputHash = keccak256(output);
        bytes32 digest = _hashTypedDataV4(_resultStructHash(request, outputHash, status));
        // The canonical ABI encoding: selector, 14 head words, output length word and padded
        // bytes, signature length word and 65 bytes padded to 96.
        uint256 canonicalBytes = 612 + _padded(output.length);
        Submission memory s = _submission(ECDSA.recoverCalldata(digest, signature), gasStart, 1, canonicalBytes);
        bytes4 problem = _check(request, output, status, s);
        if (problem != bytes4(0)) _revertProblem(problem, request, status, s);
        _accept(request, output, outputHash, status, s);
        if (s.operatorCredit != 0) _credit(s.operator, s.operatorCredit);
    }

    /// @inheritdoc IInferenceOracle
    function fulfilBatch(ResultSubmission[] calldata results, bytes calldata signature) external nonReentrant {
        uint256 gasStart = gasleft();
        uint256 n = results.length;
        if (n == 0) revert InferenceOracleEmptyBatch();
        bytes32[] memory outputHashes = new bytes32[](n);
        bytes32[] memory structHashes = new bytes32[](n);
        // The canonical ABI encoding: selector and two head words, the array's length word and the
        // signature (length word and 96 bytes), and per item its offset, 13 head words, the
        // output's length word and padded bytes.
        uint256 canonicalBytes = 228 + 480 * n;
        for (uint256 i = 0; i < n; ++i) {
            bytes calldata output = results[i].output;
            // Safe: a sum of calldata lengths.
            unchecked {
                canonicalBytes += _padded(output.length);
            }
            outputHashes[i] = keccak256(output);
            structHashes[i] = _resultStructHash(results[i].request, outputHashes[i], results[i].status);
        }
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(OracleTypes.BATCH_TYPEHASH, _hashWords(structHashes))));
        Submission memory s = _submission(ECDSA.recoverCalldata(digest, signature), gasStart, n, canonicalBytes);
        for (uint256 i = 0; i < n; ++i) {
            ResultSubmission calldata r = results[i];
            s.gasStart = gasleft();
            bytes4 problem = _check(r.request, r.output, r.status, s);
            if (problem != bytes4(0)) {
                emit ResultSkipped(r.request.requestId, s.signer, problem);
            } else {
                _accept(r.request, r.output, outputHashes[i], r.status, s);
            }
        }
        // One write for the whole batch: every item has the same signer, so the same operator.
        if (s.operatorCredit != 0) _credit(s.operator, s.operatorCredit);
    }

    /// @inheritdoc IInferenceOracle
    function expire(RequestCommitment calldata request) external nonReentrant {
        uint256 requestId = request.requestId;
        bytes4 problem = _checkPending(request);
        if (problem != bytes4(0)) _revertProblem(problem, request, 0, _noSubmission());
        if (block.timestamp <= request.deadline) {
            revert InferenceOracleDeadlineNotReached(requestId, request.deadline);
        }
        _requests[requestId] = _EXPIRED;
        // Nothing of the prepayment is spent while a request is pending (votes are reimbursed only
        // at finality), so all of it goes back.
        uint256 refund = request.fee + request.gasPrepayment;
        emit InferenceExpired(requestId, request.requester, refund);
        _refund(request.requester, refund);
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
        return Config(_minCallbackGasLimit, _maxCallbackGasLimit, _maxDeadlineDelay, _maxRedundancy, _resultGasOverhead);
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
    function finalResult(uint256 requestId) external view returns (bytes32 outputHash, uint8 status) {
        bytes32 word = _finalResults[requestId];
        if (word == bytes32(0) || uint256(word) > OracleTypes.MAX_RESULT_STATUS) return (word, 0);
        return (keccak256(""), uint8(uint256(word)));
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
        return "InferenceOracle 2.1.0";
    }

    // ---------------------------------------------------------------- internal: requests

    /// @dev Validates model, input, options, fee bound and payment; returns the model hash, the
    /// fee and the gas prepayment.
    function _checkRequest(uint256 modelId, bytes calldata input, RequestOptions calldata options)
        private
        view
        returns (bytes32 modelHash, uint256 fee, uint256 prepayment)
    {
        (bytes32 hash, uint32 inputLength, uint8 encoding, uint96 modelFee, bool active) =
            _modelRegistry.requestTerms(modelId);
        if (hash == bytes32(0)) revert InferenceOracleUnknownModel(modelId);
        if (!active) revert InferenceOracleModelInactive(modelId);
        if (!TensorCodec.isWellFormedInput(input, inputLength, encoding)) {
            revert InferenceOracleMalformedInput(inputLength, encoding);
        }
        _checkOptions(options);
        fee = uint256(modelFee) * options.redundancy;
        if (fee > options.maxFee) revert InferenceOracleFeeAboveMax(fee, options.maxFee);
        prepayment = _gasPrepayment(options);
        if (msg.value < fee + prepayment) revert InferenceOracleInsufficientFee(msg.value, fee + prepayment);
        return (hash, fee, prepayment);
    }

    /// @dev maxGasPrice x (callbackGasLimit + redundancy x resultGasOverhead); below 2^106, so the
    /// checked arithmetic never reverts.
    function _gasPrepayment(RequestOptions calldata options) private view returns (uint256) {
        uint256 gas = uint256(options.callbackGasLimit) + uint256(options.redundancy) * _resultGasOverhead;
        return uint256(options.maxGasPrice) * gas;
    }

    function _quote(uint256 modelId, RequestOptions calldata options) private view returns (Quote memory q) {
        (bytes32 modelHash,,, uint96 modelFee, bool active) = _modelRegistry.requestTerms(modelId);
        if (modelHash == bytes32(0)) revert InferenceOracleUnknownModel(modelId);
        if (!active) revert InferenceOracleModelInactive(modelId);
        if (options.redundancy == 0 || options.redundancy > _maxRedundancy) {
            revert InferenceOracleInvalidRedundancy(options.redundancy, _maxRedundancy);
        }
        // Measurement zero is never allowed (the registry refuses it), so this reads the model's
        // own publisher share.
        (,,, uint16 shareBps) = _modelRegistry.servingTerms(modelId, bytes32(0));
        q.fee = uint256(modelFee) * options.redundancy;
        q.publisherFee = q.fee * shareBps / OracleTypes.BPS;
        q.operatorFee = q.fee - q.publisherFee;
        q.gasPrepayment = _gasPrepayment(options);
        q.total = q.fee + q.gasPrepayment;
    }

    /// @dev keccak256(abi.encode(RequestCommitment)): for a struct of static fields that is the
    /// same encoding as the fields one after another.
    function _commit(
        uint256 requestId,
        uint256 modelId,
        bytes32 modelHash,
        bytes32 inputHash,
        uint256 fee,
        uint256 prepayment,
        RequestOptions calldata options
    ) private view returns (bytes32) {
        return keccak256(
            abi.encode(
                requestId,
                modelId,
                msg.sender,
                modelHash,
                inputHash,
                fee,
                prepayment,
                options.maxGasPrice,
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
        uint256 prepayment,
        RequestOptions calldata options
    ) private {
        emit InferenceRequested(
            requestId,
            modelId,
            msg.sender,
            modelHash,
            input,
            fee,
            prepayment,
            options.maxGasPrice,
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
        returns (bytes32 h)
    {
        bytes32 typeHash = OracleTypes.RESULT_TYPEHASH;
        uint256 requestId = request.requestId;
        bytes32 modelHash = request.modelHash;
        bytes32 inputHash = request.inputHash;
        assembly ("memory-safe") {
            // keccak256(abi.encode(typeHash, requestId, modelHash, inputHash, outputHash, status)),
            // encoded at the free memory pointer without advancing it (scratch), so a batch does not
            // grow memory by six words per item.
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), requestId)
            mstore(add(ptr, 0x40), modelHash)
            mstore(add(ptr, 0x60), inputHash)
            mstore(add(ptr, 0x80), outputHash)
            mstore(add(ptr, 0xa0), status)
            h := keccak256(ptr, 0xc0)
        }
    }

    /// @dev The submission of `signer` (reverts unless it is an active enclave), with the
    /// transaction's fixed gas shared among `n` items. The operator's balance is read here so its
    /// one write at the end is a known cost. Calldata is counted up to `canonicalBytes`, the size of
    /// the call's canonical ABI encoding: bytes a relayer appends (or gaps between non-canonical
    /// offsets) cost it gas but are not reimbursed out of the requester's prepayment.
    function _submission(address signer, uint256 gasStart, uint256 n, uint256 canonicalBytes)
        private
        view
        returns (Submission memory s)
    {
        (address operator, bytes32 measurement) = _enclaveRegistry.activeEnclave(signer);
        s.signer = signer;
        s.operator = operator;
        s.measurement = measurement;
        s.operatorWriteGas = _sstoreGas(_balances[operator]) / n;
        uint256 calldataBytes = msg.data.length < canonicalBytes ? msg.data.length : canonicalBytes;
        // Safe: calldata is far below 2^64 bytes, and gasleft() only fell since gasStart.
        unchecked {
            s.fixedGas =
                (_TX_BASE_GAS + _CALLDATA_GAS_PER_BYTE * calldataBytes + _ENTRY_GAS + (gasStart - gasleft())) / n;
        }
        s.gasStart = gasleft();
    }

    /// @dev A submission of nobody, for `_revertProblem` from `expire`.
    function _noSubmission() private pure returns (Submission memory s) {}

    /// @dev Returns the selector of the error that makes a pending commitment unusable, or zero.
    function _checkPending(RequestCommitment calldata request) private view returns (bytes4) {
        bytes32 stored = _requests[request.requestId];
        if (stored == bytes32(0)) {
            return _exists(request.requestId)
                ? InferenceOracleAlreadyFulfilled.selector
                : InferenceOracleUnknownRequest.selector;
        }
        if (stored == _EXPIRED) return InferenceOracleAlreadyExpired.selector;
        if (stored != _hashCommitment(request)) return InferenceOracleCommitmentMismatch.selector;
        return bytes4(0);
    }

    /// @dev keccak256(abi.encode(request)) straight from calldata, without the encoder's per-field
    /// range checks: a field with dirty high bits hashes differently from the clean commitment that
    /// was stored, so such a request fails the comparison above instead of reverting in the encoder.
    function _hashCommitment(RequestCommitment calldata request) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            // Safe: RequestCommitment is 11 static words laid out in calldata at `request`; they are
            // copied to the free memory pointer, which is not advanced (scratch use).
            let ptr := mload(0x40)
            calldatacopy(ptr, request, 352)
            h := keccak256(ptr, 352)
        }
    }

    /// @dev Returns the selector of the error that keeps a signed result from being accepted, or
    /// zero, and fills in the model's serving terms (once per model per call: within one
    /// transaction they are read as of its first item of that model, as the signer's registration
    /// is read once for the whole batch). The signature has been checked; the rest is about this item.
    function _check(RequestCommitment calldata request, bytes calldata output, uint8 status, Submission memory s)
        private
        view
        returns (bytes4)
    {
        bytes4 problem = _checkPending(request);
        if (problem != bytes4(0)) return problem;
        if (block.timestamp > request.deadline) return InferenceOracleDeadlinePassed.selector;
        if (status > OracleTypes.MAX_RESULT_STATUS) return InferenceOracleInvalidStatus.selector;
        uint256 modelId = request.modelId;
        if (s.termsModelId != modelId) {
            (s.outputLength, s.allowed, s.publisher, s.publisherShareBps) =
                _modelRegistry.servingTerms(modelId, s.measurement);
            s.termsModelId = modelId;
        }
        if (!s.allowed) return InferenceOracleMeasurementNotAllowedForModel.selector;
        bool wellFormed = status == uint8(OracleTypes.ResultStatus.Ok)
            ? TensorCodec.isCanonical(output, s.outputLength)
            : output.length == 0;
        if (!wellFormed) return InferenceOracleMalformedOutput.selector;
        if (request.redundancy > 1 && _votes[_voteKey(request.requestId, s.operator)] != 0) {
            return InferenceOracleAlreadySubmitted.selector;
        }
        return bytes4(0);
    }

    /// @dev Reverts with the error `problem` names, with its arguments.
    function _revertProblem(bytes4 problem, RequestCommitment calldata request, uint8 status, Submission memory s)
        private
        pure
    {
        uint256 id = request.requestId;
        if (problem == InferenceOracleUnknownRequest.selector) revert InferenceOracleUnknownRequest(id);
        if (problem == InferenceOracleAlreadyFulfilled.selector) revert InferenceOracleAlreadyFulfilled(id);
        if (problem == InferenceOracleAlreadyExpired.selector) revert InferenceOracleAlreadyExpired(id);
        if (problem == InferenceOracleCommitmentMismatch.selector) revert InferenceOracleCommitmentMismatch(id);
        if (problem == InferenceOracleDeadlinePassed.selector) revert InferenceOracleDeadlinePassed(id, request.deadline);
        if (problem == InferenceOracleInvalidStatus.selector) revert InferenceOracleInvalidStatus(status);
        if (problem == InferenceOracleMeasurementNotAllowedForModel.selector) {
            revert InferenceOracleMeasurementNotAllowedForModel(request.modelId, s.measurement);
        }
        if (problem == InferenceOracleMalformedOutput.selector) revert InferenceOracleMalformedOutput(id);
        revert InferenceOracleAlreadySubmitted(id, s.operator);
    }

    /// @dev Records an accepted result. With redundancy 1 it is final at once; otherwise it counts
    /// toward its (outputHash, status) group and the request is final when k still-active voters agree.
    function _accept(
        RequestCommitment calldata request,
        bytes calldata output,
        bytes32 outputHash,
        uint8 status,
        Submission memory s
    ) private {
        uint256 requestId = request.requestId;
        if (request.redundancy == 1) {
            delete _requests[requestId]; // fulfilled: see _FULFILLED
            (bool success, uint256 callbackGas) = _callback(request, output, status);
            uint256 operatorFee = request.fee - _payPublisher(request, s);
            uint256 refunded = _settle(request, s, operatorFee, request.gasPrepayment, 1, output.length);
            emit InferenceFulfilled(requestId, s.signer, status, success, callbackGas, refunded, output);
            return;
        }
        emit ResultSubmitted(requestId, s.signer, s.operator, outputHash, status);
        bytes32 groupKey = _groupKey(requestId, outputHash, status);
        (address[] memory voters, uint256 count) = _liveVoters(requestId, groupKey, request.redundancy);
        if (count + 1 < request.redundancy) {
            _recordVote(request, groupKey, count, s);
            return;
        }
        delete _requests[requestId]; // fulfilled: see _FULFILLED
        _finalResults[requestId] = status == uint8(OracleTypes.ResultStatus.Ok) ? outputHash : bytes32(uint256(status));
        (bool ok, uint256 gasUsed) = _callback(request, output, status);
        uint256 gasRefunded = _payQuorum(request, s, voters, output.length);
        emit InferenceFulfilled(requestId, s.signer, status, ok, gasUsed, gasRefunded, output);
    }

    /// @dev The operators of the group's earlier votes whose signers are still active, and their
    /// number. Only when the next vote would complete the quorum (count + 1 == k) are the signers
    /// checked; any that is no longer active is dropped from the group (`VoteDropped`), its operator
    /// freed to vote again. Otherwise `voters` is empty and only the count is returned.
    function _liveVoters(uint256 requestId, bytes32 groupKey, uint256 k)
        private
        returns (address[] memory voters, uint256 live)
    {
        uint256 head = _groupHeads[groupKey];
        uint256 count = head >> 160;
        if (count + 1 < k) return (voters, count);
        voters = new address[](count);
        address[] memory signers = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            address signer = i == 0 ? address(uint160(head)) : _groupVoters[groupKey][i];
            (address operator, bool active) = _liveOperator(requestId, signer);
            if (active) {
                voters[live] = operator;
                signers[live] = signer;
                ++live;
            } else {
                _dropVote(requestId, signer);
            }
        }
        if (live == count) return (voters, live);
        for (uint256 i = 0; i < live; ++i) {
            if (i == 0) head = uint160(signers[0]);
            else _groupVoters[groupKey][i] = signers[i];
        }
        _groupHeads[groupKey] = live == 0 ? 0 : (live << 160) | uint160(head);
    }

    /// @dev Whether `signer` is still an active enclave (not revoked, retired or expired, its
    /// measurement and root still trusted, its operator bonded), and its operator. A failed call means inactive, so a
    /// relayer must not be able to make it fail by starving it of gas: it gets a fixed allowance,
    /// several times what `activeEnclave` can use (seven cold reads at most), and the submission
    /// reverts if that much is not left.
    function _liveOperator(uint256 requestId, address signer) private view returns (address operator, bool active) {
        uint256 gasLeft = gasleft();
        // EIP-150: the call is given at most 63/64 of what is left after its own cost.
        if (gasLeft < _LIVENESS_CHECK_GAS * 64 / 63 + CALLBACK_GAS_RESERVE) {
            revert InferenceOracleInsufficientGasForVoteCheck(requestId, gasLeft);
        }
        try _enclaveRegistry.activeEnclave{gas: _LIVENESS_CHECK_GAS}(signer) returns (address op, bytes32) {
            return (op, true);
        } catch {
            return (address(0), false);
        }
    }

    /// @dev Forgets a vote that no longer counts: its operator is not paid for it and may vote again.
    function _dropVote(uint256 requestId, address signer) private {
        delete _votes[_voteKey(requestId, _enclaveRegistry.getEnclave(signer).operator)];
        emit VoteDropped(requestId, signer);
    }

    /// @dev Appends the vote as the group's `count`-th and records the operator's gas cost so far
    /// (paid only if the vote ends up among the final agreeing ones).
    function _recordVote(RequestCommitment calldata request, bytes32 groupKey, uint256 count, Submission memory s)
        private
    {
        if (count == 0) {
            _groupHeads[groupKey] = (1 << 160) | uint160(s.signer);
        } else {
            _groupVoters[groupKey][count] = s.signer;
            _groupHeads[groupKey] += 1 << 160;
        }
        bytes32 voteKey = _voteKey(request.requestId, s.operator);
        // The vote word is written after the measurement: a zero -> non-zero write of a slot that
        // `_check` read (warm).
        uint256 cost = _gasUsed(s, _SSTORE_SET_GAS) * _effectivePrice(request);
        _votes[voteKey] = _VOTED | (cost < request.gasPrepayment ? cost : request.gasPrepayment);
    }

    /// @dev Pays a quorum: the publisher's share, an equal share of the rest to each agreeing
    /// operator with the remainder to the completing one, and each agreeing vote's gas from the
    /// prepayment in the order the votes came. Returns the wei of the prepayment refunded.
    function _payQuorum(
        RequestCommitment calldata request,
        Submission memory s,
        address[] memory voters,
        uint256 outputLength
    ) private returns (uint256) {
        uint256 requestId = request.requestId;
        uint256 operatorFees = request.fee - _payPublisher(request, s);
        uint256 k = request.redundancy;
        uint256 share = operatorFees / k;
        uint256 left = request.gasPrepayment;
        for (uint256 i = 0; i < voters.length; ++i) {
            bytes32 voteKey = _voteKey(requestId, voters[i]);
            uint256 cost = _votes[voteKey] & ~_VOTED;
            delete _votes[voteKey]; // no longer needed once final: earns a refund
            uint256 reimbursed = cost < left ? cost : left;
            left -= reimbursed;
            _credit(voters[i], share + reimbursed);
        }
        // operatorFees - share * (k - 1) = share + (operatorFees % k): the remainder to the completer.
        return _settle(request, s, operatorFees - share * (k - 1), left, 1 + voters.length, outputLength);
    }

    /// @dev Credits the publisher its share of the fee; returns it.
    function _payPublisher(RequestCommitment calldata request, Submission memory s) private returns (uint256 fee) {
        // Safe: the fee is ether this contract received (< 2^128) and the share at most 10,000.
        unchecked {
            fee = request.fee * s.publisherShareBps / OracleTypes.BPS;
        }
        if (fee != 0) _credit(s.publisher, fee);
    }

    /// @dev Final settlement of the submission that made the request final: its operator is owed
    /// `operatorFee` and its gas out of `left` (what remains of the prepayment); the rest of the
    /// prepayment is credited back to the requester, and returned. `cleared` storage words were
    /// cleared by this item, each earning the relayer an EIP-3529 refund; the `InferenceFulfilled`
    /// log (with `outputLength` bytes of output) is emitted after the measurement.
    function _settle(
        RequestCommitment calldata request,
        Submission memory s,
        uint256 operatorFee,
        uint256 left,
        uint256 cleared,
        uint256 outputLength
    ) private returns (uint256 refunded) {
        address requester = request.requester;
        uint256 requesterBalance = _balances[requester]; // warms the slot: its write below is a known cost
        // Unchecked, each step safe: gas figures are below 2^64 and prices below 2^64 (maxGasPrice is
        // a uint64), so their product is below 2^128; the cleared words' refund is below the gas
        // used (see `_gasUsed`); reimbursed <= left; and every wei credited is ether this contract
        // holds (< 2^128), as in `_credit`.
        unchecked {
            uint256 tail = _FULFILLED_EVENT_GAS + (_padded(outputLength) >> 5) * 256 + _sstoreGas(requesterBalance)
                + s.operatorWriteGas;
            uint256 gasUsed = _gasUsed(s, tail) - cleared * _CLEAR_REFUND;
            uint256 cost = gasUsed * _effectivePrice(request);
            uint256 reimbursed = cost < left ? cost : left;
            refunded = left - reimbursed;
            s.operatorCredit += operatorFee + reimbursed;
            if (refunded != 0) _balances[requester] = requesterBalance + refunded;
        }
    }

    /// @dev Gas this item used so far, plus its share of the fixed gas and `tail` gas still to come
    /// after the measurement. Every word an item clears it first read cold and then wrote (≥ 5,000
    /// gas, measured here), more than the 4,800 it earns back, so `_settle`'s subtraction is safe.
    function _gasUsed(Submission memory s, uint256 tail) private view returns (uint256) {
        // Safe: gasleft() only falls after s.gasStart was taken, and every term is below 2^64.
        unchecked {
            return s.gasStart - gasleft() + s.fixedGas + tail;
        }
    }

    function _effectivePrice(RequestCommitment calldata request) private view returns (uint256) {
        return tx.gasprice < request.maxGasPrice ? tx.gasprice : request.maxGasPrice;
    }

    /// @dev Gas of an SSTORE to a slot already read in this transaction that holds `current`.
    function _sstoreGas(uint256 current) private pure returns (uint256) {
        return current == 0 ? _SSTORE_SET_GAS : _SSTORE_RESET_GAS;
    }

    /// @dev Calls the requester's `onInferenceResult` with exactly `callbackGasLimit` gas.
    /// Reverts the whole submission if the relayer did not send enough gas for that, so a relayer
    /// cannot make a callback fail on purpose. Copies no returndata, so a consumer returning
    /// megabytes costs the oracle nothing; a revert or out-of-gas in the consumer is reported
    /// (`success` false, in `InferenceFulfilled`), not propagated: the fulfilment stands.
    function _callback(RequestCommitment calldata request, bytes calldata output, uint8 status)
        private
        returns (bool success, uint256 gasUsed)
    {
        uint256 gasLimit = request.callbackGasLimit;
        if (gasLimit == 0) return (false, 0);
        address target = request.requester;
        uint256 requestId = request.requestId;
        bytes4 selector = IInferenceConsumer.onInferenceResult.selector;
        uint256 payload;
        uint256 size;
        assembly ("memory-safe") {
            // abi.encodeCall(onInferenceResult, (requestId, output, status)) written at the free
            // memory pointer, which is not advanced: nothing is allocated between here and the CALL
            // that reads it, and a batch does not grow memory by one payload per item.
            payload := mload(0x40)
            mstore(payload, selector)
            mstore(add(payload, 0x04), requestId)
            mstore(add(payload, 0x24), 0x60) // offset of `output` in the arguments
            mstore(add(payload, 0x44), status)
            mstore(add(payload, 0x64), output.length)
            calldatacopy(add(payload, 0x84), output.offset, output.length)
            mstore(add(add(payload, 0x84), output.length), 0) // zeroes the last word's padding
            size := add(0x84, and(add(output.length, 31), not(31)))
        }
        uint256 gasLeft = gasleft();
        // EIP-150: a CALL forwards at most 63/64 of what is left after its own cost. The callee gets
        // the full limit only if that share, after the reserve, exceeds the limit.
        if (gasLeft < CALLBACK_GAS_RESERVE || (gasLeft - CALLBACK_GAS_RESERVE) * 63 / 64 <= gasLimit) {
            revert InferenceOracleInsufficientGasForCallback(request.requestId, gasLeft, request.callbackGasLimit);
        }
        if (target.code.length != 0) {
            uint256 before = gasleft();
            assembly ("memory-safe") {
                // out and outsize 0: no returndata is copied (returndata bomb).
                success := call(gasLimit, target, 0, payload, size, 0, 0)
            }
            gasUsed = before - gasleft();
        }
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
        _resultGasOverhead = c.resultGasOverhead;
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

    /// @dev `length` rounded up to whole 32-byte words.
    function _padded(uint256 length) private pure returns (uint256) {
        // Safe: lengths of calldata, far below 2^64.
        unchecked {
            return (length + 31) & ~uint256(31);
        }
    }

    /// @dev keccak256 of the words of a bytes32 array: EIP-712's encoding of a `bytes32[]` member.
    function _hashWords(bytes32[] memory words) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            // Safe: a memory bytes32[] is its length word followed by `length` words.
            h := keccak256(add(words, 0x20), shl(5, mload(words)))
        }
    }
}
