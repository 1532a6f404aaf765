// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITypeAndVersion} from "./ITypeAndVersion.sol";

/// @title IInferenceOracle
/// @notice Requests for ONNX model inferences, answered by attested enclaves.
///
/// A request is stored as ONE word: the keccak256 of its `RequestCommitment` while pending, a
/// marker once final. Everything else travels in the `InferenceRequested` event, from which the
/// node rebuilds the commitment and hands it back to `fulfil`, `fulfilBatch` and `expire`.
///
/// Money: a request pays `quote` = fee + gas prepayment; any excess is refunded at once.
/// - fee = the model's fee x redundancy k, bounded by the requester's `maxFee` (a publisher's
///   `setFee` can never take more than the requester agreed to).
/// - gas prepayment = maxGasPrice x (callbackGasLimit + k x resultGasOverhead), held per request.
/// At finality the publisher is credited fee x publisherShareBps / 10 000; the rest is split
/// equally among the operators whose still-active enclaves agreed (the remainder of the division
/// to the operator that completed the quorum). Each agreeing submission's operator is also
/// reimbursed the gas that submission used (its own gas, its callback's, and its share of the
/// transaction's fixed cost) at min(tx.gasprice, maxGasPrice), out of the prepayment; what is
/// left of the prepayment is credited back to the requester. Balances are pulled (`withdraw`).
/// After the deadline anyone may expire a pending request: the fee and the whole prepayment go
/// back to the requester. Invariant: the oracle's ether = the fees and prepayments of pending
/// requests + every withdrawable balance.
interface IInferenceOracle is ITypeAndVersion {
    /// @notice Options of a request.
    struct RequestOptions {
        /// @notice Gas the callback gets, exactly; zero for no callback (e.g. an EOA requester).
        uint32 callbackGasLimit;
        /// @notice Unix time after which the request can no longer be fulfilled, only expired.
        uint64 deadline;
        /// @notice Number of distinct enclaves of distinct operators that must agree (k).
        uint8 redundancy;
        /// @notice The most the requester pays in fees (the model's fee x k, the publisher's share
        /// included; the gas prepayment is not). A higher current fee reverts the request with
        /// `InferenceOracleFeeAboveMax`, charging nothing.
        uint96 maxFee;
        /// @notice Wei per gas: the price the gas prepayment is computed at, and the most a
        /// relaying operator is reimbursed per gas.
        uint64 maxGasPrice;
    }

    /// @notice Everything fixed at request time; its keccak256 is what the oracle stores.
    /// All fields are in the `InferenceRequested` event (inputHash = keccak256(input)).
    struct RequestCommitment {
        /// @notice The request id, sequential from 1.
        uint256 requestId;
        /// @notice The model.
        uint256 modelId;
        /// @notice The account that made the request: gets the callback and any refund.
        address requester;
        /// @notice sha256 of the model file at request time.
        bytes32 modelHash;
        /// @notice keccak256 of the input bytes.
        bytes32 inputHash;
        /// @notice The fee held, in wei (the model's fee x redundancy).
        uint256 fee;
        /// @notice Wei held for gas: maxGasPrice x (callbackGasLimit + redundancy x resultGasOverhead).
        uint256 gasPrepayment;
        /// @notice The most a relaying operator is reimbursed per gas.
        uint64 maxGasPrice;
        /// @notice Gas the callback gets.
        uint32 callbackGasLimit;
        /// @notice Unix time after which the request can only be expired.
        uint64 deadline;
        /// @notice Number of agreeing enclaves needed.
        uint8 redundancy;
    }

    /// @notice One result in a batch.
    struct ResultSubmission {
        /// @notice The request, as committed.
        RequestCommitment request;
        /// @notice `abi.encode(int256[])` of the output when status is Ok, else empty.
        bytes output;
        /// @notice `OracleTypes.ResultStatus` of the result.
        uint8 status;
    }

