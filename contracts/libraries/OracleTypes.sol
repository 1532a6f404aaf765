// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title OracleTypes
/// @notice Enumerations and small value types shared by the oracle contracts. They mirror
/// `oracle/src/protocol/constants.ts`; `test/contracts/protocol.test.ts` holds the two equal.
/// On the ABI every enum travels as `uint8`, so the contracts validate the range themselves.
library OracleTypes {
    /// @notice Outcome of one inference, signed by the runner as part of the result.
    enum ResultStatus {
        /// The model ran and the output is `abi.encode(int256[])` of its fixed-point output.
        Ok,
        /// An input value lies outside the range the model's tensor type can hold. Output is empty.
        InputOutOfRange,
        /// The model produced a value that cannot be represented. Output is empty.
        OutputNotRepresentable
    }

    /// @notice Kind of trusted execution environment that attested an enclave signer.
    enum TeeType {
        /// The development platform: a software SIMULATION of a TEE, not hardware-backed.
        DevSimulated,
        AwsNitro,
        IntelSgx,
        IntelTdx,
        AmdSevSnp
    }

    /// @notice Life cycle of a request in the InferenceOracle.
    enum RequestState {
        None,
        Pending,
        Fulfilled,
        Expired
    }

    /// @notice Highest valid `ResultStatus` value.
    uint8 internal constant MAX_RESULT_STATUS = uint8(ResultStatus.OutputNotRepresentable);
    /// @notice Highest valid `TeeType` value.
    uint8 internal constant MAX_TEE_TYPE = uint8(TeeType.AmdSevSnp);
    /// @notice Version of the development-platform report layout. 2 added `operator` (the only
    /// account that may register the report); the registry rejects every other version.
    uint16 internal constant REPORT_VERSION = 2;
    /// @notice Version of the development-platform certificate layout (unchanged since 1).
    uint16 internal constant CERTIFICATE_VERSION = 1;
}

/// @notice A P-256 (secp256r1) signature as two 32-byte words; `s` must be in the lower half of
/// the curve order (OpenZeppelin `P256.verify` rejects the malleable form).
struct P256Sig {
    /// @notice The signature's `r` value.
    bytes32 r;
    /// @notice The signature's `s` value, at most n/2.
    bytes32 s;
}
