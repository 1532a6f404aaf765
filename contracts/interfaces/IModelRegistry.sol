// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITypeAndVersion} from "./ITypeAndVersion.sol";

/// @title IModelRegistry
/// @notice Models that the oracle serves: the sha256 of the ONNX file, tensor sizes, fee, and the
/// runner measurements the publisher allows to serve it. Only a model's publisher changes it.
interface IModelRegistry is ITypeAndVersion {
    /// @notice What a publisher registers.
    struct ModelSpec {
        /// @notice sha256 of the .onnx file bytes.
        bytes32 modelHash;
        /// @notice Number of int256 values in the input tensor.
        uint32 inputLength;
        /// @notice Number of int256 values in the output tensor.
        uint32 outputLength;
        /// @notice Fixed-point decimals of input and output (value = v / 10^decimals).
        uint8 decimals;
        /// @notice Fee in wei per enclave that runs the model (a request of redundancy k pays k times).
        uint96 fee;
        /// @notice Where the model file can be fetched (it is checked against `modelHash`).
        string uri;
        /// @notice `OracleTypes.InputEncoding` of request inputs: 0 `abi.encode(int256[])`; 1..4
        /// packed big-endian two's complement int8, int16, int32, int64, exactly
        /// `inputLength * width` bytes. Outputs are always `abi.encode(int256[])`.
        uint8 inputEncoding;
        /// @notice `OracleTypes.Determinism`: 0 float (deterministic only within one runtime
        /// build), 1 bit-exact (integer-only: one correct output on any CPU).
        uint8 determinism;
        /// @notice The publisher's share of every fee, in basis points (at most 10 000); fixed at
        /// registration, so a requester's split never changes under it.
        uint16 publisherShareBps;
    }

    /// @notice A registered model. Field order keeps the hot fields in two storage slots.
    struct Model {
        /// @notice sha256 of the .onnx file bytes; never changes.
        bytes32 modelHash;
        /// @notice Fee in wei per enclave that runs the model.
        uint96 fee;
        /// @notice Number of int256 values in the input tensor; never changes.
        uint32 inputLength;
        /// @notice Number of int256 values in the output tensor; never changes.
        uint32 outputLength;
        /// @notice Fixed-point decimals of input and output; never changes.
        uint8 decimals;
        /// @notice False once the publisher deactivated the model: no new requests.
        bool active;
        /// @notice `OracleTypes.InputEncoding` of request inputs; never changes.
        uint8 inputEncoding;
        /// @notice `OracleTypes.Determinism` of the model; never changes.
        uint8 determinism;
        /// @notice The publisher's share of every fee, basis points; never changes.
        uint16 publisherShareBps;
        /// @notice The account that registered the model, alone may change it, and receives its
        /// share of the fees.
        address publisher;
        /// @notice Where the model file can be fetched.
        string uri;
    }

    /// @notice A model was registered.
    /// @param modelId The new model's id (sequential from 1).
    /// @param publisher The account that registered it.
    /// @param modelHash sha256 of the .onnx file bytes.
    /// @param inputLength Number of input values.
    /// @param outputLength Number of output values.
    /// @param decimals Fixed-point decimals.
    /// @param fee Fee in wei per enclave.
    /// @param uri Where the model file can be fetched.
    /// @param inputEncoding `OracleTypes.InputEncoding` of request inputs.
    /// @param determinism `OracleTypes.Determinism` of the model.
    /// @param publisherShareBps The publisher's share of every fee, basis points.
    event ModelRegistered(
        uint256 indexed modelId,
        address indexed publisher,
        bytes32 indexed modelHash,
        uint32 inputLength,
        uint32 outputLength,
        uint8 decimals,
        uint96 fee,
        string uri,
        uint8 inputEncoding,
        uint8 determinism,
        uint16 publisherShareBps
    );

    /// @notice A model's fee changed; requests made before keep the fee they paid.
    /// @param modelId The model.
    /// @param fee The new fee in wei per enclave.
    event ModelFeeUpdated(uint256 indexed modelId, uint96 fee);

    /// @notice A runner measurement was allowed or disallowed for a model.
    /// @param modelId The model.
    /// @param measurement The runner measurement.
    /// @param allowed Whether enclaves with that measurement may serve the model.
    event ModelMeasurementUpdated(uint256 indexed modelId, bytes32 indexed measurement, bool allowed);

    /// @notice A model was deactivated: it takes no new requests; pending ones may still be served.
    /// @param modelId The model.
    event ModelDeactivated(uint256 indexed modelId);

    /// @notice No model has this id. Selector 0xed88f2a4.
    /// @param modelId The id asked for.
    error ModelRegistryUnknownModel(uint256 modelId);