    /// @notice Bounds the owner sets on request options.
    struct Config {
        /// @notice Lowest non-zero callback gas limit.
        uint32 minCallbackGasLimit;
        /// @notice Highest callback gas limit.
        uint32 maxCallbackGasLimit;
        /// @notice Longest time from request to deadline, in seconds.
        uint32 maxDeadlineDelay;
        /// @notice Highest redundancy.
        uint8 maxRedundancy;
        /// @notice Gas prepaid per result on top of the callback's limit: what a submission costs
        /// apart from its callback (intrinsic gas, calldata, verification, storage, logs).
        uint32 resultGasOverhead;
    }

    /// @notice What a request costs (`quoteParts`).
    struct Quote {
        /// @notice The fee: the model's fee x redundancy. `maxFee` must be at least this.
        uint256 fee;
        /// @notice The publisher's part of the fee.
        uint256 publisherFee;
        /// @notice The operators' part of the fee (fee - publisherFee).
        uint256 operatorFee;
        /// @notice Wei held for gas; what the agreeing submissions do not use comes back.
        uint256 gasPrepayment;
        /// @notice What to send: fee + gasPrepayment.
        uint256 total;
    }

    /// @notice A request was accepted and paid for; carries everything a node needs.
    /// @param requestId The request id.
    /// @param modelId The model.
    /// @param requester The requester.
    /// @param modelHash sha256 of the model file.
    /// @param input The input, in the model's input encoding.
    /// @param fee The fee held.
    /// @param gasPrepayment Wei held for gas.
    /// @param maxGasPrice The most a relaying operator is reimbursed per gas.
    /// @param callbackGasLimit Gas the callback gets.
    /// @param deadline Unix time after which the request can only be expired.
    /// @param redundancy Number of agreeing enclaves needed.
    event InferenceRequested(
        uint256 indexed requestId,
        uint256 indexed modelId,
        address indexed requester,
        bytes32 modelHash,
        bytes input,
        uint256 fee,
        uint256 gasPrepayment,
        uint64 maxGasPrice,
        uint32 callbackGasLimit,
        uint64 deadline,
        uint8 redundancy
    );

    /// @notice A vote toward the quorum of a request with redundancy > 1 was counted (every vote,
    /// the one that completes the quorum too). A vote that disagrees with the final result stays on
    /// record here. A request with redundancy 1 has no votes: its one result is `InferenceFulfilled`.
    /// @param requestId The request.
    /// @param signer The enclave signer.
    /// @param operator The signer's operator.
    /// @param outputHash keccak256 of the output.
    /// @param status The result status.
    event ResultSubmitted(
        uint256 indexed requestId, address indexed signer, address indexed operator, bytes32 outputHash, uint8 status
    );

    /// @notice The request became final with this result, the requester's callback ran, and the
    /// money was settled: the fee credited to the publisher and the agreeing operators, their gas
    /// reimbursed from the prepayment, and the rest of the prepayment (`gasRefunded`) credited back
    /// to the requester. One event per request, and the only one for redundancy 1 (one log instead
    /// of four keeps `fulfil` under 70k gas). Derived, not repeated: the output hash is
    /// keccak256(output); the signer's operator is `EnclaveRegistry.getEnclave(signer).operator`;
    /// the gas reimbursed is the request's gasPrepayment - gasRefunded.
    /// @param requestId The request.
    /// @param signer The enclave signer whose submission made the request final (redundancy 1: the
    /// only one; otherwise the completing vote, also in `ResultSubmitted`).
    /// @param status The result status.
    /// @param callbackSuccess Whether the callback returned without reverting (false with
    /// callbackGasUsed 0 when the requester has no code or asked for no callback).
    /// @param callbackGasUsed Gas the callback used, the CALL included.
    /// @param gasRefunded Wei of the prepayment credited back to the requester.
    /// @param output The output bytes.
    event InferenceFulfilled(
        uint256 indexed requestId,
        address indexed signer,
        uint8 status,
        bool callbackSuccess,
        uint256 callbackGasUsed,
        uint256 gasRefunded,
        bytes output
    );

    /// @notice An earlier vote no longer counts: its signer was revoked, retired or expired (or its
    /// measurement or root revoked, or its operator's bond fell below the minimum) before the
    /// quorum was reached. Its operator is not paid and may vote again through an active signer.
    /// @param requestId The request.
    /// @param signer The signer whose vote was dropped.
    event VoteDropped(uint256 indexed requestId, address indexed signer);

