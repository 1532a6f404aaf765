// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IOperatorBonds} from "./interfaces/IOperatorBonds.sol";

/// @title OperatorBonds
/// @notice Operators' native-ether bonds, inherited by the EnclaveRegistry so that `activeEnclave`
/// checks a signer's operator's bond with storage reads instead of a call to another contract. It
/// checks it only after the registry's revocation epoch moved (every fall of a serving operator's
/// bond moves it: `_onBondReduced`), so a steady-state `fulfil` pays nothing for it. See {IOperatorBonds}.
/// @dev Ether accounting: this contract's balance is always the sum of every operator's bonded and
/// unbonding wei, every credited reward, and `totalBurnt` (test/contracts/OperatorBonds.test.ts
/// checks it after every step of a randomized run).
abstract contract OperatorBonds is IOperatorBonds, Ownable2Step {
    // ---------------------------------------------------------------- constants

    /// @notice Lowest minimum bond the owner may set: a bond must cost something, or k addresses
    /// are k operators for free again.
    uint96 public constant MIN_BOND_FLOOR = 0.01 ether;
    /// @notice Highest minimum bond the owner may set: the owner cannot price every operator out.
    uint96 public constant MIN_BOND_CEILING = 10_000 ether;
    /// @notice Shortest unbonding delay: evidence (two signatures) needs time to surface and be mined.
    uint32 public constant MIN_UNBONDING_DELAY = 1 days;
    /// @notice Longest unbonding delay: the owner cannot lock operators' ether indefinitely.
    uint32 public constant MAX_UNBONDING_DELAY = 90 days;
    /// @notice Share of a slashed stake paid to the reporter, in basis points; the rest is burnt.
    /// Below 100 %: an operator reporting its own equivocation still loses 90 % of its stake.
    uint256 public constant REPORTER_SHARE_BPS = 1_000;
    /// @notice Gas given to a pushed reward; a reporter that needs more is credited instead.
    uint256 public constant REWARD_GAS_STIPEND = 30_000;

    // ---------------------------------------------------------------- storage

    mapping(address operator => Bond) private _bonds;
    mapping(address reporter => uint256) private _rewards;
    address private _slasher;
    uint32 private _unbondingDelay;
    /// @dev `_totalBurnt` and `_minBond` share the last slot, and the compiler packs the first
    /// variable of the contract that inherits this one (the EnclaveRegistry's revocation epoch, a
    /// uint32) into its remaining 32 bits: `activeEnclave` always reads the epoch, so when it checks
    /// the bond (after the epoch moved) the minimum costs a warm read (100 gas), not a cold one (2,100).
    uint128 private _totalBurnt;
    uint96 private _minBond;

    // ---------------------------------------------------------------- constructor

    /// @param minBond_ Initial minimum bond, wei.
    /// @param unbondingDelay_ Initial unbonding delay, seconds.
    constructor(uint96 minBond_, uint32 unbondingDelay_) {
        _setMinBond(minBond_);
        _setUnbondingDelay(unbondingDelay_);
    }

    // ---------------------------------------------------------------- operators

    /// @inheritdoc IOperatorBonds
    function bond() external payable {
        _addBond(msg.sender);
    }

    /// @inheritdoc IOperatorBonds
    function bondFor(address operator) external payable {
        _addBond(operator);
    }

    /// @inheritdoc IOperatorBonds
    function unbond(uint256 amount) external {
        if (amount == 0) revert OperatorBondsZeroAmount();
        Bond storage b = _bonds[msg.sender];
        uint256 bonded = b.bonded;
        if (amount > bonded) revert OperatorBondsInsufficientBond(msg.sender, bonded, amount);
        uint256 min = _minBond;
        if (bonded >= min && bonded - amount < min) _onBondReduced(msg.sender);
        uint64 withdrawableAt = uint64(block.timestamp) + _unbondingDelay;
        // Safe: amount <= bonded, and bonded + unbonding never exceeds 2^96 - 1 (checked in _addBond,
        // and unbond only moves wei between the two).
        unchecked {
            b.bonded = uint96(bonded - amount);
            b.unbonding += uint96(amount);
        }
        b.withdrawableAt = withdrawableAt;
        emit UnbondRequested(msg.sender, amount, b.unbonding, withdrawableAt);
    }

    /// @inheritdoc IOperatorBonds
    function withdrawBond() external {
        Bond storage b = _bonds[msg.sender];
        uint256 amount = b.unbonding;
        if (amount == 0) revert OperatorBondsNothingUnbonding(msg.sender);
        if (block.timestamp < b.withdrawableAt) {
            revert OperatorBondsStillUnbonding(msg.sender, b.withdrawableAt, block.timestamp);
        }
        b.unbonding = 0;
        b.withdrawableAt = 0;
        emit BondWithdrawn(msg.sender, msg.sender, amount);
        if (!_send(msg.sender, amount, gasleft())) revert OperatorBondsTransferFailed(msg.sender, amount);
    }

    /// @inheritdoc IOperatorBonds
    function withdrawReward() external {
        uint256 amount = _rewards[msg.sender];
        if (amount == 0) revert OperatorBondsNoReward(msg.sender);
        _rewards[msg.sender] = 0;
        emit RewardWithdrawn(msg.sender, amount);
        if (!_send(msg.sender, amount, gasleft())) revert OperatorBondsTransferFailed(msg.sender, amount);
    }

    // ---------------------------------------------------------------- slashing

    /// @inheritdoc IOperatorBonds
    function slash(address signer, address reporter) external returns (uint256 slashed) {
        if (msg.sender != _slasher) revert OperatorBondsNotSlasher(msg.sender);
        address operator = _markSlashed(signer);
        Bond storage b = _bonds[operator];
        slashed = uint256(b.bonded) + b.unbonding;
        delete _bonds[operator];
        _onBondReduced(operator);
        uint256 reward = slashed * REPORTER_SHARE_BPS / 10_000;
        uint256 burnt = slashed - reward;
        // Safe: every burnt wei is ether this contract holds (< 2^128).
        unchecked {
            _totalBurnt += uint128(burnt);
        }
        emit BondSlashed(signer, operator, reporter, slashed, reward, burnt);
        // Last, after every effect: the reporter may re-enter and finds the slash complete.
        if (reward != 0 && !_send(reporter, reward, REWARD_GAS_STIPEND)) {
            _rewards[reporter] += reward;
            emit RewardCredited(reporter, reward);
        }
    }

    // ---------------------------------------------------------------- owner

    /// @inheritdoc IOperatorBonds
    function setMinBond(uint96 minBond_) external onlyOwner {
        _setMinBond(minBond_);
    }

    /// @inheritdoc IOperatorBonds
    function setUnbondingDelay(uint32 unbondingDelay_) external onlyOwner {
        _setUnbondingDelay(unbondingDelay_);
    }

    /// @inheritdoc IOperatorBonds
    function setSlasher(address slasher_) external onlyOwner {
        _slasher = slasher_;
        emit SlasherUpdated(slasher_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IOperatorBonds
    function bondOf(address operator) external view returns (Bond memory) {
        return _bonds[operator];
    }

    /// @inheritdoc IOperatorBonds
    function isBonded(address operator) external view returns (bool) {
        return _isBonded(operator);
    }

    /// @inheritdoc IOperatorBonds
    function minBond() external view returns (uint256) {
        return _minBond;
    }

    /// @inheritdoc IOperatorBonds
    function unbondingDelay() external view returns (uint32) {
        return _unbondingDelay;
    }

    /// @inheritdoc IOperatorBonds
    function slasher() external view returns (address) {
        return _slasher;
    }

    /// @inheritdoc IOperatorBonds
    function rewardOf(address reporter) external view returns (uint256) {
        return _rewards[reporter];
    }

    /// @inheritdoc IOperatorBonds
    function totalBurnt() external view returns (uint256) {
        return _totalBurnt;
    }

    // ---------------------------------------------------------------- internal

    /// @dev Reverts OperatorBondsNotBonded unless `operator`'s bonded wei is at least the minimum.
    function _checkBonded(address operator) internal view {
        uint256 bonded = _bonds[operator].bonded;
        uint256 min = _minBond;
        if (bonded < min) revert OperatorBondsNotBonded(operator, bonded, min);
    }

    /// @dev Whether `operator`'s bonded wei is at least the minimum.
    function _isBonded(address operator) internal view returns (bool) {
        return _bonds[operator].bonded >= _minBond;
    }

    /// @dev Called whenever an operator's bond may have fallen below the minimum: its unbond crossed
    /// it, or it was slashed (`operator`), or the minimum was raised (zero: any operator). The
    /// registry uses it to make its signers check the bond again.
    function _onBondReduced(address operator) internal virtual;

    /// @dev Revokes `signer` for good as slashed and returns its operator; reverts if it was never
    /// registered or was slashed already (the same evidence, or other evidence, used twice).
    function _markSlashed(address signer) internal virtual returns (address operator);

    function _addBond(address operator) private {
        if (msg.value == 0) revert OperatorBondsZeroAmount();
        Bond storage b = _bonds[operator];
        uint256 bonded = b.bonded + msg.value;
        if (bonded + b.unbonding > type(uint96).max) revert OperatorBondsOverflow(operator);
        b.bonded = uint96(bonded);
        emit Bonded(operator, msg.sender, msg.value, bonded);
    }

    function _setMinBond(uint96 minBond_) private {
        if (minBond_ < MIN_BOND_FLOOR || minBond_ > MIN_BOND_CEILING) revert OperatorBondsMinBondOutOfBounds(minBond_);
        // A raise may leave any operator short (zero at construction: nobody serves yet).
        uint96 previous = _minBond;
        _minBond = minBond_;
        if (previous != 0 && minBond_ > previous) _onBondReduced(address(0));
        emit MinBondUpdated(minBond_);
    }

    function _setUnbondingDelay(uint32 unbondingDelay_) private {
        if (unbondingDelay_ < MIN_UNBONDING_DELAY || unbondingDelay_ > MAX_UNBONDING_DELAY) {
            revert OperatorBondsUnbondingDelayOutOfBounds(unbondingDelay_);
        }
        _unbondingDelay = unbondingDelay_;
        emit UnbondingDelayUpdated(unbondingDelay_);
    }

    /// @dev Sends ether without copying returndata.
    function _send(address to, uint256 amount, uint256 gasLimit) private returns (bool success) {
        assembly ("memory-safe") {
            // No input, no output: nothing in memory is read or written.
            success := call(gasLimit, to, amount, 0, 0, 0, 0)
        }
    }
}
