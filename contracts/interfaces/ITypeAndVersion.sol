// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ITypeAndVersion
/// @notice Deployed contracts name themselves and their version, so tools can tell what they talk to.
interface ITypeAndVersion {
    /// @notice The contract's type and version, e.g. "InferenceOracle 1.0.0".
    function typeAndVersion() external pure returns (string memory);
}