    /// @notice An item of a batch was skipped; the node treats it as done.
    /// @param requestId The request.
    /// @param signer The batch's enclave signer.
    /// @param reason Selector of the error `fulfil` would have reverted with.
    event ResultSkipped(uint256 indexed requestId, address indexed signer, bytes4 reason);

    /// @notice A request expired unfulfilled; its fee and gas prepayment went back to the requester.
    /// @param requestId The request.
    /// @param requester The requester.
    /// @param refund The amount refunded (fee + gas prepayment).
    event InferenceExpired(uint256 indexed requestId, address indexed requester, uint256 refund);

    /// @notice A refund could not be pushed and was credited to the account's withdrawable balance.
    /// @param account The account.
    /// @param amount The amount credited.
    event RefundCredited(address indexed account, uint256 amount);

    /// @notice An account withdrew its balance.
    /// @param account The account.
    /// @param recipient Where the ether went.
    /// @param amount The amount.
    event Withdrawn(address indexed account, address indexed recipient, uint256 amount);

    /// @notice The owner changed the bounds on request options.
    /// @param config The new bounds.
    event ConfigUpdated(Config config);

    /// @notice No model has this id. Selector 0x6342588e.
    /// @param modelId The model.
    error InferenceOracleUnknownModel(uint256 modelId);

    /// @notice The model takes no new requests. Selector 0x57ffe7e3.
    /// @param modelId The model.
    error InferenceOracleModelInactive(uint256 modelId);

    /// @notice The input is not `inputLength` values in the model's input encoding: 64 + 32 x
    /// inputLength bytes of canonical `abi.encode(int256[])` (encoding 0), or exactly inputLength x
    /// width bytes packed (encodings 1..4: width 1, 2, 4, 8). Selector 0xa10181d3.
    /// @param inputLength The number of values the model takes.
    /// @param inputEncoding The model's `OracleTypes.InputEncoding`.
    error InferenceOracleMalformedInput(uint32 inputLength, uint8 inputEncoding);

    /// @notice Less ether sent than fee + gas prepayment. Selector 0x46cde302.
    /// @param paid The ether sent.
    /// @param total What the request costs (see `quote`).
    error InferenceOracleInsufficientFee(uint256 paid, uint256 total);

    /// @notice The model's current fee x redundancy is above the requester's `maxFee` (e.g. the
    /// publisher raised it after the requester looked). Nothing is charged. Selector 0xb65a3bc9.
    /// @param fee The fee the request would pay now.
    /// @param maxFee The requester's bound.
    error InferenceOracleFeeAboveMax(uint256 fee, uint256 maxFee);

    /// @notice The callback gas limit is neither zero nor within the bounds. Selector 0x58f5661b.
    /// @param callbackGasLimit The limit asked for.
    /// @param min The lowest non-zero limit.
    /// @param max The highest limit.
    error InferenceOracleCallbackGasLimitOutOfBounds(uint32 callbackGasLimit, uint32 min, uint32 max);

    /// @notice The deadline is not in the future. Selector 0xc89c557c.
    /// @param deadline The deadline asked for.
    /// @param timestamp The current block time.
    error InferenceOracleDeadlineInPast(uint64 deadline, uint256 timestamp);

    /// @notice The deadline is further away than the maximum delay. Selector 0x51c7471d.
    /// @param deadline The deadline asked for.
    /// @param latest The latest deadline allowed now.
    error InferenceOracleDeadlineTooFar(uint64 deadline, uint256 latest);

    /// @notice Redundancy is zero or above the maximum. Selector 0xb05fc0ba.
    /// @param redundancy The redundancy asked for.
    /// @param max The maximum.
    error InferenceOracleInvalidRedundancy(uint8 redundancy, uint8 max);

    /// @notice No request has this id. Selector 0xdcc9c5a9.
    /// @param requestId The request.
    error InferenceOracleUnknownRequest(uint256 requestId);

    /// @notice The commitment handed in is not the one stored for the request. Selector 0x1a767c18.
    /// @param requestId The request.
    error InferenceOracleCommitmentMismatch(uint256 requestId);

