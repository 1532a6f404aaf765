// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITypeAndVersion} from "./ITypeAndVersion.sol";

/// @title IEquivocationSlasher
/// @notice Checks evidence that one enclave signer signed two different results for one request and
/// has the EnclaveRegistry slash its operator's bond and revoke it. Anyone may submit evidence; the
/// reporter gets a share of the slashed stake, the rest is burnt (see docs/economics.md).
///
/// A result is the oracle's EIP-712 `InferenceResult(uint256 requestId, bytes32 modelHash,
/// bytes32 inputHash, bytes32 outputHash, uint8 status)` under the InferenceOracle's own domain
/// (read from the oracle at deployment, ERC-5267), signed alone (`fulfil`) or as one element of an
/// `InferenceBatch(bytes32[] results)` (`fulfilBatch`). The same request means the same
/// (requestId, modelHash, inputHash): an honest enclave signs a function of (model, input) alone,
/// so two different (outputHash, status) for them can only come from a broken or malicious key.
/// Results for one request id with different inputs are not evidence: a reorg can replace a
/// request by another with the same id, and an honest node then signs both.
interface IEquivocationSlasher is ITypeAndVersion {
    /// @notice The signed fields of one inference result.
    struct InferenceResult {
        /// @notice The request id.
        uint256 requestId;
        /// @notice sha256 of the model file.
        bytes32 modelHash;
        /// @notice keccak256 of the input bytes.
        bytes32 inputHash;
        /// @notice keccak256 of the output bytes.
        bytes32 outputHash;
        /// @notice `OracleTypes.ResultStatus`.
        uint8 status;
    }

    /// @notice One result with the signature that covers it.
    struct SignedResult {
        /// @notice The result.
        InferenceResult result;
        /// @notice Empty when `signature` is over the `InferenceResult` alone; otherwise the struct
        /// hashes of every result of the `InferenceBatch` the signature covers, in order.
        bytes32[] batch;
        /// @notice Position of `result` in `batch` (ignored when `batch` is empty).
        uint256 index;
        /// @notice The enclave's 65-byte ECDSA signature.
        bytes signature;
    }

    /// @notice Evidence was accepted: `signer` signed two different results for one request.
    /// @param signer The enclave signer.
    /// @param requestId The request.
    /// @param structHashA Struct hash of the first result.
    /// @param structHashB Struct hash of the second result.
    /// @param reporter Who submitted the evidence.
    /// @param slashed Wei taken from the signer's operator.
    event EquivocationProven(
        address indexed signer,
        uint256 indexed requestId,
        bytes32 structHashA,
        bytes32 structHashB,
        address indexed reporter,
        uint256 slashed
    );

    /// @notice Evidence was accepted: for a bit-exact model, `signer` signed a result that disagrees
    /// with the request's final agreed result (which `witness`, another registered key, signed too).
    /// @param signer The enclave signer.
    /// @param requestId The request.
    /// @param structHash Struct hash of the disagreeing result.
    /// @param witness The registered key whose signature binds the final result to the same model and input.
    /// @param reporter Who submitted the evidence.
    /// @param slashed Wei taken from the signer's operator.
    event DisagreementProven(
        address indexed signer,
        uint256 indexed requestId,
        bytes32 structHash,
        address witness,
        address indexed reporter,
        uint256 slashed
    );

    /// @notice The two results are for different request ids. Selector 0x758fc217.
    /// @param requestIdA The first result's request.
    /// @param requestIdB The second result's request.
    error EquivocationSlasherDifferentRequests(uint256 requestIdA, uint256 requestIdB);

    /// @notice The two results have one request id but different models or inputs (e.g. a request
    /// replaced by a reorg): not evidence. Selector 0x5cee9697.
    /// @param requestId The request id.
    error EquivocationSlasherDifferentInputs(uint256 requestId);

    /// @notice The two results have the same output and status: agreeing, not equivocating. Selector 0x7aab9da3.
    /// @param requestId The request.
    error EquivocationSlasherSameResult(uint256 requestId);

