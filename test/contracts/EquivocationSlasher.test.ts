/**
 * EquivocationSlasher: two results one enclave key signed for one request (alone or inside a
 * batch) slash its operator's whole stake and revoke the key; every kind of forged or reused
 * evidence is refused with its named error.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import { Contract, Wallet, id, parseEther } from "ethers";
import { deployContract } from "../../scripts/lib/deploy-contracts";
import {
  IRIS, IRIS_OUTPUT, MEASUREMENT, ResultStatus, type OracleFixture, type SignedEvidence, batchEvidence, deployOracleFixture,
  encodeTensor, registerEnclave, registerModel, requestFrom, resultFor, signBatch, signResult, singleEvidence,
} from "../helpers/fixtures";
import { Determinism, batchDigest, oracleDomain, resultDigest, resultStructHash } from "../helpers/protocol";

const MIN_BOND = parseEther("1");
const OTHER_OUTPUT = encodeTensor([1n, 2n, 3n]);
const SLASHED_STATUS = 4; // IEnclaveRegistry.EnclaveStatus.Slashed

describe("EquivocationSlasher", () => {
  async function fixture() {
    const f = await loadFixture(deployOracleFixture);
    const signer = await registerEnclave(f, f.operatorA);
    const c = await requestFrom(f, f.user);
    const prove = (a: SignedEvidence, b: SignedEvidence) => (f.slasher.connect(f.stranger) as Contract).proveEquivocation(a, b);
    return { ...f, signer, c, prove };
  }

  async function expectSlashed(f: OracleFixture, signer: Wallet, tx: Promise<unknown>, stake: bigint) {
    const reward = stake / 10n;
    const response = await tx;
    await expect(response).to.emit(f.enclaveRegistry, "BondSlashed").withArgs(signer.address, f.operatorA.address, f.stranger.address, stake, reward, stake - reward)
      .and.to.emit(f.enclaveRegistry, "EnclaveRevoked").withArgs(signer.address);
    await expect(response).to.changeEtherBalances([f.stranger, f.enclaveRegistry], [reward, -reward]);
    const b = await f.enclaveRegistry.bondOf(f.operatorA.address);
    expect([b.bonded, b.unbonding]).to.deep.equal([0n, 0n]);
    expect((await f.enclaveRegistry.getEnclave(signer.address)).status).to.equal(SLASHED_STATUS);
    expect(await f.enclaveRegistry.totalBurnt()).to.equal(stake - reward);
    await expect(f.enclaveRegistry.activeEnclave(signer.address))
      .to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistrySignerRevoked").withArgs(signer.address);
  }

  describe("evidence that slashes", () => {
    it("slashes for two single results with different outputs, pays the reporter 10 % and burns the rest", async () => {
      const f = await fixture();
      const a = singleEvidence(f.signer, f.domain, f.c);
      const b = singleEvidence(f.signer, f.domain, f.c, OTHER_OUTPUT);
      const tx = f.prove(a, b);
      await expect(tx).to.emit(f.slasher, "EquivocationProven")
        .withArgs(f.signer.address, f.c.requestId, resultStructHash(a.result), resultStructHash(b.result), f.stranger.address, MIN_BOND);
      await expectSlashed(f, f.signer, tx, MIN_BOND);
    });

    it("slashes for the same output signed with two statuses", async () => {
      const f = await fixture();
      const tx = f.prove(singleEvidence(f.signer, f.domain, f.c), singleEvidence(f.signer, f.domain, f.c, "0x", ResultStatus.InputOutOfRange));
      await expectSlashed(f, f.signer, tx, MIN_BOND);
    });

    it("slashes for a single result against a result inside a batch", async () => {
      const f = await fixture();
      const other = await requestFrom(f, f.user);
      const batch = batchEvidence(f.signer, f.domain, [
        { request: other, output: IRIS_OUTPUT, status: ResultStatus.Ok },
        { request: f.c, output: OTHER_OUTPUT, status: ResultStatus.Ok },
      ], 1);
      await expectSlashed(f, f.signer, f.prove(singleEvidence(f.signer, f.domain, f.c), batch), MIN_BOND);
    });

    it("slashes for two batches that disagree on one item", async () => {
      const f = await fixture();
      const a = batchEvidence(f.signer, f.domain, [{ request: f.c, output: IRIS_OUTPUT, status: ResultStatus.Ok }], 0);
      const b = batchEvidence(f.signer, f.domain, [{ request: f.c, output: OTHER_OUTPUT, status: ResultStatus.Ok }], 0);
      await expectSlashed(f, f.signer, f.prove(a, b), MIN_BOND);
    });

    it("counts after the request is final: a fulfilled result and a conflicting one signed later", async () => {
      const f = await fixture();
      await (f.oracle.connect(f.relayer) as Contract).fulfil(f.c, IRIS_OUTPUT, 0, signResult(f.signer, f.domain, f.c));
      expect(await f.oracle.requestState(f.c.requestId)).to.equal(2n);
      await expectSlashed(f, f.signer, f.prove(singleEvidence(f.signer, f.domain, f.c), singleEvidence(f.signer, f.domain, f.c, OTHER_OUTPUT)), MIN_BOND);
    });

    it("still slashes an operator that equivocates and then unbonds everything: it cannot withdraw what was slashed", async () => {
      const f = await fixture();
      const ops = f.enclaveRegistry.connect(f.operatorA) as Contract;
      await ops.bond({ value: parseEther("2") });
      await ops.unbond(parseEther("2.5"));
      await expectSlashed(f, f.signer, f.prove(singleEvidence(f.signer, f.domain, f.c), singleEvidence(f.signer, f.domain, f.c, OTHER_OUTPUT)), parseEther("3"));
      await time.increase(7 * 24 * 3600);
      await expect(ops.withdrawBond()).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNothingUnbonding").withArgs(f.operatorA.address);
    });

    it("still slashes through a key its operator retired, or the owner revoked, before the evidence surfaced", async () => {
      const f = await fixture();
      await (f.enclaveRegistry.connect(f.operatorA) as Contract).retireSigner(f.signer.address);
      await expectSlashed(f, f.signer, f.prove(singleEvidence(f.signer, f.domain, f.c), singleEvidence(f.signer, f.domain, f.c, OTHER_OUTPUT)), MIN_BOND);
      const revoked = await registerEnclave(f, f.operatorA);
      await f.enclaveRegistry.bondFor(f.operatorA.address, { value: MIN_BOND });
      await f.enclaveRegistry.revokeSigner(revoked.address);
      await expect(f.prove(singleEvidence(revoked, f.domain, f.c), singleEvidence(revoked, f.domain, f.c, OTHER_OUTPUT)))
        .to.emit(f.enclaveRegistry, "BondSlashed");
    });

    it("leaves an operator that reports its own equivocation with only the reporter's share", async () => {
      const f = await fixture();
      const before = await ethers.provider.getBalance(f.operatorA.address);
      const tx = await (f.slasher.connect(f.operatorA) as Contract).proveEquivocation(
        singleEvidence(f.signer, f.domain, f.c), singleEvidence(f.signer, f.domain, f.c, OTHER_OUTPUT));
      const receipt = (await tx.wait()) as { gasUsed: bigint; gasPrice: bigint };
      const after = await ethers.provider.getBalance(f.operatorA.address);
      expect(after - before + receipt.gasUsed * receipt.gasPrice).to.equal(MIN_BOND / 10n);
    });

    it("credits the reward of a reporter that needs more gas than the stipend, which withdraws it later", async () => {
      const f = await fixture();
      const reporter = await deployContract(f.deployer, "GasHungryReceiver");
      const data = f.slasher.interface.encodeFunctionData("proveEquivocation", [
        singleEvidence(f.signer, f.domain, f.c), singleEvidence(f.signer, f.domain, f.c, OTHER_OUTPUT)]);
      await expect(reporter.call(await f.slasher.getAddress(), data))
        .to.emit(f.enclaveRegistry, "RewardCredited").withArgs(await reporter.getAddress(), MIN_BOND / 10n);
      expect(await f.enclaveRegistry.rewardOf(await reporter.getAddress())).to.equal(MIN_BOND / 10n);
      const withdraw = f.enclaveRegistry.interface.encodeFunctionData("withdrawReward");
      await expect(reporter.call(await f.enclaveRegistry.getAddress(), withdraw))
        .to.emit(f.enclaveRegistry, "RewardWithdrawn").withArgs(await reporter.getAddress(), MIN_BOND / 10n);
      expect(await reporter.received()).to.equal(MIN_BOND / 10n);
      await expect(reporter.call(await f.enclaveRegistry.getAddress(), withdraw))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNoReward").withArgs(await reporter.getAddress());
    });
  });

  describe("forged or reused evidence", () => {
    it("refuses results for two different requests", async () => {
      const f = await fixture();
      const other = await requestFrom(f, f.user);
      await expect(f.prove(singleEvidence(f.signer, f.domain, f.c), singleEvidence(f.signer, f.domain, other, OTHER_OUTPUT)))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherDifferentRequests").withArgs(f.c.requestId, other.requestId);
    });

    it("refuses one request id with two inputs (a request replaced by a reorg, signed honestly twice)", async () => {
      const f = await fixture();
      const replaced = { ...f.c, inputHash: ethers.keccak256(encodeTensor([1n, 1n, 1n, 1n])) };
      await expect(f.prove(singleEvidence(f.signer, f.domain, f.c), singleEvidence(f.signer, f.domain, replaced, OTHER_OUTPUT)))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherDifferentInputs").withArgs(f.c.requestId);
    });

    it("refuses the same output twice, even once alone and once in a batch", async () => {
      const f = await fixture();
      const batch = batchEvidence(f.signer, f.domain, [{ request: f.c, output: IRIS_OUTPUT, status: ResultStatus.Ok }], 0);
      await expect(f.prove(singleEvidence(f.signer, f.domain, f.c), batch))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherSameResult").withArgs(f.c.requestId);
    });

    it("refuses two results signed by two different keys (two operators disagreeing is not equivocation)", async () => {
      const f = await fixture();
      const other = await registerEnclave(f, f.operatorB);
      await expect(f.prove(singleEvidence(f.signer, f.domain, f.c), singleEvidence(other, f.domain, f.c, OTHER_OUTPUT)))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherDifferentSigners").withArgs(f.signer.address, other.address);
    });

    it("refuses a signer that was never registered", async () => {
      const f = await fixture();
      const rogue = new Wallet(Wallet.createRandom().privateKey);
      await expect(f.prove(singleEvidence(rogue, f.domain, f.c), singleEvidence(rogue, f.domain, f.c, OTHER_OUTPUT)))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistryUnknownSigner").withArgs(rogue.address);
    });

    it("refuses evidence replayed after it was used, even once the operator bonded again", async () => {
      const f = await fixture();
      const a = singleEvidence(f.signer, f.domain, f.c);
      const b = singleEvidence(f.signer, f.domain, f.c, OTHER_OUTPUT);
      await f.prove(a, b);
      await (f.enclaveRegistry.connect(f.operatorA) as Contract).bond({ value: MIN_BOND });
      await expect(f.prove(b, a)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistrySignerSlashed").withArgs(f.signer.address);
      const c2 = singleEvidence(f.signer, f.domain, f.c, encodeTensor([7n, 7n, 7n]));
      await expect(f.prove(a, c2)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistrySignerSlashed").withArgs(f.signer.address);
      expect((await f.enclaveRegistry.bondOf(f.operatorA.address)).bonded).to.equal(MIN_BOND);
    });

    it("refuses signatures made under another oracle's domain (they recover to other keys)", async () => {
      const f = await fixture();
      const foreign = oracleDomain(f.chainId, f.stranger.address);
      const a = singleEvidence(f.signer, foreign, f.c);
      const b = singleEvidence(f.signer, foreign, f.c, OTHER_OUTPUT);
      await expect(f.prove(a, b)).to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherDifferentSigners");
      expect((await f.enclaveRegistry.bondOf(f.operatorA.address)).bonded).to.equal(MIN_BOND);
    });

    it("refuses a batch index out of range and a result that is not the batch's item", async () => {
      const f = await fixture();
      const single = singleEvidence(f.signer, f.domain, f.c);
      const batch = batchEvidence(f.signer, f.domain, [{ request: f.c, output: OTHER_OUTPUT, status: ResultStatus.Ok }], 0);
      await expect(f.prove(single, { ...batch, index: 1 }))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherIndexOutOfRange").withArgs(1, 1);
      const swapped = { ...batch, result: resultFor(f.c, encodeTensor([9n, 9n, 9n])) };
      await expect(f.prove(single, swapped)).to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherResultNotInBatch").withArgs(0);
    });
  });

  describe("bit-exact disagreement", () => {
    /** A bit-exact copy of the fixture's model and a k = 2 request for it, final with IRIS_OUTPUT (operators A and B). */
    async function finalBitExact() {
      const f = await fixture();
      const exactId = await registerModel(f.modelRegistry, f.publisher, { ...IRIS, modelHash: id("iris-int.onnx bytes"), determinism: Determinism.BitExact }, [MEASUREMENT]);
      const g = { ...f, modelId: exactId };
      const c = await requestFrom(g, f.user, { redundancy: 2 });
      const a = f.signer;
      const b = await registerEnclave(f, f.operatorB);
      const accused = await registerEnclave(f, f.operatorC);
      const relay = f.oracle.connect(f.relayer) as Contract;
      await relay.fulfil(c, IRIS_OUTPUT, 0, signResult(a, f.domain, c));
      await relay.fulfil(c, IRIS_OUTPUT, 0, signResult(b, f.domain, c));
      expect(await f.oracle.finalResult(c.requestId)).to.deep.equal([ethers.keccak256(IRIS_OUTPUT), 0n]);
      const disagree = (a1: SignedEvidence, w: SignedEvidence, modelId = exactId) =>
        (f.slasher.connect(f.stranger) as Contract).proveDisagreement(a1, w, modelId);
      return { ...f, exactId, c, a, b, accused, disagree };
    }

    it("slashes a key that signed another output than the final agreed one for a bit-exact model", async () => {
      const f = await finalBitExact();
      const accused = singleEvidence(f.accused, f.domain, f.c, OTHER_OUTPUT);
      const tx = await f.disagree(accused, singleEvidence(f.a, f.domain, f.c));
      await expect(tx).to.emit(f.slasher, "DisagreementProven")
        .withArgs(f.accused.address, f.c.requestId, resultStructHash(accused.result), f.a.address, f.stranger.address, MIN_BOND);
      await expect(tx).to.emit(f.enclaveRegistry, "BondSlashed")
        .withArgs(f.accused.address, f.operatorC.address, f.stranger.address, MIN_BOND, MIN_BOND / 10n, MIN_BOND - MIN_BOND / 10n);
      expect((await f.enclaveRegistry.getEnclave(f.accused.address)).status).to.equal(SLASHED_STATUS);
    });

    it("slashes a disagreeing vote that was submitted on-chain, with a witness signed inside a batch", async () => {
      const f = await fixture();
      const exactId = await registerModel(f.modelRegistry, f.publisher, { ...IRIS, modelHash: id("iris-int.onnx bytes"), determinism: Determinism.BitExact }, [MEASUREMENT]);
      const c = await requestFrom({ ...f, modelId: exactId }, f.user, { redundancy: 2 });
      const accused = await registerEnclave(f, f.operatorC);
      const b = await registerEnclave(f, f.operatorB);
      const relay = f.oracle.connect(f.relayer) as Contract;
      await relay.fulfil(c, OTHER_OUTPUT, 0, signResult(accused, f.domain, c, OTHER_OUTPUT)); // the odd one out, on record
      const items = [{ request: c, output: IRIS_OUTPUT, status: ResultStatus.Ok }];
      await relay.fulfil(c, IRIS_OUTPUT, 0, signResult(f.signer, f.domain, c));
      await relay.fulfilBatch(items, signBatch(b, f.domain, items));
      await expect((f.slasher.connect(f.stranger) as Contract).proveDisagreement(
        singleEvidence(accused, f.domain, c, OTHER_OUTPUT), batchEvidence(b, f.domain, items, 0), exactId,
      )).to.emit(f.slasher, "DisagreementProven");
    });

    it("does not slash a float model's disagreeing result (it is only not paid)", async () => {
      const f = await fixture();
      const c = await requestFrom(f, f.user, { redundancy: 2 });
      const b = await registerEnclave(f, f.operatorB);
      const accused = await registerEnclave(f, f.operatorC);
      const relay = f.oracle.connect(f.relayer) as Contract;
      await relay.fulfil(c, IRIS_OUTPUT, 0, signResult(f.signer, f.domain, c));
      await relay.fulfil(c, IRIS_OUTPUT, 0, signResult(b, f.domain, c));
      await expect((f.slasher.connect(f.stranger) as Contract).proveDisagreement(
        singleEvidence(accused, f.domain, c, OTHER_OUTPUT), singleEvidence(b, f.domain, c), f.modelId,
      )).to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherNotBitExact").withArgs(f.modelId);
    });

    it("refuses a request that is not final yet, or final at redundancy 1", async () => {
      const f = await finalBitExact();
      const pending = await requestFrom({ ...f, modelId: f.exactId }, f.user, { redundancy: 2 });
      await expect(f.disagree(singleEvidence(f.accused, f.domain, pending, OTHER_OUTPUT), singleEvidence(f.a, f.domain, pending)))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherNotFinal").withArgs(pending.requestId);
      const single = await requestFrom({ ...f, modelId: f.exactId }, f.user);
      await (f.oracle.connect(f.relayer) as Contract).fulfil(single, IRIS_OUTPUT, 0, signResult(f.a, f.domain, single));
      await expect(f.disagree(singleEvidence(f.accused, f.domain, single, OTHER_OUTPUT), singleEvidence(f.a, f.domain, single)))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherNotFinal").withArgs(single.requestId);
    });

    it("refuses an accused result that agrees, and a witness that is not the final result", async () => {
      const f = await finalBitExact();
      await expect(f.disagree(singleEvidence(f.accused, f.domain, f.c), singleEvidence(f.a, f.domain, f.c)))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherSameResult").withArgs(f.c.requestId);
      await expect(f.disagree(singleEvidence(f.accused, f.domain, f.c, OTHER_OUTPUT), singleEvidence(f.b, f.domain, f.c, encodeTensor([5n, 5n, 5n]))))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherWitnessNotFinal").withArgs(f.c.requestId);
    });

    it("refuses a result for the same request id with another input (a reorg's replaced request), and another request's witness", async () => {
      const f = await finalBitExact();
      const replaced = { ...f.c, inputHash: ethers.keccak256(encodeTensor([1n, 1n, 1n, 1n])) };
      await expect(f.disagree(singleEvidence(f.accused, f.domain, replaced, OTHER_OUTPUT), singleEvidence(f.a, f.domain, f.c)))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherDifferentInputs").withArgs(f.c.requestId);
      const other = await requestFrom({ ...f, modelId: f.exactId }, f.user, { redundancy: 2 });
      await expect(f.disagree(singleEvidence(f.accused, f.domain, f.c, OTHER_OUTPUT), singleEvidence(f.a, f.domain, other)))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherDifferentRequests").withArgs(f.c.requestId, other.requestId);
    });

    it("refuses a witness key that was never registered (anyone can sign the final output)", async () => {
      const f = await finalBitExact();
      const rogue = new Wallet(Wallet.createRandom().privateKey);
      await expect(f.disagree(singleEvidence(f.accused, f.domain, f.c, OTHER_OUTPUT), singleEvidence(rogue, f.domain, f.c)))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherUnknownWitness").withArgs(rogue.address);
    });

    it("refuses a model id that is not the signed model, and evidence replayed after use", async () => {
      const f = await finalBitExact();
      const accused = singleEvidence(f.accused, f.domain, f.c, OTHER_OUTPUT);
      const witness = singleEvidence(f.a, f.domain, f.c);
      await expect(f.disagree(accused, witness, f.modelId))
        .to.be.revertedWithCustomError(f.slasher, "EquivocationSlasherModelMismatch").withArgs(f.modelId, f.c.modelHash);
      await f.disagree(accused, witness);
      await expect(f.disagree(accused, witness)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistrySignerSlashed").withArgs(f.accused.address);
    });
  });

  describe("gas target (issue 11; `npm run gas` reports it as slashEquivocationSingle)", () => {
    it("proves an equivocation from two single results within 100k gas", async () => {
      const f = await fixture();
      const tx = await f.prove(singleEvidence(f.signer, f.domain, f.c), singleEvidence(f.signer, f.domain, f.c, OTHER_OUTPUT));
      expect((await tx.wait()).gasUsed).to.be.at.most(100_000n);
    });
  });

  describe("views", () => {
    it("computes the digests the enclave signs, under the oracle's own domain", async () => {
      const f = await fixture();
      const single = singleEvidence(f.signer, f.domain, f.c);
      expect(await f.slasher.digestOf(single)).to.equal(resultDigest(f.domain, single.result));
      const items = [{ request: f.c, output: IRIS_OUTPUT, status: ResultStatus.Ok }, { request: await requestFrom(f, f.user), output: OTHER_OUTPUT, status: ResultStatus.Ok }];
      const batch = batchEvidence(f.signer, f.domain, items, 1);
      expect(await f.slasher.digestOf(batch)).to.equal(batchDigest(f.domain, items.map((i) => resultFor(i.request, i.output, i.status))));
      expect(await f.slasher.oracle()).to.equal(await f.oracle.getAddress());
      expect(await f.slasher.registry()).to.equal(await f.enclaveRegistry.getAddress());
      expect(await f.slasher.typeAndVersion()).to.equal("EquivocationSlasher 1.0.0");
    });
  });
});