    /// @notice Only the model's publisher may change it. Selector 0x87bb1cf0.
    /// @param modelId The model.
    /// @param caller The account that tried.
    error ModelRegistryNotPublisher(uint256 modelId, address caller);

    /// @notice The model is deactivated. Selector 0xfccdf4a0.
    /// @param modelId The model.
    error ModelRegistryModelInactive(uint256 modelId);

    /// @notice The model hash is zero. Selector 0x38e53d2a.
    error ModelRegistryEmptyModelHash();

    /// @notice Input and output must each have at least one value. Selector 0xdb60c6fa.
    /// @param inputLength The input length given.
    /// @param outputLength The output length given.
    error ModelRegistryInvalidTensorLength(uint32 inputLength, uint32 outputLength);

    /// @notice A measurement is zero. Selector 0x21a20169.
    error ModelRegistryEmptyMeasurement();

    /// @notice The input encoding is not an `OracleTypes.InputEncoding` (0..4). Selector 0xf4a7e5a0.
    /// @param inputEncoding The encoding given.
    error ModelRegistryInvalidInputEncoding(uint8 inputEncoding);

    /// @notice The determinism class is not an `OracleTypes.Determinism` (0 or 1). Selector 0xe30be0b4.
    /// @param determinism The class given.
    error ModelRegistryInvalidDeterminism(uint8 determinism);

    /// @notice The publisher's share is above 10 000 basis points. Selector 0x5d56758f.
    /// @param publisherShareBps The share given.
    error ModelRegistryInvalidPublisherShare(uint16 publisherShareBps);

    /// @notice Registers a model; the caller becomes its publisher.
    /// @param spec The model's hash, tensor sizes, decimals, fee, URI, input encoding, determinism
    /// class and the publisher's share of the fee.
    /// @param measurements Runner measurements allowed to serve it from the start.
    /// @return modelId The new model's id, sequential from 1.
    function registerModel(ModelSpec calldata spec, bytes32[] calldata measurements)
        external
        returns (uint256 modelId);

    /// @notice Sets a model's fee per enclave. Publisher only.
    /// @param modelId The model.
    /// @param fee The new fee in wei.
    function setFee(uint256 modelId, uint96 fee) external;

    /// @notice Allows or disallows a runner measurement for a model, with effect on pending
    /// requests too. Publisher only.
    /// @param modelId The model.
    /// @param measurement The runner measurement.
    /// @param allowed Whether enclaves with that measurement may serve the model.
    function setMeasurement(uint256 modelId, bytes32 measurement, bool allowed) external;

    /// @notice Deactivates a model for good: no new requests. Publisher only.
    /// @param modelId The model.
    function deactivate(uint256 modelId) external;

    /// @notice A registered model; reverts with `ModelRegistryUnknownModel` for an unknown id.
    /// @param modelId The model.
    function getModel(uint256 modelId) external view returns (Model memory);

    /// @notice Whether enclaves with `measurement` may serve the model (false for an unknown model).
    /// @param modelId The model.
    /// @param measurement The runner measurement.
    function isMeasurementAllowed(uint256 modelId, bytes32 measurement) external view returns (bool);

    /// @notice The fields the oracle checks when a request is made, in two storage reads.
    /// Returns zeros for an unknown model (the caller names the error).
    /// @param modelId The model.
    /// @return modelHash sha256 of the model file (zero if unknown).
    /// @return inputLength Number of input values.
    /// @return inputEncoding `OracleTypes.InputEncoding` of the input.
    /// @return fee Fee in wei per enclave.
    /// @return active Whether the model takes new requests.
    function requestTerms(uint256 modelId)
        external
        view
        returns (bytes32 modelHash, uint32 inputLength, uint8 inputEncoding, uint96 fee, bool active);

    /// @notice The fields the oracle needs when a result is submitted, in one storage read when
    /// the measurement is allowed (the allowance word holds the output length, the publisher and
    /// its share, none of which ever changes).
    /// @param modelId The model.
    /// @param measurement The submitting enclave's measurement.
    /// @return outputLength Number of output values (zero if unknown).
    /// @return allowed Whether `measurement` may serve the model.
    /// @return publisher The model's publisher, who receives its share of the fee.
    /// @return publisherShareBps The publisher's share of the fee, basis points.
    function servingTerms(uint256 modelId, bytes32 measurement)
        external
        view
        returns (uint32 outputLength, bool allowed, address publisher, uint16 publisherShareBps);

    /// @notice Number of models registered so far (the highest model id).
    function modelCount() external view returns (uint256);
}
