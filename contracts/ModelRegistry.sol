// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {ITypeAndVersion} from "./interfaces/ITypeAndVersion.sol";

/// @title ModelRegistry
/// @notice Models the oracle serves, each owned by its publisher. A model's hash and tensor sizes
/// never change (a new file is a new model); its fee and allowed measurements do.
contract ModelRegistry is IModelRegistry {
    // ---------------------------------------------------------------- storage

    /// @dev modelId => model. Ids start at 1, so id 0 is never registered.
    mapping(uint256 modelId => Model) private _models;
    /// @dev modelId => runner measurement => the model's output length if the measurement is
    /// allowed, else zero (output lengths are at least 1). Keeping the length in the allowance word
    /// lets `servingTerms` answer the oracle from one storage read; the length never changes.
    mapping(uint256 modelId => mapping(bytes32 measurement => uint32)) private _allowed;
    /// @dev Number of models registered; the last id handed out.
    uint256 private _modelCount;

    // ---------------------------------------------------------------- modifiers

    modifier onlyPublisher(uint256 modelId) {
        _checkPublisher(modelId);
        _;
    }

    // ---------------------------------------------------------------- publisher functions

    /// @inheritdoc IModelRegistry
    function registerModel(ModelSpec calldata spec, bytes32[] calldata measurements)
        external
        returns (uint256 modelId)
    {
        if (spec.modelHash == bytes32(0)) revert ModelRegistryEmptyModelHash();
        if (spec.inputLength == 0 || spec.outputLength == 0) {
            revert ModelRegistryInvalidTensorLength(spec.inputLength, spec.outputLength);
        }
        modelId = ++_modelCount;
        _models[modelId] = Model({
            modelHash: spec.modelHash,
            fee: spec.fee,
            inputLength: spec.inputLength,
            outputLength: spec.outputLength,
            decimals: spec.decimals,
            active: true,
            publisher: msg.sender,
            uri: spec.uri
        });
        emit ModelRegistered(
            modelId, msg.sender, spec.modelHash, spec.inputLength, spec.outputLength, spec.decimals, spec.fee, spec.uri
        );
        for (uint256 i = 0; i < measurements.length; ++i) {
            _setMeasurement(modelId, measurements[i], true, spec.outputLength);
        }
    }

    /// @inheritdoc IModelRegistry
    function setFee(uint256 modelId, uint96 fee) external onlyPublisher(modelId) {
        _requireActive(modelId);
        _models[modelId].fee = fee;
        emit ModelFeeUpdated(modelId, fee);
    }

    /// @inheritdoc IModelRegistry
    function setMeasurement(uint256 modelId, bytes32 measurement, bool allowed) external onlyPublisher(modelId) {
        _setMeasurement(modelId, measurement, allowed, _models[modelId].outputLength);
    }

    /// @inheritdoc IModelRegistry
    function deactivate(uint256 modelId) external onlyPublisher(modelId) {
        _requireActive(modelId);
        _models[modelId].active = false;
        emit ModelDeactivated(modelId);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IModelRegistry
    function getModel(uint256 modelId) external view returns (Model memory) {
        Model memory model = _models[modelId];
        if (model.modelHash == bytes32(0)) revert ModelRegistryUnknownModel(modelId);
        return model;
    }

    /// @inheritdoc IModelRegistry
    function isMeasurementAllowed(uint256 modelId, bytes32 measurement) external view returns (bool) {
        return _allowed[modelId][measurement] != 0;
    }

    /// @inheritdoc IModelRegistry
    function requestTerms(uint256 modelId)
        external
        view
        returns (bytes32 modelHash, uint32 inputLength, uint96 fee, bool active)
    {
        Model storage model = _models[modelId];
        return (model.modelHash, model.inputLength, model.fee, model.active);
    }

    /// @inheritdoc IModelRegistry
    function servingTerms(uint256 modelId, bytes32 measurement)
        external
        view
        returns (uint32 outputLength, bool allowed)
    {
        outputLength = _allowed[modelId][measurement];
        if (outputLength != 0) return (outputLength, true);
        return (_models[modelId].outputLength, false);
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    /// @inheritdoc ITypeAndVersion
    function typeAndVersion() external pure returns (string memory) {
        return "ModelRegistry 1.0.0";
    }

    // ---------------------------------------------------------------- internal

    function _setMeasurement(uint256 modelId, bytes32 measurement, bool allowed, uint32 outputLength) private {
        if (measurement == bytes32(0)) revert ModelRegistryEmptyMeasurement();
        _allowed[modelId][measurement] = allowed ? outputLength : 0;
        emit ModelMeasurementUpdated(modelId, measurement, allowed);
    }

    /// @dev Reverts unless the caller published `modelId`.
    function _checkPublisher(uint256 modelId) private view {
        address publisher = _models[modelId].publisher;
        if (publisher == address(0)) revert ModelRegistryUnknownModel(modelId);
        if (publisher != msg.sender) revert ModelRegistryNotPublisher(modelId, msg.sender);
    }

    /// @dev Deactivation is final, so a deactivated model's fee no longer changes. Its measurements
    /// still do: the publisher may need to stop a bad runner from serving the pending requests.
    function _requireActive(uint256 modelId) private view {
        if (!_models[modelId].active) revert ModelRegistryModelInactive(modelId);
    }
}
