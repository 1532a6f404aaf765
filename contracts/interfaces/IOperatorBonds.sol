// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOperatorBonds
/// @notice Native-ether bonds of enclave operators, held by the EnclaveRegistry. An operator whose
/// bond is below `minBond` has no active signers, so redundancy k counts only bonded operators and
/// faking k operators costs k bonds. A bond leaves through an unbonding delay, during which it can
/// still be slashed: the slasher (a separate contract that checks the evidence) takes the whole
/// stake of an operator whose enclave signer provably equivocated. See docs/economics.md.
interface IOperatorBonds {
    /// @notice One operator's stake.
    struct Bond {
        /// @notice Wei that counts toward `minBond`.
        uint96 bonded;
        /// @notice Wei on its way out: no longer counts toward `minBond`, still slashable.
        uint96 unbonding;
        /// @notice Unix time from which `unbonding` can be withdrawn (zero when nothing is unbonding).
        uint64 withdrawableAt;
    }

    /// @notice `amount` wei was added to `operator`'s bond by `from`.
    /// @param operator The operator whose bond grew.
    /// @param from The account that paid.
    /// @param amount Wei added.
    /// @param bonded The operator's bonded total after it.
    event Bonded(address indexed operator, address indexed from, uint256 amount, uint256 bonded);

    /// @notice `operator` started unbonding `amount` wei; the whole unbonding amount is withdrawable
    /// at `withdrawableAt` (a new request restarts the delay for all of it).
    /// @param operator The operator.
    /// @param amount Wei moved from bonded to unbonding.
    /// @param unbonding The operator's unbonding total after it.
    /// @param withdrawableAt Unix time from which it can be withdrawn.
    event UnbondRequested(address indexed operator, uint256 amount, uint256 unbonding, uint64 withdrawableAt);

    /// @notice `operator` withdrew its unbonded stake to `recipient`.
    /// @param operator The operator.
    /// @param recipient Where the ether went.
    /// @param amount Wei sent.
    event BondWithdrawn(address indexed operator, address indexed recipient, uint256 amount);

    /// @notice `signer` was proven to have equivocated (or, for a bit-exact model, to have signed a
    /// result other than the final agreed one): it is revoked and its operator's whole stake
    /// (bonded and unbonding) is slashed.
    /// @param signer The enclave signer.
    /// @param operator Its operator.
    /// @param reporter Who submitted the evidence; paid `reward`.
    /// @param slashed Wei taken from the operator.
    /// @param reward Wei paid to the reporter (`slashed * REPORTER_SHARE_BPS / 10_000`).
    /// @param burnt Wei burnt (locked in this contract for good): `slashed - reward`.
    event BondSlashed(
        address indexed signer,
        address indexed operator,
        address indexed reporter,
        uint256 slashed,
        uint256 reward,
        uint256 burnt
    );

    /// @notice A reporter's reward could not be pushed and was credited instead (see `withdrawReward`).
    /// @param reporter The reporter.
    /// @param amount Wei credited.
    event RewardCredited(address indexed reporter, uint256 amount);

    /// @notice A credited reward was withdrawn.
    /// @param reporter The reporter.
    /// @param amount Wei sent.
    event RewardWithdrawn(address indexed reporter, uint256 amount);

    /// @notice The owner set the minimum bond.
    /// @param minBond Wei an operator must have bonded for its signers to be active.
    event MinBondUpdated(uint256 minBond);

    /// @notice The owner set the unbonding delay.
    /// @param unbondingDelay Seconds between `unbond` and `withdrawBond`.
    event UnbondingDelayUpdated(uint32 unbondingDelay);

    /// @notice The owner set the contract allowed to slash.
    /// @param slasher The slasher (zero: slashing disabled).
    event SlasherUpdated(address indexed slasher);

    /// @notice The operator's bond is below the minimum: its signers are not active.
    /// Selector 0x6aa3047b.
    /// @param operator The operator.
    /// @param bonded Its bonded wei.
    /// @param minBond The minimum.
    error OperatorBondsNotBonded(address operator, uint256 bonded, uint256 minBond);

    /// @notice Zero wei bonded or unbonded. Selector 0x75a86662.
    error OperatorBondsZeroAmount();

    /// @notice `unbond` asked for more than is bonded. Selector 0x54fb1b62.
    /// @param operator The operator.
    /// @param bonded Its bonded wei.
    /// @param amount Wei asked for.
    error OperatorBondsInsufficientBond(address operator, uint256 bonded, uint256 amount);

    /// @notice The bond would exceed 2^96 - 1 wei. Selector 0x53ac864d.
    /// @param operator The operator.
    error OperatorBondsOverflow(address operator);

    /// @notice Nothing is unbonding. Selector 0x66233a10.
    /// @param operator The operator.
    error OperatorBondsNothingUnbonding(address operator);

