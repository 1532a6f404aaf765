// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IInferenceOracle} from "../interfaces/IInferenceOracle.sol";
import {InferenceConsumer} from "../InferenceConsumer.sol";
import {OracleTypes} from "../libraries/OracleTypes.sol";

/// @title RiskScoredLendingPool
/// @notice Example consumer: a small ether lending pool whose maximum loan-to-value is set from a
/// risk model's score. The owner asks the oracle to score current market features; the score
/// (one fixed-point value, 0 = calm, 1 = most volatile) maps linearly onto [minLtv, maxLtv]
/// (calm -> maxLtv), clamped to the bounds. Borrowing and collateral withdrawals must keep each
/// account's debt within collateral x LTV. Until the first score arrives the LTV is zero.
/// @dev A demonstration, not a production lending protocol: one asset, no interest, no liquidation.
contract RiskScoredLendingPool is InferenceConsumer, Ownable, ReentrancyGuardTransient {
    /// @notice Basis points in one.
    uint16 public constant BPS = 10_000;
    /// @notice Gas the score callback asks for.
    uint32 public constant CALLBACK_GAS_LIMIT = 100_000;

    /// @notice The risk model's id in the ModelRegistry.
    uint256 public immutable MODEL_ID;
    /// @notice 10^decimals of the model's fixed-point output.
    int256 public immutable SCORE_ONE;
    /// @notice LTV (bps) at the highest risk score.
    uint16 public immutable MIN_LTV_BPS;
    /// @notice LTV (bps) at the lowest risk score.
    uint16 public immutable MAX_LTV_BPS;

    /// @notice Current maximum loan-to-value, in basis points.
    uint16 public ltvBps;
    /// @notice The risk request whose answer the pool waits for (older answers are ignored).
    uint256 public pendingRequestId;
    /// @notice Ether available to lend.
    uint256 public liquidity;
    /// @notice Collateral per account.
    mapping(address account => uint256) public collateral;
    /// @notice Debt per account.
    mapping(address account => uint256) public debt;

    /// @notice The owner asked for a new risk score.
    /// @param requestId The oracle's request id.
    event RiskUpdateRequested(uint256 indexed requestId);
    /// @notice The LTV was set from a risk score.
    /// @param requestId The request.
    /// @param score The fixed-point score.
    /// @param ltvBps The new LTV in basis points.
    event RiskParametersUpdated(uint256 indexed requestId, int256 score, uint16 ltvBps);
    /// @notice A risk answer was not used (failure status, wrong size, or not the pending request).
    /// @param requestId The request.
    /// @param status The result status.
    event RiskUpdateIgnored(uint256 indexed requestId, uint8 status);
    /// @notice Collateral was deposited.
    /// @param account The account.
    /// @param amount The amount.
    event CollateralDeposited(address indexed account, uint256 amount);
    /// @notice Collateral was withdrawn.
    /// @param account The account.
    /// @param amount The amount.
    event CollateralWithdrawn(address indexed account, uint256 amount);
    /// @notice Ether was borrowed.
    /// @param account The account.
    /// @param amount The amount.
    event Borrowed(address indexed account, uint256 amount);
    /// @notice Debt was repaid.
    /// @param account The account.
    /// @param amount The amount.
    event Repaid(address indexed account, uint256 amount);
    /// @notice The owner added lendable ether.
    /// @param amount The amount.
    event LiquidityAdded(uint256 amount);

    /// @notice The action would leave the account's debt above collateral x LTV. Selector 0x80cc0c48.
    /// @param debt The debt after the action.
    /// @param limit The limit after the action.
    error RiskPoolLtvExceeded(uint256 debt, uint256 limit);
    /// @notice Not enough ether to lend. Selector 0x5e95a552.
    /// @param requested The amount asked for.
    /// @param available The liquidity.
    error RiskPoolInsufficientLiquidity(uint256 requested, uint256 available);
    /// @notice More collateral asked for than deposited, or more repaid than owed. Selector 0x7f4175e4.
    /// @param requested The amount.
    /// @param available The most allowed.
    error RiskPoolAmountTooLarge(uint256 requested, uint256 available);
    /// @notice The ether sent is not the oracle's quote (fee + gas prepayment). Selector 0xadac75a0.
    /// @param sent The ether sent.
    /// @param fee The quote.
    error RiskPoolWrongFee(uint256 sent, uint256 fee);
    /// @notice LTV bounds must satisfy min <= max <= 100%. Selector 0x20f3ba44.
    error RiskPoolInvalidBounds();
    /// @notice Zero amount. Selector 0x218cd3b1.
    error RiskPoolZeroAmount();
    /// @notice Sending ether failed. Selector 0x8d85d9be.
    error RiskPoolTransferFailed();

    /// @param oracle The InferenceOracle.
    /// @param modelId The risk model's id.
    /// @param scoreDecimals Fixed-point decimals of the model's output.
    /// @param minLtvBps LTV at the highest risk.
    /// @param maxLtvBps LTV at the lowest risk.
    constructor(IInferenceOracle oracle, uint256 modelId, uint8 scoreDecimals, uint16 minLtvBps, uint16 maxLtvBps)
        InferenceConsumer(oracle)
        Ownable(msg.sender)
    {
        if (minLtvBps > maxLtvBps || maxLtvBps > BPS) revert RiskPoolInvalidBounds();
        MODEL_ID = modelId;
        SCORE_ONE = int256(10 ** scoreDecimals);
        MIN_LTV_BPS = minLtvBps;
        MAX_LTV_BPS = maxLtvBps;
    }

    /// @notice Asks the oracle for a fresh risk score. Owner only; send exactly the oracle's quote.
    /// @param features The risk model's input, in its input encoding.
    /// @param deadline Unix time after which the request expires.
    /// @param maxFee The most the pool pays in fees (the request reverts above it).
    /// @param maxGasPrice Wei per gas the relaying operator may be reimbursed at most.
    /// @return requestId The oracle's request id.
    function requestRiskUpdate(bytes calldata features, uint64 deadline, uint96 maxFee, uint64 maxGasPrice)
        external
        payable
        onlyOwner
        returns (uint256 requestId)
    {
        IInferenceOracle.RequestOptions memory options = IInferenceOracle.RequestOptions({
            callbackGasLimit: CALLBACK_GAS_LIMIT,
            deadline: deadline,
            redundancy: 1,
            maxFee: maxFee,
            maxGasPrice: maxGasPrice
        });
        uint256 fee = ORACLE.quote(MODEL_ID, options);
        if (msg.value != fee) revert RiskPoolWrongFee(msg.value, fee);
        requestId = _requestInference(MODEL_ID, features, options);
        pendingRequestId = requestId;
        emit RiskUpdateRequested(requestId);
    }

    /// @notice Adds lendable ether. Owner only.
    function addLiquidity() external payable onlyOwner {
        liquidity += msg.value;
        emit LiquidityAdded(msg.value);
    }

    /// @notice Deposits the ether sent as the caller's collateral.
    function depositCollateral() external payable {
        if (msg.value == 0) revert RiskPoolZeroAmount();
        collateral[msg.sender] += msg.value;
        emit CollateralDeposited(msg.sender, msg.value);
    }

    /// @notice Borrows ether within collateral x LTV.
    /// @param amount The amount.
    function borrow(uint256 amount) external nonReentrant {
        if (amount == 0) revert RiskPoolZeroAmount();
        if (amount > liquidity) revert RiskPoolInsufficientLiquidity(amount, liquidity);
        uint256 newDebt = debt[msg.sender] + amount;
        _checkLtv(newDebt, collateral[msg.sender]);
        debt[msg.sender] = newDebt;
        liquidity -= amount;
        emit Borrowed(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @notice Repays debt with the ether sent.
    function repay() external payable {
        uint256 owed = debt[msg.sender];
        if (msg.value == 0) revert RiskPoolZeroAmount();
        if (msg.value > owed) revert RiskPoolAmountTooLarge(msg.value, owed);
        debt[msg.sender] = owed - msg.value;
        liquidity += msg.value;
        emit Repaid(msg.sender, msg.value);
    }

    /// @notice Withdraws collateral, keeping debt within the remaining collateral x LTV.
    /// @param amount The amount.
    function withdrawCollateral(uint256 amount) external nonReentrant {
        uint256 held = collateral[msg.sender];
        if (amount == 0) revert RiskPoolZeroAmount();
        if (amount > held) revert RiskPoolAmountTooLarge(amount, held);
        _checkLtv(debt[msg.sender], held - amount);
        collateral[msg.sender] = held - amount;
        emit CollateralWithdrawn(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @notice Most an account may owe with its current collateral and LTV.
    /// @param account The account.
    function borrowLimit(address account) public view returns (uint256) {
        return collateral[account] * ltvBps / BPS;
    }

    /// @notice LTV (bps) for a risk score: linear from MAX_LTV at 0 to MIN_LTV at 1, clamped.
    /// @param score The fixed-point score.
    function ltvForScore(int256 score) public view returns (uint16) {
        if (score <= 0) return MAX_LTV_BPS;
        if (score >= SCORE_ONE) return MIN_LTV_BPS;
        // 0 < score < SCORE_ONE, so the product fits easily and the result lies in the bounds.
        uint256 drop = uint256(MAX_LTV_BPS - MIN_LTV_BPS) * uint256(score) / uint256(SCORE_ONE);
        return uint16(MAX_LTV_BPS - drop);
    }

    function _onInferenceResult(uint256 requestId, bytes calldata output, uint8 status) internal override {
        if (requestId != pendingRequestId || status != uint8(OracleTypes.ResultStatus.Ok)) {
            emit RiskUpdateIgnored(requestId, status);
            return;
        }
        int256[] memory values = abi.decode(output, (int256[]));
        if (values.length != 1) {
            emit RiskUpdateIgnored(requestId, status);
            return;
        }
        uint16 ltv = ltvForScore(values[0]);
        ltvBps = ltv;
        pendingRequestId = 0;
        emit RiskParametersUpdated(requestId, values[0], ltv);
    }

    function _checkLtv(uint256 debt_, uint256 collateral_) private view {
        uint256 limit = collateral_ * ltvBps / BPS;
        if (debt_ > limit) revert RiskPoolLtvExceeded(debt_, limit);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert RiskPoolTransferFailed();
    }
}
