// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {ITypeAndVersion} from "./interfaces/ITypeAndVersion.sol";
import {OracleTypes} from "./libraries/OracleTypes.sol";

/// @title ModelRegistry
/// @notice Models the oracle serves, each owned by its publisher. A model's hash and tensor sizes
/// never change (a new file is a new model); its fee and allowed measurements do.
contract ModelRegistry is IModelRegistry {
    // ---------------------------------------------------------------- storage

    /// @dev modelId => model. Ids start at 1, so id 0 is never registered.
    mapping(uint256 modelId => Model) private _models;
    /// @dev modelId => runner measurement => zero if the measurement is not allowed, else the
    /// serving word: outputLength (bits 0-31, at least 1) | publisherShareBps (32-47) | publisher
    /// (48-207). Keeping these in the allowance word lets `servingTerms` answer the oracle from one
    /// storage read; none of them ever changes after registration.
    mapping(uint256 modelId => mapping(bytes32 measurement => uint256)) private _allowed;
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
        _checkSpec(spec);
        modelId = ++_modelCount;
        _models[modelId] = Model({
            modelHash: spec.modelHash,
            fee: spec.fee,
            inputLength: spec.inputLength,
            outputLength: spec.outputLength,
            decimals: spec.decimals,
            active: true,
            inputEncoding: spec.inputEncoding,
            determinism: spec.determinism,
            publisherShareBps: spec.publisherShareBps,
            publisher: msg.sender,
            uri: spec.uri
        });
        _emitRegistered(modelId, spec);
        uint256 serving = _servingWord(spec.outputLength, spec.publisherShareBps, msg.sender);
        for (uint256 i = 0; i < measurements.length; ++i) {
            _setMeasurement(modelId, measurements[i], true, serving);
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
        Model storage model = _models[modelId];
        _setMeasurement(
            modelId, measurement, allowed, _servingWord(model.outputLength, model.publisherShareBps, msg.sender)
        );
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
        returns (bytes32 modelHash, uint32 inputLength, uint8 inputEncoding, uint96 fee, bool active)
    {
        Model storage model = _models[modelId];
        return (model.modelHash, model.inputLength, model.inputEncoding, model.fee, model.active);
    }

    /// @inheritdoc IModelRegistry
    function servingTerms(uint256 modelId, bytes32 measurement)
        external
        view
        returns (uint32 outputLength, bool allowed, address publisher, uint16 publisherShareBps)
    {
        uint256 word = _allowed[modelId][measurement];
        if (word == 0) {
            Model storage model = _models[modelId];
            return (model.outputLength, false, model.publisher, model.publisherShareBps);
        }
        return (uint32(word), true, address(uint160(word >> 48)), uint16(word >> 32));
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    /// @inheritdoc ITypeAndVersion
    function typeAndVersion() external pure returns (string memory) {
        return "ModelRegistry 2.0.0";
    }

    // ---------------------------------------------------------------- internal

    /// @dev Reverts with the named error for the first field a publisher got wrong.
    function _checkSpec(ModelSpec calldata spec) private pure {
        if (spec.modelHash == bytes32(0)) revert ModelRegistryEmptyModelHash();
        if (spec.inputLength == 0 || spec.outputLength == 0) {
            revert ModelRegistryInvalidTensorLength(spec.inputLength, spec.outputLength);
        }
        if (spec.inputEncoding > OracleTypes.MAX_INPUT_ENCODING) {
            revert ModelRegistryInvalidInputEncoding(spec.inputEncoding);
        }
        if (spec.determinism > OracleTypes.MAX_DETERMINISM) revert ModelRegistryInvalidDeterminism(spec.determinism);
        if (spec.publisherShareBps > OracleTypes.BPS) revert ModelRegistryInvalidPublisherShare(spec.publisherShareBps);
    }

    function _emitRegistered(uint256 modelId, ModelSpec calldata spec) private {
        emit ModelRegistered(
            modelId,
            msg.sender,
            spec.modelHash,
            spec.inputLength,
            spec.outputLength,
            spec.decimals,
            spec.fee,
            spec.uri,
            spec.inputEncoding,
            spec.determinism,
            spec.publisherShareBps
        );
    }

    /// @dev The allowance word of an allowed measurement (see `_allowed`); never zero, as the
    /// output length is at least 1.
    function _servingWord(uint32 outputLength, uint16 publisherShareBps, address publisher)
        private
        pure
        returns (uint256)
    {
        return uint256(outputLength) | (uint256(publisherShareBps) << 32) | (uint256(uint160(publisher)) << 48);
    }

    function _setMeasurement(uint256 modelId, bytes32 measurement, bool allowed, uint256 servingWord) private {
        if (measurement == bytes32(0)) revert ModelRegistryEmptyMeasurement();
        _allowed[modelId][measurement] = allowed ? servingWord : 0;
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
