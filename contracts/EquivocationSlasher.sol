// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IEquivocationSlasher} from "./interfaces/IEquivocationSlasher.sol";
import {IOperatorBonds} from "./interfaces/IOperatorBonds.sol";
import {ITypeAndVersion} from "./interfaces/ITypeAndVersion.sol";

/// @title EquivocationSlasher
/// @notice Turns two signatures of one enclave key over different results for one request into a
/// slash of its operator's bond. See {IEquivocationSlasher}.
/// @dev A contract of its own, not part of the InferenceOracle: the oracle stays under the EIP-170
/// size limit and unchanged, and the evidence check only needs the oracle's EIP-712 domain, which it
/// publishes (ERC-5267) and which is read once here. The registry lets only this contract slash.
contract EquivocationSlasher is IEquivocationSlasher {
    // ---------------------------------------------------------------- constants

    bytes32 private constant _RESULT_TYPEHASH = keccak256(
        "InferenceResult(uint256 requestId,bytes32 modelHash,bytes32 inputHash,bytes32 outputHash,uint8 status)"
    );
    bytes32 private constant _BATCH_TYPEHASH = keccak256("InferenceBatch(bytes32[] results)");
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
        if (ra.requestId != rb.requestId) revert EquivocationSlasherDifferentRequests(ra.requestId, rb.requestId);
        if (ra.modelHash != rb.modelHash || ra.inputHash != rb.inputHash) {
            revert EquivocationSlasherDifferentInputs(ra.requestId);
        }
        if (ra.outputHash == rb.outputHash && ra.status == rb.status) revert EquivocationSlasherSameResult(ra.requestId);
        bytes32 hashA = _structHash(ra);
        bytes32 hashB = _structHash(rb);
        signer = _recover(a, hashA);
        address signerB = _recover(b, hashB);
        if (signer != signerB) revert EquivocationSlasherDifferentSigners(signer, signerB);
        slashed = _registry.slash(signer, msg.sender);
        emit EquivocationProven(signer, ra.requestId, hashA, hashB, msg.sender, slashed);
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
        bytes32 batchHash = keccak256(abi.encode(_BATCH_TYPEHASH, keccak256(abi.encodePacked(s.batch))));
        return MessageHashUtils.toTypedDataHash(_separator(), batchHash);
    }

    /// @dev EIP-712 struct hash of `InferenceResult`, as the oracle's `_resultStructHash`.
    function _structHash(InferenceResult calldata r) private pure returns (bytes32) {
        return keccak256(abi.encode(_RESULT_TYPEHASH, r.requestId, r.modelHash, r.inputHash, r.outputHash, r.status));
    }

    function _separator() private view returns (bytes32) {
        return block.chainid == _chainId ? _domainSeparator : _buildSeparator(block.chainid);
    }

    function _buildSeparator(uint256 chainId) private view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, _nameHash, _versionHash, chainId, _oracle));
    }
}