    /// @notice The two signatures recover to different signers. Selector 0x5fe781c6.
    /// @param signerA The first signature's signer.
    /// @param signerB The second signature's signer.
    error EquivocationSlasherDifferentSigners(address signerA, address signerB);

    /// @notice `index` is not a position of `batch`. Selector 0x548d0240.
    /// @param index The index given.
    /// @param length The batch's length.
    error EquivocationSlasherIndexOutOfRange(uint256 index, uint256 length);

    /// @notice `batch[index]` is not the struct hash of the result given. Selector 0xa424bc2c.
    /// @param index The index given.
    error EquivocationSlasherResultNotInBatch(uint256 index);

    /// @notice The request has no final agreed result (not final, or redundancy 1). Selector 0x9e3129e7.
    /// @param requestId The request.
    error EquivocationSlasherNotFinal(uint256 requestId);

    /// @notice The witness's result is not the request's final agreed result. Selector 0x6b6e9ffe.
    /// @param requestId The request.
    error EquivocationSlasherWitnessNotFinal(uint256 requestId);

    /// @notice The witness key was never registered in the EnclaveRegistry. Selector 0xac593636.
    /// @param witness The key the witness signature recovers to.
    error EquivocationSlasherUnknownWitness(address witness);

    /// @notice The model named is not the model the results were signed for. Selector 0xbfb3c05c.
    /// @param modelId The model named.
    /// @param modelHash The results' model hash.
    error EquivocationSlasherModelMismatch(uint256 modelId, bytes32 modelHash);

    /// @notice The model is not bit-exact: a float result that disagrees is not paid, never slashed. Selector 0x9281c809.
    /// @param modelId The model.
    error EquivocationSlasherNotBitExact(uint256 modelId);

    /// @notice Checks the evidence and slashes: the operator of the signer that both signatures
    /// recover to loses its whole stake (bonded and unbonding) and the signer is revoked for good.
    /// Valid after the request is final, expired, or never existed on-chain: the two signatures
    /// are the whole proof. Reverts with the errors above, or the registry's
    /// `EnclaveRegistryUnknownSigner` (never registered) and `EnclaveRegistrySignerSlashed` (replay).
    /// @param a One signed result.
    /// @param b Another signed result for the same request.
    /// @return signer The slashed signer.
    /// @return slashed Wei taken from its operator.
    function proveEquivocation(SignedResult calldata a, SignedResult calldata b)
        external
        returns (address signer, uint256 slashed);

    /// @notice Slashes the operator of a key that signed, for a bit-exact model (registry determinism 1),
    /// a result that disagrees with the request's final agreed result (`InferenceOracle.finalResult`,
    /// redundancy above 1). A bit-exact model has one correct output, and k bonded operators agreed
    /// on it. `witness` is a result for the same request, model and input signed by a registered key,
    /// equal to the final result: it binds the final output to the input the accused key signed for
    /// (the oracle keeps only the output of a final request), so a result for a request id that a
    /// reorg gave another input is not evidence. Reverts with the errors above, the registry's, or
    /// `EquivocationSlasherSameResult` when the accused result agrees with the final one.
    /// @param accused The disagreeing signed result.
    /// @param witness A signed result equal to the final one, by a registered key.
    /// @param modelId The model the request was for (its registry entry gives the model's class).
    /// @return signer The slashed signer.
    /// @return slashed Wei taken from its operator.
    function proveDisagreement(SignedResult calldata accused, SignedResult calldata witness, uint256 modelId)
        external
        returns (address signer, uint256 slashed);

    /// @notice The EIP-712 digest a signed result's signature is over (the oracle's domain).
    /// @param s The signed result.
    /// @return The digest.
    function digestOf(SignedResult calldata s) external view returns (bytes32);

    /// @notice The InferenceOracle whose domain the signatures are under.
    /// @return Its address.
    function oracle() external view returns (address);

    /// @notice The EnclaveRegistry that holds the bonds.
    /// @return Its address.
    function registry() external view returns (address);
}