    /// @notice The request is already fulfilled. Selector 0x596532fa.
    /// @param requestId The request.
    error InferenceOracleAlreadyFulfilled(uint256 requestId);

    /// @notice The request already expired. Selector 0xaf03aa0b.
    /// @param requestId The request.
    error InferenceOracleAlreadyExpired(uint256 requestId);

    /// @notice The deadline has passed: the request can only be expired. Selector 0x05b69555.
    /// @param requestId The request.
    /// @param deadline Its deadline.
    error InferenceOracleDeadlinePassed(uint256 requestId, uint64 deadline);

    /// @notice The deadline has not passed yet: the request cannot be expired. Selector 0x6d04797c.
    /// @param requestId The request.
    /// @param deadline Its deadline.
    error InferenceOracleDeadlineNotReached(uint256 requestId, uint64 deadline);

    /// @notice The status is not a `ResultStatus`. Selector 0x8161b097.
    /// @param status The status given.
    error InferenceOracleInvalidStatus(uint8 status);

    /// @notice Ok output that is not the canonical `abi.encode(int256[])` of the model's output
    /// length, or a non-empty output with a failure status. Selector 0x51cd4a88.
    /// @param requestId The request.
    error InferenceOracleMalformedOutput(uint256 requestId);

    /// @notice The model does not allow the enclave's measurement. Selector 0xecfd99a3.
    /// @param modelId The model.
    /// @param measurement The enclave's measurement.
    error InferenceOracleMeasurementNotAllowedForModel(uint256 modelId, bytes32 measurement);

    /// @notice This operator (through this or another of its signers) already submitted a result. Selector 0xc08ee7ca.
    /// @param requestId The request.
    /// @param operator The operator.
    error InferenceOracleAlreadySubmitted(uint256 requestId, address operator);

    /// @notice The batch is empty. Selector 0xe5bbca65.
    error InferenceOracleEmptyBatch();

    /// @notice Too little gas left to give the callback its full limit; resend with more gas. Selector 0x37356837.
    /// @param requestId The request.
    /// @param gasLeft Gas left before the callback.
    /// @param callbackGasLimit The callback's gas limit.
    error InferenceOracleInsufficientGasForCallback(uint256 requestId, uint256 gasLeft, uint32 callbackGasLimit);

    /// @notice Too little gas left to re-check an earlier vote's signer; resend with more gas (a
    /// starved check could otherwise make a live vote look revoked). Selector 0x25991d86.
    /// @param requestId The request.
    /// @param gasLeft Gas left before the check.
    error InferenceOracleInsufficientGasForVoteCheck(uint256 requestId, uint256 gasLeft);

    /// @notice The account has nothing to withdraw. Selector 0xca45dc1a.
    /// @param account The account.
    error InferenceOracleNothingToWithdraw(address account);

    /// @notice Sending ether failed. Selector 0xdc58dc80.
    /// @param recipient The recipient.
    /// @param amount The amount.
    error InferenceOracleTransferFailed(address recipient, uint256 amount);

    /// @notice Bounds are inconsistent (min above max, zero redundancy or zero delay). Selector 0x5e99c7da.
    error InferenceOracleInvalidConfig();

    /// @notice Requests an inference. Pays `quote(modelId, options)` (fee + gas prepayment); excess
    /// is refunded at once (or credited to the sender's balance if it rejects ether). Reverts,
    /// charging nothing, on an unknown or inactive model, a malformed input, a fee above `maxFee`,
    /// too little ether, or options out of bounds.
    /// @param modelId The model.
    /// @param input Exactly the model's input length, in its input encoding.
    /// @param options Callback gas limit, deadline, redundancy, fee bound and gas price bound.
    /// @return requestId The request id, sequential from 1.
    function requestInference(uint256 modelId, bytes calldata input, RequestOptions calldata options)
        external
        payable
        returns (uint256 requestId);

    /// @notice What to send with a request: the fee (the model's fee x redundancy) + the gas
    /// prepayment (maxGasPrice x (callbackGasLimit + redundancy x resultGasOverhead)). Does not
    /// check `maxFee`: `requestInference` does.
    /// @param modelId The model.
    /// @param options The options; redundancy, callbackGasLimit and maxGasPrice matter.
    /// @return total The wei to send.
    function quote(uint256 modelId, RequestOptions calldata options) external view returns (uint256 total);

