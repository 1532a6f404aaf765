// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

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

    /// @notice How a model's request input is encoded (`ModelSpec.inputEncoding`). Outputs are
    /// always `abi.encode(int256[])`.
    enum InputEncoding {
        /// `abi.encode(int256[])`: 64 + 32 * inputLength bytes.
        AbiInt256,
        /// Packed big-endian two's complement int8: inputLength bytes.
        PackedInt8,
        /// Packed big-endian two's complement int16: 2 * inputLength bytes.
        PackedInt16,
        /// Packed big-endian two's complement int32: 4 * inputLength bytes.
        PackedInt32,
        /// Packed big-endian two's complement int64: 8 * inputLength bytes.
        PackedInt64
    }

    /// @notice A model's determinism class (`ModelSpec.determinism`).
    enum Determinism {
        /// Float arithmetic: deterministic only within one runtime build. A disagreeing result is
        /// not paid, but is no proof of misbehaviour.
        Float,
        /// Integer-only: one correct output on any CPU. A disagreeing result is evidence.
        BitExact
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
    /// @notice Highest valid `InputEncoding` value.
    uint8 internal constant MAX_INPUT_ENCODING = uint8(InputEncoding.PackedInt64);
    /// @notice Highest valid `Determinism` value.
    uint8 internal constant MAX_DETERMINISM = uint8(Determinism.BitExact);
    /// @notice Basis points in a whole (a publisher's share is at most this).
    uint16 internal constant BPS = 10_000;
    /// @notice Highest valid `TeeType` value.
    uint8 internal constant MAX_TEE_TYPE = uint8(TeeType.AmdSevSnp);
    /// @notice Version of the development-platform report layout. 2 added `operator` (the only
    /// account that may register the report); the registry rejects every other version.
    uint16 internal constant REPORT_VERSION = 2;
    /// @notice Version of the development-platform certificate layout (unchanged since 1).
    uint16 internal constant CERTIFICATE_VERSION = 1;
    /// @notice EIP-712 type hash of the result an enclave signs (`fulfil`; the evidence of the
    /// EquivocationSlasher), under the InferenceOracle's domain.
    bytes32 internal constant RESULT_TYPEHASH = keccak256(
        "InferenceResult(uint256 requestId,bytes32 modelHash,bytes32 inputHash,bytes32 outputHash,uint8 status)"
    );
    /// @notice EIP-712 type hash of a batch of results signed at once (`fulfilBatch`): the struct
    /// hashes of its `InferenceResult`s, in order.
    bytes32 internal constant BATCH_TYPEHASH = keccak256("InferenceBatch(bytes32[] results)");
}

/// @notice A P-256 (secp256r1) signature as two 32-byte words; `s` must be in the lower half of
/// the curve order (OpenZeppelin `P256.verify` rejects the malleable form).
struct P256Sig {
    /// @notice The signature's `r` value.
    bytes32 r;
    /// @notice The signature's `s` value, at most n/2.
    bytes32 s;
}