    /// @notice The unbonding delay has not passed. Selector 0xb25c341d.
    /// @param operator The operator.
    /// @param withdrawableAt Unix time from which it can be withdrawn.
    /// @param timestamp The current block time.
    error OperatorBondsStillUnbonding(address operator, uint64 withdrawableAt, uint256 timestamp);

    /// @notice `setMinBond` outside [MIN_BOND_FLOOR, MIN_BOND_CEILING]. Selector 0xf7818149.
    /// @param minBond Requested value.
    error OperatorBondsMinBondOutOfBounds(uint256 minBond);

    /// @notice `setUnbondingDelay` outside [MIN_UNBONDING_DELAY, MAX_UNBONDING_DELAY]. Selector 0xbbd07b9f.
    /// @param unbondingDelay Requested value.
    error OperatorBondsUnbondingDelayOutOfBounds(uint32 unbondingDelay);

    /// @notice Only the slasher may slash. Selector 0xc380f1bc.
    /// @param caller The account that tried.
    error OperatorBondsNotSlasher(address caller);

    /// @notice An ether transfer failed. Selector 0xf00ce17e.
    /// @param recipient The recipient.
    /// @param amount Wei.
    error OperatorBondsTransferFailed(address recipient, uint256 amount);

    /// @notice No reward to withdraw. Selector 0xea3c3bec.
    /// @param reporter The caller.
    error OperatorBondsNoReward(address reporter);

    /// @notice Adds `msg.value` to the caller's bond (first bond or top-up).
    function bond() external payable;

    /// @notice Adds `msg.value` to `operator`'s bond; only `operator` can ever withdraw it.
    /// @param operator The operator to bond for.
    function bondFor(address operator) external payable;

    /// @notice Moves `amount` of the caller's bonded wei to unbonding and (re)starts the delay for
    /// all of its unbonding wei. Reverts OperatorBondsZeroAmount, OperatorBondsInsufficientBond.
    /// @param amount Wei to unbond.
    function unbond(uint256 amount) external;

    /// @notice Sends the caller's unbonding wei to it once the delay has passed.
    /// Reverts OperatorBondsNothingUnbonding, OperatorBondsStillUnbonding, OperatorBondsTransferFailed.
    function withdrawBond() external;

    /// @notice Sends the caller's credited reporter reward to it. Reverts OperatorBondsNoReward.
    function withdrawReward() external;

    /// @notice Slashes the operator of `signer` and revokes it; only the slasher, after it has
    /// checked the evidence. Reverts OperatorBondsNotSlasher, and the registry's
    /// EnclaveRegistryUnknownSigner (never registered) or EnclaveRegistrySignerSlashed (replay).
    /// @param signer The enclave signer the slasher's evidence convicts.
    /// @param reporter Who gets the reporter's share.
    /// @return slashed Wei taken from the operator.
    function slash(address signer, address reporter) external returns (uint256 slashed);

    /// @notice Owner: sets the minimum bond, within [MIN_BOND_FLOOR, MIN_BOND_CEILING].
    /// @param minBond Wei.
    function setMinBond(uint96 minBond) external;

    /// @notice Owner: sets the unbonding delay, within [MIN_UNBONDING_DELAY, MAX_UNBONDING_DELAY].
    /// Applies to unbonding started afterwards.
    /// @param unbondingDelay Seconds.
    function setUnbondingDelay(uint32 unbondingDelay) external;

    /// @notice Owner: sets the contract allowed to slash.
    /// @param slasher The slasher contract.
    function setSlasher(address slasher) external;

    /// @notice `operator`'s stake.
    /// @param operator The operator.
    /// @return The bonded and unbonding wei and when the unbonding wei can be withdrawn.
    function bondOf(address operator) external view returns (Bond memory);

    /// @notice Whether `operator`'s bonded wei is at least `minBond` (its signers can be active).
    /// @param operator The operator.
    /// @return True when bonded.
    function isBonded(address operator) external view returns (bool);

    /// @notice Wei an operator must have bonded for its signers to be active.
    /// @return The minimum bond.
    function minBond() external view returns (uint256);

    /// @notice Seconds between `unbond` and `withdrawBond`.
    /// @return The delay.
    function unbondingDelay() external view returns (uint32);

    /// @notice The contract allowed to slash.
    /// @return Its address.
    function slasher() external view returns (address);

    /// @notice A reporter's credited reward (only when pushing it failed).
    /// @param reporter The reporter.
    /// @return Wei.
    function rewardOf(address reporter) external view returns (uint256);

    /// @notice Wei burnt by slashing so far (locked in this contract, which has no way to move it).
    /// @return Wei.
    function totalBurnt() external view returns (uint256);
}