    /// @notice The parts of `quote`: fee, the publisher's and the operators' parts of it, the gas
    /// prepayment and the total.
    /// @param modelId The model.
    /// @param options The options.
    /// @return The parts.
    function quoteParts(uint256 modelId, RequestOptions calldata options) external view returns (Quote memory);

    /// @notice Submits one enclave-signed result. Anyone may relay it; the fee and the gas
    /// reimbursement go to the signer's operator, never to the relayer. Reverts with a named error
    /// if the result is not accepted.
    /// @param request The request's commitment (from its `InferenceRequested` event).
    /// @param output The output bytes.
    /// @param status The result status.
    /// @param signature The enclave's EIP-712 signature over `InferenceResult`.
    function fulfil(RequestCommitment calldata request, bytes calldata output, uint8 status, bytes calldata signature)
        external;

    /// @notice Submits many results under one enclave signature over `InferenceBatch`. Reverts
    /// only for the batch as a whole (bad signature, inactive signer, too little gas for a
    /// callback); an item that cannot be accepted is skipped with `ResultSkipped`.
    /// @param results The results.
    /// @param signature The enclave's EIP-712 signature over `InferenceBatch(bytes32[] results)`.
    function fulfilBatch(ResultSubmission[] calldata results, bytes calldata signature) external;

    /// @notice Expires a pending request after its deadline and refunds its fee and its whole gas
    /// prepayment to the requester.
    /// Anyone may call it. The refund is pushed with a bounded gas stipend; if the requester
    /// rejects it, it is credited to the requester's withdrawable balance instead.
    /// @param request The request's commitment.
    function expire(RequestCommitment calldata request) external;

    /// @notice Sends the caller's whole balance to the caller.
    function withdraw() external;

    /// @notice Sends the caller's whole balance to `recipient`.
    /// @param recipient Where the ether goes.
    function withdrawTo(address payable recipient) external;

    /// @notice Sets the bounds on request options. Owner only.
    /// @param config The new bounds.
    function setConfig(Config calldata config) external;

    /// @notice State of a request: 0 None, 1 Pending, 2 Fulfilled, 3 Expired.
    /// @param requestId The request.
    function requestState(uint256 requestId) external view returns (uint8);

    /// @notice What is stored for a request: its commitment hash while pending, else a marker.
    /// @param requestId The request.
    function requestCommitment(uint256 requestId) external view returns (bytes32);

    /// @notice The hash the oracle stores for a commitment.
    /// @param request The commitment.
    function commitmentHash(RequestCommitment calldata request) external pure returns (bytes32);

    /// @notice Withdrawable balance of an operator (fees) or requester (refunds it rejected).
    /// @param account The account.
    function balances(address account) external view returns (uint256);

    /// @notice The current bounds on request options.
    function config() external view returns (Config memory);

    /// @notice Number of requests made so far (the highest request id).
    function requestCount() external view returns (uint256);

    /// @notice Number of agreeing votes recorded so far for (request, output hash, status) while
    /// pending. Votes whose signer has since become inactive are dropped (`VoteDropped`) when the
    /// next agreeing vote would complete the quorum, so this may count a vote that will not.
    /// @param requestId The request.
    /// @param outputHash keccak256 of the output.
    /// @param status The result status.
    function agreementCount(uint256 requestId, bytes32 outputHash, uint8 status) external view returns (uint256);

    /// @notice The agreed result of a request that became final with redundancy above 1 (the one
    /// that bit-exact disagreement is measured against); outputHash zero otherwise (not final, or
    /// redundancy 1: its only result is in `InferenceFulfilled`).
    /// @param requestId The request.
    /// @return outputHash keccak256 of the agreed output.
    /// @return status The agreed `OracleTypes.ResultStatus`.
    function finalResult(uint256 requestId) external view returns (bytes32 outputHash, uint8 status);

    /// @notice The model registry the oracle reads.
    function modelRegistry() external view returns (address);

    /// @notice The enclave registry the oracle reads.
    function enclaveRegistry() external view returns (address);
}
