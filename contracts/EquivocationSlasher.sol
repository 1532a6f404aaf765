// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IEnclaveRegistry} from "./interfaces/IEnclaveRegistry.sol";
import {IEquivocationSlasher} from "./interfaces/IEquivocationSlasher.sol";
import {IInferenceOracle} from "./interfaces/IInferenceOracle.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IOperatorBonds} from "./interfaces/IOperatorBonds.sol";
import {ITypeAndVersion} from "./interfaces/ITypeAndVersion.sol";
import {OracleTypes} from "./libraries/OracleTypes.sol";

/// @title EquivocationSlasher
/// @notice Turns two signatures of one enclave key over different results for one request, or one
/// over a bit-exact model's result that disagrees with the final agreed one, into a slash of its
/// operator's bond. See {IEquivocationSlasher}.
/// @dev A contract of its own, not part of the InferenceOracle: the oracle stays under the EIP-170
/// size limit and unchanged, and the evidence check only needs the oracle's EIP-712 domain, which it
/// publishes (ERC-5267) and which is read once here. The registry lets only this contract slash.
contract EquivocationSlasher is IEquivocationSlasher {
    // ---------------------------------------------------------------- constants

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    // ---------------------------------------------------------------- immutables

    address private immutable _oracle;
    IOperatorBonds private immutable _registry;
    bytes32 private immutable _nameHash;
    bytes32 private immutable _versionHash;
    /// @dev The oracle's domain separator on the chain this was deployed on; recomputed on a fork.
    bytes32 private immutable _domainSeparator;
    uint256 private immutable _chainId;

    // ---------------------------------------------------------------- constructor

    /// @param oracle_ The InferenceOracle whose results are evidence (its EIP-712 domain is read here).
    /// @param registry_ The EnclaveRegistry holding the operators' bonds; its owner must then call
    /// `setSlasher` with this contract's address.
    constructor(IERC5267 oracle_, IOperatorBonds registry_) {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            oracle_.eip712Domain();
        _oracle = verifyingContract;
        _registry = registry_;
        _nameHash = keccak256(bytes(name));
        _versionHash = keccak256(bytes(version));
        _chainId = chainId;
        _domainSeparator = _buildSeparator(chainId);
    }

    // ---------------------------------------------------------------- evidence

    /// @inheritdoc IEquivocationSlasher
    function proveEquivocation(SignedResult calldata a, SignedResult calldata b)
        external
        returns (address signer, uint256 slashed)
    {
        InferenceResult calldata ra = a.result;
        InferenceResult calldata rb = b.result;
        _checkSameRequest(ra, rb);
        if (ra.outputHash == rb.outputHash && ra.status == rb.status) revert EquivocationSlasherSameResult(ra.requestId);
        bytes32 hashA = _structHash(ra);
        bytes32 hashB = _structHash(rb);
        signer = _recover(a, hashA);
        address signerB = _recover(b, hashB);
        if (signer != signerB) revert EquivocationSlasherDifferentSigners(signer, signerB);
        slashed = _registry.slash(signer, msg.sender);
        emit EquivocationProven(signer, ra.requestId, hashA, hashB, msg.sender, slashed);
    }

    /// @inheritdoc IEquivocationSlasher
    function proveDisagreement(SignedResult calldata accused, SignedResult calldata witness, uint256 modelId)
        external
        returns (address signer, uint256 slashed)
    {
        InferenceResult calldata r = accused.result;
        InferenceResult calldata w = witness.result;
        _checkSameRequest(r, w);
        _checkFinal(r, w);
        _checkBitExact(modelId, r.modelHash);
        bytes32 structHash = _structHash(r);
        signer = _recover(accused, structHash);
        address witnessSigner = _recover(witness, _structHash(w));
        IEnclaveRegistry registry_ = IEnclaveRegistry(address(_registry));
        if (registry_.getEnclave(witnessSigner).status == IEnclaveRegistry.EnclaveStatus.None) {
            revert EquivocationSlasherUnknownWitness(witnessSigner);
        }
        slashed = _registry.slash(signer, msg.sender);
        emit DisagreementProven(signer, r.requestId, structHash, witnessSigner, msg.sender, slashed);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IEquivocationSlasher
    function digestOf(SignedResult calldata s) external view returns (bytes32) {
        return _digest(s, _structHash(s.result));
    }

    /// @inheritdoc IEquivocationSlasher
    function oracle() external view returns (address) {
        return _oracle;
    }

    /// @inheritdoc IEquivocationSlasher
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc ITypeAndVersion
    function typeAndVersion() external pure returns (string memory) {
        return "EquivocationSlasher 1.0.0";
    }

    // ---------------------------------------------------------------- internal

    /// @dev Reverts unless the two results are for the same request: one request id, and the same
    /// model and input (a request id that a reorg gave another input is another request).
    function _checkSameRequest(InferenceResult calldata a, InferenceResult calldata b) private pure {
        if (a.requestId != b.requestId) revert EquivocationSlasherDifferentRequests(a.requestId, b.requestId);
        if (a.modelHash != b.modelHash || a.inputHash != b.inputHash) revert EquivocationSlasherDifferentInputs(a.requestId);
    }

    /// @dev Reverts unless the request has a final agreed result (k > 1), the witness's result is it,
    /// and the accused result is not.
    function _checkFinal(InferenceResult calldata accused, InferenceResult calldata witness) private view {
        (bytes32 outputHash, uint8 status) = IInferenceOracle(_oracle).finalResult(accused.requestId);
        if (outputHash == bytes32(0)) revert EquivocationSlasherNotFinal(accused.requestId);
        if (witness.outputHash != outputHash || witness.status != status) {
            revert EquivocationSlasherWitnessNotFinal(accused.requestId);
        }
        if (accused.outputHash == outputHash && accused.status == status) revert EquivocationSlasherSameResult(accused.requestId);
    }

    /// @dev Reverts unless `modelId` is the model of `modelHash` and is bit-exact.
    function _checkBitExact(uint256 modelId, bytes32 modelHash) private view {
        IModelRegistry.Model memory m = IModelRegistry(IInferenceOracle(_oracle).modelRegistry()).getModel(modelId);
        if (m.modelHash != modelHash) revert EquivocationSlasherModelMismatch(modelId, modelHash);
        if (m.determinism != uint8(OracleTypes.Determinism.BitExact)) revert EquivocationSlasherNotBitExact(modelId);
    }

    /// @dev The signer of `s`, whose result's struct hash is `structHash`.
    function _recover(SignedResult calldata s, bytes32 structHash) private view returns (address) {
        return ECDSA.recoverCalldata(_digest(s, structHash), s.signature);
    }

    /// @dev EIP-712 digest of the message `s.signature` covers: the result itself, or the batch that
    /// holds its struct hash at `s.index`.
    function _digest(SignedResult calldata s, bytes32 structHash) private view returns (bytes32) {
        uint256 n = s.batch.length;
        if (n == 0) return MessageHashUtils.toTypedDataHash(_separator(), structHash);
        if (s.index >= n) revert EquivocationSlasherIndexOutOfRange(s.index, n);
        if (s.batch[s.index] != structHash) revert EquivocationSlasherResultNotInBatch(s.index);
        bytes32 batchHash = keccak256(abi.encode(OracleTypes.BATCH_TYPEHASH, keccak256(abi.encodePacked(s.batch))));
        return MessageHashUtils.toTypedDataHash(_separator(), batchHash);
    }

    /// @dev EIP-712 struct hash of `InferenceResult`, as the oracle's `_resultStructHash`.
    function _structHash(InferenceResult calldata r) private pure returns (bytes32) {
        return keccak256(abi.encode(OracleTypes.RESULT_TYPEHASH, r.requestId, r.modelHash, r.inputHash, r.outputHash, r.status));
    }

    function _separator() private view returns (bytes32) {
        return block.chainid == _chainId ? _domainSeparator : _buildSeparator(block.chainid);
    }

    function _buildSeparator(uint256 chainId) private view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, _nameHash, _versionHash, chainId, _oracle));
    }
}
