import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { expect } from "chai";
import { ethers } from "hardhat";
import { Contract, ContractTransactionReceipt, Interface, Wallet, ZeroHash, id, keccak256, recoverAddress, toBeHex } from "ethers";
import { deployContract } from "../../scripts/lib/deploy-contracts";
import {
  GAS_PRICE_BOUND, IRIS, IRIS_INPUT, IRIS_OUTPUT, MEASUREMENT, OTHER_MEASUREMENT, OracleFixture, ResultStatus, Submission,
  commitmentFromReceipt, deployOracleFixture, encodeTensor, registerEnclave, requestFrom, requestOptions, requestViaConsumer, resultFor,
  settlement, signBatch, signResult, findEvent, registerModel,
} from "../helpers/fixtures";
import { commitmentHash, oracleDomain, resultDigest, RequestCommitment } from "../helpers/protocol";

const OTHER_OUTPUT = encodeTensor([1n, 2n, 3n]);
const EMPTY = "0x";
const selector = (iface: Interface, name: string) => iface.getError(name)!.selector;

describe("InferenceOracle", () => {
  async function fixture() {
    const f = await loadFixture(deployOracleFixture);
    const signerA = await registerEnclave(f, f.operatorA);
    const oracle = f.oracle.connect(f.relayer) as Contract;
    return { ...f, signerA, oracle };
  }

  const fulfil = (f: OracleFixture & { oracle: Contract }, signer: Wallet, c: RequestCommitment, output = IRIS_OUTPUT, status = ResultStatus.Ok) =>
    f.oracle.fulfil(c, output, status, signResult(signer, f.domain, c, output, status));

  describe("requestInference", () => {
    it("emits InferenceRequested with everything a node needs and stores only the commitment hash", async () => {
      const f = await fixture();
      const options = await requestOptions({ callbackGasLimit: 0 });
      const user = f.oracle.connect(f.user) as Contract;
      await expect(user.requestInference(f.modelId, IRIS_INPUT, options, { value: IRIS.fee }))
        .to.emit(f.oracle, "InferenceRequested")
        .withArgs(1n, f.modelId, f.user.address, IRIS.modelHash, IRIS_INPUT, IRIS.fee, 0n, 0n, 0, options.deadline, 1);
      const c = await requestFrom(f, f.user);
      expect(c.requestId).to.equal(2n);
      expect(await f.oracle.requestCommitment(2n)).to.equal(commitmentHash(c));
      expect(await f.oracle.commitmentHash(c)).to.equal(commitmentHash(c));
      expect(await f.oracle.requestState(2n)).to.equal(1n);
      expect(await f.oracle.requestState(3n)).to.equal(0n);
      expect(await f.oracle.requestCount()).to.equal(2n);
    });

    it("charges exactly the quote, k times the model fee, and refunds the excess at once", async () => {
      const f = await fixture();
      const options = await requestOptions({ redundancy: 3 });
      expect(await f.oracle.quote(f.modelId, options)).to.equal(IRIS.fee * 3n);
      const user = f.oracle.connect(f.user) as Contract;
      const tx = user.requestInference(f.modelId, IRIS_INPUT, options, { value: IRIS.fee * 5n });
      await expect(tx).to.changeEtherBalances([f.user, f.oracle], [-IRIS.fee * 3n, IRIS.fee * 3n]);
    });

    it("credits the excess to a requester that rejects ether instead of reverting", async () => {
      const f = await fixture();
      const rejecting = await deployContract(f.deployer, "EthRejectingRequester");
      const options = await requestOptions({ callbackGasLimit: 0 });
      const data = f.oracle.interface.encodeFunctionData("requestInference", [f.modelId, IRIS_INPUT, options]);
      await expect(rejecting.call(await f.oracle.getAddress(), data, { value: IRIS.fee + 5n }))
        .to.emit(f.oracle, "RefundCredited").withArgs(await rejecting.getAddress(), 5n);
      expect(await f.oracle.balances(await rejecting.getAddress())).to.equal(5n);
    });

    it("rejects an unknown or inactive model", async () => {
      const f = await fixture();
      const options = await requestOptions();
      await expect(f.oracle.requestInference(99n, IRIS_INPUT, options, { value: IRIS.fee }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleUnknownModel").withArgs(99n);
      await expect(f.oracle.quote(99n, options)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleUnknownModel").withArgs(99n);
      await (f.modelRegistry.connect(f.publisher) as Contract).deactivate(f.modelId);
      await expect(f.oracle.requestInference(f.modelId, IRIS_INPUT, options, { value: IRIS.fee }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleModelInactive").withArgs(f.modelId);
      await expect(f.oracle.quote(f.modelId, options)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleModelInactive").withArgs(f.modelId);
    });

    it("rejects an input that is not canonical abi.encode(int256[]) of the model's input length", async () => {
      const f = await fixture();
      const options = await requestOptions();
      const word = (n: number) => toBeHex(n, 32).slice(2);
      const body = IRIS_INPUT.slice(2 + 128);
      for (const input of [
        encodeTensor([1n, 2n, 3n]),                       // too short
        encodeTensor([1n, 2n, 3n, 4n, 5n]),               // too long
        IRIS_INPUT + "00".repeat(32),                     // trailing word
        "0x" + word(0x40) + word(4) + body,               // wrong offset
        "0x" + word(0x20) + word(5) + body,               // length word disagrees
        "0x",
      ]) {
        await expect(f.oracle.requestInference(f.modelId, input, options, { value: IRIS.fee }))
          .to.be.revertedWithCustomError(f.oracle, "InferenceOracleMalformedInput").withArgs(IRIS.inputLength, 0);
      }
    });

    it("rejects too little fee, charging nothing", async () => {
      const f = await fixture();
      const options = await requestOptions();
      await expect(f.oracle.requestInference(f.modelId, IRIS_INPUT, options, { value: IRIS.fee - 1n }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleInsufficientFee").withArgs(IRIS.fee - 1n, IRIS.fee);
      expect(await ethers.provider.getBalance(await f.oracle.getAddress())).to.equal(0n);
    });

    it("rejects a callback gas limit out of bounds but accepts zero (no callback)", async () => {
      const f = await fixture();
      for (const limit of [9_999, 2_000_001]) {
        await expect(f.oracle.requestInference(f.modelId, IRIS_INPUT, await requestOptions({ callbackGasLimit: limit }), { value: IRIS.fee }))
          .to.be.revertedWithCustomError(f.oracle, "InferenceOracleCallbackGasLimitOutOfBounds").withArgs(limit, 10_000, 2_000_000);
      }
      await expect(f.oracle.requestInference(f.modelId, IRIS_INPUT, await requestOptions({ callbackGasLimit: 0 }), { value: IRIS.fee }))
        .to.emit(f.oracle, "InferenceRequested");
    });

    it("rejects a deadline in the past or beyond the maximum delay", async () => {
      const f = await fixture();
      const now = BigInt(await time.latest());
      const base = { callbackGasLimit: 0, redundancy: 1, maxFee: IRIS.fee, maxGasPrice: 0n };
      await expect(f.oracle.requestInference(f.modelId, IRIS_INPUT, { ...base, deadline: now }, { value: IRIS.fee }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleDeadlineInPast").withArgs(now, now + 1n);
      const far = now + 8n * 86_400n;
      await expect(f.oracle.requestInference(f.modelId, IRIS_INPUT, { ...base, deadline: far }, { value: IRIS.fee }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleDeadlineTooFar").withArgs(far, now + 2n + 7n * 86_400n);
    });

    it("rejects redundancy zero or above the maximum", async () => {
      const f = await fixture();
      for (const redundancy of [0, 9]) {
        const options = await requestOptions({ redundancy });
        await expect(f.oracle.requestInference(f.modelId, IRIS_INPUT, options, { value: IRIS.fee * 9n }))
          .to.be.revertedWithCustomError(f.oracle, "InferenceOracleInvalidRedundancy").withArgs(redundancy, 8);
        await expect(f.oracle.quote(f.modelId, options))
          .to.be.revertedWithCustomError(f.oracle, "InferenceOracleInvalidRedundancy").withArgs(redundancy, 8);
      }
    });
  });

  describe("fulfil", () => {
    it("accepts an active enclave's result, credits its operator, and calls the consumer back once", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      // One log for a redundancy-1 result: no vote (ResultSubmitted) to count.
      await expect(fulfil(f, f.signerA, c))
        .to.emit(f.oracle, "InferenceFulfilled").withArgs(c.requestId, f.signerA.address, 0, true, anyValue, anyValue, IRIS_OUTPUT)
        .and.to.emit(f.consumer, "ResultReceived").withArgs(c.requestId, IRIS_OUTPUT, 0)
        .and.not.to.emit(f.oracle, "ResultSubmitted");
      expect(await f.oracle.requestState(c.requestId)).to.equal(2n);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee);
      expect(await f.consumer.callbackCount()).to.equal(1n);
    });

    it("clears the commitment slot at fulfilment (gas refund) yet still reports the request Fulfilled", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      const pending = await requestViaConsumer(f);
      // The request mapping's slot: the one among the first declared slots that holds the commitment.
      const at = async (s: string) => ethers.provider.getStorage(await f.oracle.getAddress(), s);
      let slot = "";
      for (let base = 0; base < 16 && !slot; base++) {
        const candidate = ethers.solidityPackedKeccak256(["uint256", "uint256"], [c.requestId, base]);
        if ((await at(candidate)) === commitmentHash(c)) slot = candidate;
      }
      expect(slot, "commitment slot").to.not.equal("");
      await fulfil(f, f.signerA, c);
      expect(await at(slot)).to.equal(ethers.ZeroHash);
      expect(await f.oracle.requestState(c.requestId)).to.equal(2n);
      expect(await f.oracle.requestCommitment(c.requestId)).to.equal(toBeHex(2, 32));
      expect(await f.oracle.requestState(pending.requestId)).to.equal(1n);
      for (const unknown of [0n, pending.requestId + 1n]) {
        expect(await f.oracle.requestState(unknown)).to.equal(0n);
        expect(await f.oracle.requestCommitment(unknown)).to.equal(ethers.ZeroHash);
      }
      await expect(fulfil(f, f.signerA, c)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleAlreadyFulfilled").withArgs(c.requestId);
      await expect(fulfil(f, f.signerA, { ...c, requestId: 0n })).to.be.revertedWithCustomError(f.oracle, "InferenceOracleUnknownRequest").withArgs(0n);
    });

    it("pays the operator, never the relayer: a front-running relayer gains nothing", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      const sig = signResult(f.signerA, f.domain, c);
      // The front-runner copies the pending transaction's arguments and sends them first.
      await (f.oracle.connect(f.stranger) as Contract).fulfil(c, IRIS_OUTPUT, 0, sig);
      expect(await f.oracle.balances(f.stranger.address)).to.equal(0n);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee);
      await expect(f.oracle.fulfil(c, IRIS_OUTPUT, 0, sig))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleAlreadyFulfilled").withArgs(c.requestId);
    });

    it("accepts a failure status with an empty output and passes it to the consumer", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      await expect(fulfil(f, f.signerA, c, EMPTY, ResultStatus.InputOutOfRange))
        .to.emit(f.consumer, "ResultReceived").withArgs(c.requestId, EMPTY, ResultStatus.InputOutOfRange);
    });

    it("rejects a forged signature (a key that is not a registered enclave)", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      const forger = new Wallet(Wallet.createRandom().privateKey);
      await expect(fulfil(f, forger, c)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistryUnknownSigner").withArgs(forger.address);
    });

    it("rejects a tampered output (the signature no longer recovers to the enclave)", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      const sig = signResult(f.signerA, f.domain, c);
      const recovered = recoverAddress(resultDigest(f.domain, resultFor(c, OTHER_OUTPUT)), sig);
      await expect(f.oracle.fulfil(c, OTHER_OUTPUT, 0, sig))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistryUnknownSigner").withArgs(recovered);
    });

    it("rejects a signature replayed from another chain id", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      const otherChain = oracleDomain(1n, await f.oracle.getAddress());
      const sig = signResult(f.signerA, otherChain, c);
      const recovered = recoverAddress(resultDigest(f.domain, resultFor(c, IRIS_OUTPUT)), sig);
      await expect(f.oracle.fulfil(c, IRIS_OUTPUT, 0, sig))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistryUnknownSigner").withArgs(recovered);
    });

    it("rejects a signature replayed from another oracle deployment", async () => {
      const f = await fixture();
      const cfg = await f.oracle.config();
      const twin = await deployContract(f.deployer, "InferenceOracle", [
        f.deployer.address, await f.modelRegistry.getAddress(), await f.enclaveRegistry.getAddress(), [...cfg],
      ]);
      const options = await requestOptions({ callbackGasLimit: 0 });
      const user = (o: Contract) => o.connect(f.user) as Contract;
      const c1 = commitmentFromReceipt(f.oracle, await (await user(f.oracle).requestInference(f.modelId, IRIS_INPUT, options, { value: IRIS.fee })).wait());
      const c2 = commitmentFromReceipt(twin, await (await user(twin).requestInference(f.modelId, IRIS_INPUT, options, { value: IRIS.fee })).wait());
      expect(c1).to.deep.equal(c2);
      const sig = signResult(f.signerA, f.domain, c1);
      await expect((twin.connect(f.relayer) as Contract).fulfil(c2, IRIS_OUTPUT, 0, sig))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistryUnknownSigner");
    });

    it("rejects a revoked, retired or expired signer", async () => {
      const f = await fixture();
      const signerC = await registerEnclave(f, f.operatorC, MEASUREMENT, 600n);
      const c = await requestViaConsumer(f);
      await f.enclaveRegistry.revokeSigner(f.signerA.address);
      await expect(fulfil(f, f.signerA, c)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistrySignerRevoked").withArgs(f.signerA.address);
      const signerB = await registerEnclave(f, f.operatorB);
      await (f.enclaveRegistry.connect(f.operatorB) as Contract).retireSigner(signerB.address);
      await expect(fulfil(f, signerB, c)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistrySignerRetired").withArgs(signerB.address);
      const expiresAt = (await f.enclaveRegistry.getEnclave(signerC.address)).expiresAt;
      await time.increaseTo(expiresAt + 1n);
      await expect(fulfil(f, signerC, c)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistrySignerExpired").withArgs(signerC.address, expiresAt);
    });

    it("rejects a signer whose measurement was revoked, or whose root was revoked", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      await f.enclaveRegistry.setMeasurementAllowed(MEASUREMENT, false);
      await expect(fulfil(f, f.signerA, c)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistryMeasurementNotAllowed").withArgs(MEASUREMENT);
      await f.enclaveRegistry.setMeasurementAllowed(MEASUREMENT, true);
      await f.enclaveRegistry.revokeRoot(f.platform.rootId);
      await expect(fulfil(f, f.signerA, c)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistryRootRevoked").withArgs(f.platform.rootId);
    });

    it("rejects a signer whose measurement the model does not allow", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      const other = await registerEnclave(f, f.operatorB, OTHER_MEASUREMENT);
      await expect(fulfil(f, other, c))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleMeasurementNotAllowedForModel").withArgs(f.modelId, OTHER_MEASUREMENT);
    });

    it("rejects a signer at once when the publisher disallows its measurement for the model, and accepts it when allowed again", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      const publisher = f.modelRegistry.connect(f.publisher) as Contract;
      await publisher.setMeasurement(f.modelId, MEASUREMENT, false);
      await expect(fulfil(f, f.signerA, c))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleMeasurementNotAllowedForModel").withArgs(f.modelId, MEASUREMENT);
      await publisher.setMeasurement(f.modelId, MEASUREMENT, true);
      await expect(fulfil(f, f.signerA, c)).to.emit(f.oracle, "InferenceFulfilled");
    });

    it("rejects a malformed output from a broken runner, and a failure status carrying output", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      for (const [output, status] of [
        [encodeTensor([1n, 2n]), ResultStatus.Ok],
        [IRIS_OUTPUT + "00".repeat(32), ResultStatus.Ok],
        [EMPTY, ResultStatus.Ok],
        [IRIS_OUTPUT, ResultStatus.OutputNotRepresentable],
      ] as const) {
        await expect(fulfil(f, f.signerA, c, output, status))
          .to.be.revertedWithCustomError(f.oracle, "InferenceOracleMalformedOutput").withArgs(c.requestId);
      }
    });

    it("rejects a status that is not a ResultStatus", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      await expect(fulfil(f, f.signerA, c, EMPTY, 3 as ResultStatus))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleInvalidStatus").withArgs(3);
    });

    it("rejects an unknown request and a commitment that differs from the stored one", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      const unknown = { ...c, requestId: 99n };
      await expect(fulfil(f, f.signerA, unknown)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleUnknownRequest").withArgs(99n);
      const cheaper = { ...c, fee: 1n };
      await expect(fulfil(f, f.signerA, cheaper)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleCommitmentMismatch").withArgs(c.requestId);
      const otherInput = { ...c, inputHash: id("other input") };
      await expect(fulfil(f, f.signerA, otherInput)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleCommitmentMismatch").withArgs(c.requestId);
      const cheaperGas = { ...c, maxGasPrice: 1n };
      await expect(fulfil(f, f.signerA, cheaperGas)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleCommitmentMismatch").withArgs(c.requestId);
    });

    it("rejects a commitment whose words carry dirty high bits (a hand-made calldata the ABI coder would not produce)", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      const data = f.oracle.interface.encodeFunctionData("fulfil", [c, IRIS_OUTPUT, 0, signResult(f.signerA, f.domain, c)]);
      // the redundancy word (the 11th of the commitment) with a bit set above its uint8
      const at = 2 + 8 + 10 * 64;
      const dirty = data.slice(0, at) + "01" + data.slice(at + 2);
      await expect(f.relayer.sendTransaction({ to: await f.oracle.getAddress(), data: dirty }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleCommitmentMismatch").withArgs(c.requestId);
      expect(await f.oracle.requestState(c.requestId)).to.equal(1n);
    });

    it("rejects a result after the deadline, and after expiry", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f);
      await time.increaseTo(c.deadline + 1n);
      await expect(fulfil(f, f.signerA, c)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleDeadlinePassed").withArgs(c.requestId, c.deadline);
      await f.oracle.expire(c);
      await expect(fulfil(f, f.signerA, c)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleAlreadyExpired").withArgs(c.requestId);
    });
  });

  describe("callback", () => {
    it("gives the callback exactly its gas limit: a consumer that burns all gas fails alone, the fulfilment stands", async () => {
      const f = await fixture();
      const burner = await deployContract(f.deployer, "GasBurningConsumer");
      const options = await requestOptions({ callbackGasLimit: 300_000 });
      const data = f.oracle.interface.encodeFunctionData("requestInference", [f.modelId, IRIS_INPUT, options]);
      const c = commitmentFromReceipt(f.oracle, await (await burner.request(await f.oracle.getAddress(), data, { value: IRIS.fee })).wait());
      const receipt = await (await fulfil(f, f.signerA, c)).wait();
      const log = findEvent(f.oracle, receipt, "InferenceFulfilled");
      expect(log.args.callbackSuccess).to.equal(false);
      expect(log.args.callbackGasUsed).to.be.within(300_000n, 300_200n);
      expect(await f.oracle.requestState(c.requestId)).to.equal(2n);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee);
    });

    it("reverts with a named error when the relayer sends too little gas for the full callback limit", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f, { callbackGasLimit: 1_000_000 });
      const sig = signResult(f.signerA, f.domain, c);
      await expect(f.oracle.fulfil(c, IRIS_OUTPUT, 0, sig, { gasLimit: 400_000 }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleInsufficientGasForCallback").withArgs(c.requestId, anyValue, 1_000_000);
      expect(await f.oracle.requestState(c.requestId)).to.equal(1n);
    });

    it("copies no returndata: a returndata-bomb consumer costs the oracle nothing", async () => {
      const f = await fixture();
      const bomb = await deployContract(f.deployer, "ReturnDataBombConsumer", [2_000_000]);
      const options = await requestOptions({ callbackGasLimit: 2_000_000 });
      const data = f.oracle.interface.encodeFunctionData("requestInference", [f.modelId, IRIS_INPUT, options]);
      const c = commitmentFromReceipt(f.oracle, await (await bomb.request(await f.oracle.getAddress(), data, { value: IRIS.fee })).wait());
      const receipt = await (await fulfil(f, f.signerA, c)).wait();
      const log = findEvent(f.oracle, receipt, "InferenceFulfilled");
      expect(log.args.callbackSuccess).to.equal(false);
      // Copying 2 MB of returndata would cost the caller millions of gas in memory expansion.
      expect(receipt.gasUsed - log.args.callbackGasUsed).to.be.lessThan(120_000n);
    });

    it("does not let a reentrant consumer fulfil twice from its callback", async () => {
      const f = await fixture();
      const attacker = await deployContract(f.deployer, "ReentrantConsumer", [await f.oracle.getAddress()]);
      const options = await requestOptions({ callbackGasLimit: 500_000 });
      const c = commitmentFromReceipt(f.oracle, await (await attacker.request(f.modelId, IRIS_INPUT, options, { value: IRIS.fee })).wait());
      const sig = signResult(f.signerA, f.domain, c);
      await attacker.arm(f.oracle.interface.encodeFunctionData("fulfil", [c, IRIS_OUTPUT, 0, sig]));
      await expect(f.oracle.fulfil(c, IRIS_OUTPUT, 0, sig))
        .to.emit(f.oracle, "InferenceFulfilled").withArgs(c.requestId, f.signerA.address, 0, true, anyValue, anyValue, IRIS_OUTPUT);
      expect(await attacker.callbackCount()).to.equal(1n);
      expect(await attacker.reentrySucceeded()).to.equal(false);
      expect(await attacker.reentryResult()).to.equal(selector(f.oracle.interface, "ReentrancyGuardReentrantCall"));
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee);
    });

    it("does not let a reentrant operator withdraw twice", async () => {
      const f = await fixture();
      const attacker = await deployContract(f.deployer, "ReentrantConsumer", [await f.oracle.getAddress()]);
      const attackerAddress = await attacker.getAddress();
      // The attacker contract becomes an operator: it registers an enclave signer itself.
      const wallet = new Wallet(Wallet.createRandom().privateKey);
      const { registerEnclaveArgs, signReportAt } = await import("../helpers/platform");
      const r = signReportAt(f.platform, { signer: wallet.address, operator: attackerAddress, measurement: MEASUREMENT, issuedAt: BigInt(await time.latest()) });
      await attacker.arm(f.enclaveRegistry.interface.encodeFunctionData("registerEnclave", registerEnclaveArgs(r)));
      await attacker.execute(await f.enclaveRegistry.getAddress());
      await f.enclaveRegistry.bondFor(attackerAddress, { value: await f.enclaveRegistry.minBond() });
      for (let i = 0; i < 2; i++) {
        const c = await requestViaConsumer(f);
        await fulfil(f, wallet, c);
      }
      expect(await f.oracle.balances(attackerAddress)).to.equal(IRIS.fee * 2n);
      await attacker.armWithdraw(true);
      await expect(attacker.withdrawFromOracle()).to.changeEtherBalances([attacker, f.oracle], [IRIS.fee * 2n, -IRIS.fee * 2n]);
      expect(await attacker.reentrySucceeded()).to.equal(false);
      expect(await attacker.reentryResult()).to.equal(selector(f.oracle.interface, "ReentrancyGuardReentrantCall"));
      expect(await f.oracle.balances(attackerAddress)).to.equal(0n);
    });

    it("reports an EOA requester with a callback limit as not called", async () => {
      const f = await fixture();
      const c = await requestFrom(f, f.user, { callbackGasLimit: 50_000 });
      await expect(fulfil(f, f.signerA, c))
        .to.emit(f.oracle, "InferenceFulfilled").withArgs(c.requestId, f.signerA.address, 0, false, 0, anyValue, IRIS_OUTPUT);
    });

    it("makes no call and reports none when the limit is zero", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f, { callbackGasLimit: 0 });
      await expect(fulfil(f, f.signerA, c))
        .to.emit(f.oracle, "InferenceFulfilled").withArgs(c.requestId, f.signerA.address, 0, false, 0, anyValue, IRIS_OUTPUT)
        .and.not.to.emit(f.consumer, "ResultReceived");
    });
  });

  describe("fulfilBatch", () => {
    async function batchFixture() {
      const f = await fixture();
      const items: Submission[] = [];
      for (let i = 0; i < 3; i++) items.push({ request: await requestViaConsumer(f), output: IRIS_OUTPUT, status: ResultStatus.Ok });
      const send = (list: Submission[], signer = f.signerA) =>
        f.oracle.fulfilBatch(list.map((s) => [s.request, s.output, s.status]), signBatch(signer, f.domain, list));
      return { ...f, items, send };
    }

    it("fulfils every result under one signature", async () => {
      const f = await batchFixture();
      const tx = f.send(f.items);
      for (const s of f.items) await expect(tx).to.emit(f.oracle, "InferenceFulfilled").withArgs(s.request.requestId, f.signerA.address, 0, true, anyValue, anyValue, IRIS_OUTPUT);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee * 3n);
      expect(await f.consumer.callbackCount()).to.equal(3n);
    });

    it("skips an item already fulfilled, without reverting the batch", async () => {
      const f = await batchFixture();
      await fulfil(f, f.signerA, f.items[1].request);
      await expect(f.send(f.items))
        .to.emit(f.oracle, "ResultSkipped").withArgs(f.items[1].request.requestId, f.signerA.address, selector(f.oracle.interface, "InferenceOracleAlreadyFulfilled"))
        .and.to.emit(f.oracle, "InferenceFulfilled").withArgs(f.items[0].request.requestId, anyValue, anyValue, anyValue, anyValue, anyValue, anyValue)
        .and.to.emit(f.oracle, "InferenceFulfilled").withArgs(f.items[2].request.requestId, anyValue, anyValue, anyValue, anyValue, anyValue, anyValue);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee * 3n);
    });

    it("skips an item past its deadline and an expired one", async () => {
      const f = await batchFixture();
      const late = await requestViaConsumer(f, { ttl: 7200 });
      await time.increaseTo(f.items[0].request.deadline + 1n);
      await f.oracle.expire(f.items[0].request);
      const list = [...f.items, { request: late, output: IRIS_OUTPUT, status: ResultStatus.Ok }];
      await expect(f.send(list))
        .to.emit(f.oracle, "ResultSkipped").withArgs(f.items[0].request.requestId, f.signerA.address, selector(f.oracle.interface, "InferenceOracleAlreadyExpired"))
        .and.to.emit(f.oracle, "ResultSkipped").withArgs(f.items[1].request.requestId, f.signerA.address, selector(f.oracle.interface, "InferenceOracleDeadlinePassed"))
        .and.to.emit(f.oracle, "InferenceFulfilled").withArgs(late.requestId, anyValue, anyValue, anyValue, anyValue, anyValue, anyValue);
    });

    it("skips an item this operator already signed, and the same item twice in one batch", async () => {
      const f = await batchFixture();
      const k2 = await requestViaConsumer(f, { redundancy: 2 });
      const item = { request: k2, output: IRIS_OUTPUT, status: ResultStatus.Ok };
      await expect(f.send([item, item]))
        .to.emit(f.oracle, "ResultSubmitted").withArgs(k2.requestId, f.signerA.address, f.operatorA.address, anyValue, 0)
        .and.to.emit(f.oracle, "ResultSkipped").withArgs(k2.requestId, f.signerA.address, selector(f.oracle.interface, "InferenceOracleAlreadySubmitted"));
      expect(await f.oracle.agreementCount(k2.requestId, keccak256(IRIS_OUTPUT), 0)).to.equal(1n);
    });

    it("skips a malformed output or a model that does not allow the measurement, naming the reason", async () => {
      const f = await batchFixture();
      const bad = { ...f.items[0], output: encodeTensor([1n]) };
      await expect(f.send([bad, f.items[1]]))
        .to.emit(f.oracle, "ResultSkipped").withArgs(bad.request.requestId, f.signerA.address, selector(f.oracle.interface, "InferenceOracleMalformedOutput"))
        .and.to.emit(f.oracle, "InferenceFulfilled").withArgs(f.items[1].request.requestId, anyValue, anyValue, anyValue, anyValue, anyValue, anyValue);
      const other = await registerEnclave(f, f.operatorB, OTHER_MEASUREMENT);
      await expect(f.send([f.items[2]], other))
        .to.emit(f.oracle, "ResultSkipped").withArgs(f.items[2].request.requestId, other.address, selector(f.oracle.interface, "InferenceOracleMeasurementNotAllowedForModel"));
    });

    it("reads each model's own terms in a batch that mixes models (output length, allowed measurement)", async () => {
      const f = await batchFixture();
      // Model 2 has two outputs and allows the batch signer's measurement; model 3 does not allow it.
      const two = await registerModel(f.modelRegistry, f.publisher, { ...IRIS, modelHash: id("two"), outputLength: 2 }, [MEASUREMENT]);
      const other = await registerModel(f.modelRegistry, f.publisher, { ...IRIS, modelHash: id("other") }, [OTHER_MEASUREMENT]);
      const ask = async (modelId: bigint) => {
        const options = await requestOptions({ callbackGasLimit: 0 });
        const tx = await (f.oracle.connect(f.user) as Contract).requestInference(modelId, IRIS_INPUT, options, { value: await f.oracle.quote(modelId, options) });
        return commitmentFromReceipt(f.oracle, await tx.wait());
      };
      const TWO_OUTPUT = encodeTensor([7n, 8n]);
      const list: Submission[] = [
        f.items[0],
        { request: await ask(two), output: TWO_OUTPUT, status: ResultStatus.Ok },
        { request: await ask(two), output: IRIS_OUTPUT, status: ResultStatus.Ok }, // three values for a two-output model
        { request: await ask(other), output: IRIS_OUTPUT, status: ResultStatus.Ok },
        f.items[1],
      ];
      const tx = f.send(list);
      await expect(tx).to.emit(f.oracle, "InferenceFulfilled").withArgs(list[1].request.requestId, anyValue, 0, anyValue, anyValue, anyValue, TWO_OUTPUT);
      await expect(tx).to.emit(f.oracle, "ResultSkipped").withArgs(list[2].request.requestId, f.signerA.address, selector(f.oracle.interface, "InferenceOracleMalformedOutput"));
      await expect(tx).to.emit(f.oracle, "ResultSkipped")
        .withArgs(list[3].request.requestId, f.signerA.address, selector(f.oracle.interface, "InferenceOracleMeasurementNotAllowedForModel"));
      for (const s of [list[0], list[4]]) {
        await expect(tx).to.emit(f.oracle, "InferenceFulfilled").withArgs(s.request.requestId, anyValue, 0, anyValue, anyValue, anyValue, IRIS_OUTPUT);
      }
    });

    it("reverts the whole batch on a bad signature (one tampered item)", async () => {
      const f = await batchFixture();
      const sig = signBatch(f.signerA, f.domain, f.items);
      const tampered = f.items.map((s, i) => [s.request, i === 1 ? OTHER_OUTPUT : s.output, s.status]);
      await expect(f.oracle.fulfilBatch(tampered, sig)).to.be.revertedWithCustomError(f.enclaveRegistry, "EnclaveRegistryUnknownSigner");
      expect(await f.oracle.requestState(f.items[0].request.requestId)).to.equal(1n);
    });

    it("rejects an empty batch", async () => {
      const f = await batchFixture();
      await expect(f.oracle.fulfilBatch([], signBatch(f.signerA, f.domain, [])))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleEmptyBatch");
    });
  });

  describe("redundancy", () => {
    async function redundancyFixture() {
      const f = await fixture();
      const signerB = await registerEnclave(f, f.operatorB);
      const signerC = await registerEnclave(f, f.operatorC);
      const signerD = await registerEnclave(f, f.stranger);
      return { ...f, signerB, signerC, signerD };
    }

    it("is final when k enclaves of k distinct operators agree, and splits the fee among them", async () => {
      const f = await redundancyFixture();
      const c = await requestViaConsumer(f, { redundancy: 2 });
      await expect(fulfil(f, f.signerA, c)).to.emit(f.oracle, "ResultSubmitted").and.not.to.emit(f.oracle, "InferenceFulfilled");
      expect(await f.oracle.requestState(c.requestId)).to.equal(1n);
      expect(await f.oracle.agreementCount(c.requestId, keccak256(IRIS_OUTPUT), 0)).to.equal(1n);
      await expect(fulfil(f, f.signerB, c))
        .to.emit(f.oracle, "ResultSubmitted").withArgs(c.requestId, f.signerB.address, f.operatorB.address, keccak256(IRIS_OUTPUT), 0)
        .and.to.emit(f.oracle, "InferenceFulfilled").withArgs(c.requestId, f.signerB.address, 0, true, anyValue, anyValue, IRIS_OUTPUT);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee);
      expect(await f.oracle.balances(f.operatorB.address)).to.equal(IRIS.fee);
      expect(await f.consumer.callbackCount()).to.equal(1n);
      await expect(fulfil(f, f.signerC, c)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleAlreadyFulfilled").withArgs(c.requestId);
    });

    it("records a disagreeing result without letting it block or share in the agreeing ones", async () => {
      const f = await redundancyFixture();
      const c = await requestViaConsumer(f, { redundancy: 3 });
      await fulfil(f, f.signerA, c);
      await expect(fulfil(f, f.signerB, c, OTHER_OUTPUT))
        .to.emit(f.oracle, "ResultSubmitted").withArgs(c.requestId, f.signerB.address, f.operatorB.address, keccak256(OTHER_OUTPUT), 0);
      await fulfil(f, f.signerC, c);
      await expect(fulfil(f, f.signerD, c)).to.emit(f.oracle, "InferenceFulfilled").withArgs(c.requestId, anyValue, 0, anyValue, anyValue, anyValue, IRIS_OUTPUT);
      expect(await f.oracle.balances(f.operatorB.address)).to.equal(0n);
      const paid = [f.operatorA, f.operatorC, f.stranger].map((s) => f.oracle.balances(s.address));
      expect(await Promise.all(paid)).to.deep.equal([IRIS.fee, IRIS.fee, IRIS.fee]);
      expect(await f.consumer.lastOutput()).to.equal(IRIS_OUTPUT);
    });

    it("counts the same operator once, even with two signers", async () => {
      const f = await redundancyFixture();
      const c = await requestViaConsumer(f, { redundancy: 2 });
      const secondOfA = await registerEnclave(f, f.operatorA);
      await fulfil(f, f.signerA, c);
      await expect(fulfil(f, secondOfA, c)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleAlreadySubmitted").withArgs(c.requestId, f.operatorA.address);
      await expect(fulfil(f, f.signerA, c)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleAlreadySubmitted").withArgs(c.requestId, f.operatorA.address);
      expect(await f.oracle.requestState(c.requestId)).to.equal(1n);
    });

    it("counts agreement on output AND status", async () => {
      const f = await redundancyFixture();
      const c = await requestViaConsumer(f, { redundancy: 2 });
      await fulfil(f, f.signerA, c, EMPTY, ResultStatus.InputOutOfRange);
      await fulfil(f, f.signerB, c, EMPTY, ResultStatus.OutputNotRepresentable);
      expect(await f.oracle.requestState(c.requestId)).to.equal(1n);
      await expect(fulfil(f, f.signerC, c, EMPTY, ResultStatus.InputOutOfRange)).to.emit(f.oracle, "InferenceFulfilled");
    });

    it("does not count or pay a vote whose signer was revoked before the quorum: a revoked enclave cannot complete it", async () => {
      const f = await redundancyFixture();
      const c = await requestViaConsumer(f, { redundancy: 2 });
      await fulfil(f, f.signerA, c);
      await f.enclaveRegistry.revokeSigner(f.signerA.address);
      // B agrees with the revoked A: A's vote is dropped, so B's alone is not a quorum
      await expect(fulfil(f, f.signerB, c))
        .to.emit(f.oracle, "VoteDropped").withArgs(c.requestId, f.signerA.address)
        .and.not.to.emit(f.oracle, "InferenceFulfilled");
      expect(await f.oracle.requestState(c.requestId)).to.equal(1n);
      expect(await f.oracle.agreementCount(c.requestId, keccak256(IRIS_OUTPUT), 0)).to.equal(1n);
      // a third enclave completes it; A's operator gets nothing, B and C the fee
      await expect(fulfil(f, f.signerC, c)).to.emit(f.oracle, "InferenceFulfilled").withArgs(c.requestId, anyValue, 0, anyValue, anyValue, anyValue, IRIS_OUTPUT);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(0n);
      expect(await f.oracle.balances(f.operatorB.address)).to.equal(IRIS.fee);
      expect(await f.oracle.balances(f.operatorC.address)).to.equal(IRIS.fee);
      expect(await f.oracle.finalResult(c.requestId)).to.deep.equal([keccak256(IRIS_OUTPUT), 0n]);
    });

    it("a relayer who starves the completing submission of gas never drops a live vote", async () => {
      const f = await redundancyFixture();
      const c = await requestViaConsumer(f, { redundancy: 2, callbackGasLimit: 0 });
      await fulfil(f, f.signerA, c);
      const data = f.oracle.interface.encodeFunctionData("fulfil", [c, IRIS_OUTPUT, 0, signResult(f.signerB, f.domain, c)]);
      const to = await f.oracle.getAddress();
      const needed = await ethers.provider.estimateGas({ from: f.relayer.address, to, data });
      let starvedAt = 0n;
      for (let gasLimit = 60_000n; gasLimit < needed; gasLimit += 4_000n) {
        // mined and reverted (Hardhat throws on the send): no state change, A's vote intact
        const sent = await f.relayer.sendTransaction({ to, data, gasLimit }).then(() => true, () => false);
        expect(sent && (await f.oracle.requestState(c.requestId)) !== 1n, `gas limit ${gasLimit}`).to.equal(false);
        const reason: string = await ethers.provider.call({ from: f.relayer.address, to, data, gasLimit })
          .then(() => "", (e: { data?: unknown }) => (typeof e.data === "string" ? e.data : ""));
        if (!starvedAt && reason.startsWith(selector(f.oracle.interface, "InferenceOracleInsufficientGasForVoteCheck"))) starvedAt = gasLimit;
      }
      // some limit hits the guard, which names the request (gas left varies with the limit)
      expect(starvedAt).to.be.greaterThan(0n);
      await expect(f.oracle.fulfil.staticCall(c, IRIS_OUTPUT, 0, signResult(f.signerB, f.domain, c), { gasLimit: starvedAt }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleInsufficientGasForVoteCheck").withArgs(c.requestId, anyValue);
      expect(await f.oracle.agreementCount(c.requestId, keccak256(IRIS_OUTPUT), 0)).to.equal(1n);
      await expect(f.relayer.sendTransaction({ to, data, gasLimit: needed }))
        .to.emit(f.oracle, "InferenceFulfilled").and.not.to.emit(f.oracle, "VoteDropped");
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee);
    });

    it("drops a retired or expired voter too, and lets its operator vote again through an active signer", async () => {
      const f = await redundancyFixture();
      const shortLived = await registerEnclave(f, f.operatorC, MEASUREMENT, 600n);
      const c = await requestViaConsumer(f, { redundancy: 3 });
      await fulfil(f, f.signerA, c);
      await fulfil(f, shortLived, c);
      await (f.enclaveRegistry.connect(f.operatorA) as Contract).retireSigner(f.signerA.address);
      await time.increase(601);
      await expect(fulfil(f, f.signerB, c))
        .to.emit(f.oracle, "VoteDropped").withArgs(c.requestId, f.signerA.address)
        .and.to.emit(f.oracle, "VoteDropped").withArgs(c.requestId, shortLived.address)
        .and.not.to.emit(f.oracle, "InferenceFulfilled");
      const renewedA = await registerEnclave(f, f.operatorA);
      await fulfil(f, renewedA, c);
      await expect(fulfil(f, f.signerD, c)).to.emit(f.oracle, "InferenceFulfilled");
      expect(await f.oracle.balances(f.operatorC.address)).to.equal(0n);
      for (const op of [f.operatorA, f.operatorB, f.stranger]) expect(await f.oracle.balances(op.address)).to.equal(IRIS.fee);
    });

    it("keeps the agreed result of a final k > 1 request, for bit-exact disagreement evidence", async () => {
      const f = await redundancyFixture();
      const c = await requestViaConsumer(f, { redundancy: 2 });
      expect(await f.oracle.finalResult(c.requestId)).to.deep.equal([ZeroHash, 0n]);
      await fulfil(f, f.signerA, c, EMPTY, ResultStatus.InputOutOfRange);
      await fulfil(f, f.signerB, c, EMPTY, ResultStatus.InputOutOfRange);
      expect(await f.oracle.finalResult(c.requestId)).to.deep.equal([keccak256(EMPTY), BigInt(ResultStatus.InputOutOfRange)]);
      const one = await requestViaConsumer(f);
      await fulfil(f, f.signerA, one);
      expect(await f.oracle.finalResult(one.requestId)).to.deep.equal([ZeroHash, 0n]);
    });

    it("refunds the whole fee when the quorum is not reached by the deadline", async () => {
      const f = await redundancyFixture();
      const c = await requestFrom(f, f.user, { redundancy: 2 });
      await fulfil(f, f.signerA, c);
      await time.increaseTo(c.deadline + 1n);
      await expect(f.oracle.expire(c)).to.changeEtherBalances([f.user, f.oracle], [IRIS.fee * 2n, -IRIS.fee * 2n]);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(0n);
    });
  });

  describe("expire", () => {
    it("refunds the requester after the deadline, to anyone's call", async () => {
      const f = await fixture();
      const c = await requestFrom(f, f.user);
      await time.increaseTo(c.deadline + 1n);
      const tx = (f.oracle.connect(f.stranger) as Contract).expire(c);
      await expect(tx).to.emit(f.oracle, "InferenceExpired").withArgs(c.requestId, f.user.address, IRIS.fee);
      await expect(tx).to.changeEtherBalances([f.user, f.oracle], [IRIS.fee, -IRIS.fee]);
      expect(await f.oracle.requestState(c.requestId)).to.equal(3n);
    });

    it("rejects expiry before the deadline, twice, after fulfilment, of an unknown or altered request", async () => {
      const f = await fixture();
      const c = await requestFrom(f, f.user);
      await expect(f.oracle.expire(c)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleDeadlineNotReached").withArgs(c.requestId, c.deadline);
      await expect(f.oracle.expire({ ...c, requestId: 99n })).to.be.revertedWithCustomError(f.oracle, "InferenceOracleUnknownRequest").withArgs(99n);
      await expect(f.oracle.expire({ ...c, fee: c.fee * 2n })).to.be.revertedWithCustomError(f.oracle, "InferenceOracleCommitmentMismatch").withArgs(c.requestId);
      const done = await requestFrom(f, f.user);
      await fulfil(f, f.signerA, done);
      await time.increaseTo(c.deadline + 1n);
      await f.oracle.expire(c);
      await expect(f.oracle.expire(c)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleAlreadyExpired").withArgs(c.requestId);
      await expect(f.oracle.expire(done)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleAlreadyFulfilled").withArgs(done.requestId);
    });

    it("credits a requester that rejects ether, which can then withdraw elsewhere", async () => {
      const f = await fixture();
      const rejecting = await deployContract(f.deployer, "EthRejectingRequester");
      const rejectingAddress = await rejecting.getAddress();
      const options = await requestOptions({ callbackGasLimit: 0 });
      const data = f.oracle.interface.encodeFunctionData("requestInference", [f.modelId, IRIS_INPUT, options]);
      const c = commitmentFromReceipt(f.oracle, await (await rejecting.call(await f.oracle.getAddress(), data, { value: IRIS.fee })).wait());
      await time.increaseTo(c.deadline + 1n);
      await expect(f.oracle.expire(c))
        .to.emit(f.oracle, "InferenceExpired").withArgs(c.requestId, rejectingAddress, IRIS.fee)
        .and.to.emit(f.oracle, "RefundCredited").withArgs(rejectingAddress, IRIS.fee);
      expect(await f.oracle.balances(rejectingAddress)).to.equal(IRIS.fee);
      const withdrawSelf = f.oracle.interface.encodeFunctionData("withdraw");
      await expect(rejecting.call(await f.oracle.getAddress(), withdrawSelf))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleTransferFailed").withArgs(rejectingAddress, IRIS.fee);
      const withdrawTo = f.oracle.interface.encodeFunctionData("withdrawTo", [f.user.address]);
      await expect(rejecting.call(await f.oracle.getAddress(), withdrawTo)).to.changeEtherBalance(f.user, IRIS.fee);
    });
  });

  describe("withdraw", () => {
    it("pays an operator its whole balance once", async () => {
      const f = await fixture();
      await fulfil(f, f.signerA, await requestViaConsumer(f));
      const operator = f.oracle.connect(f.operatorA) as Contract;
      const tx = operator.withdraw();
      await expect(tx).to.emit(f.oracle, "Withdrawn").withArgs(f.operatorA.address, f.operatorA.address, IRIS.fee);
      await expect(tx).to.changeEtherBalances([f.operatorA, f.oracle], [IRIS.fee, -IRIS.fee]);
      await expect(operator.withdraw()).to.be.revertedWithCustomError(f.oracle, "InferenceOracleNothingToWithdraw").withArgs(f.operatorA.address);
    });

    it("keeps the operator's balance slot non-zero, so the first fee after a withdrawal costs no new storage", async () => {
      const f = await fixture();
      const gasOf = async (c: RequestCommitment) => (await (await fulfil(f, f.signerA, c)).wait()).gasUsed;
      await gasOf(await requestFrom(f, f.user)); // the operator's first fee ever: zero -> non-zero
      const steady = await gasOf(await requestFrom(f, f.user));
      const operator = f.oracle.connect(f.operatorA) as Contract;
      await expect(operator.withdraw()).to.emit(f.oracle, "Withdrawn").withArgs(f.operatorA.address, f.operatorA.address, IRIS.fee * 2n);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(0n);
      await expect(operator.withdraw()).to.be.revertedWithCustomError(f.oracle, "InferenceOracleNothingToWithdraw").withArgs(f.operatorA.address);
      const afterWithdraw = await gasOf(await requestFrom(f, f.user));
      expect(afterWithdraw - steady).to.be.lessThan(500n);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee);
      await expect(operator.withdraw()).to.changeEtherBalances([f.operatorA, f.oracle], [IRIS.fee, -IRIS.fee]);
    });

    it("pays to another recipient with withdrawTo", async () => {
      const f = await fixture();
      await fulfil(f, f.signerA, await requestViaConsumer(f));
      await expect((f.oracle.connect(f.operatorA) as Contract).withdrawTo(f.stranger.address))
        .to.emit(f.oracle, "Withdrawn").withArgs(f.operatorA.address, f.stranger.address, IRIS.fee);
    });
  });

  describe("configuration", () => {
    it("lets the owner set the option bounds", async () => {
      const f = await fixture();
      const cfg = [1, 2, 3, 4, 5];
      await expect(f.oracle.connect(f.deployer).getFunction("setConfig")(cfg)).to.emit(f.oracle, "ConfigUpdated").withArgs(cfg);
      expect([...(await f.oracle.config())]).to.deep.equal(cfg.map(BigInt));
    });

    it("rejects inconsistent bounds and anyone but the owner", async () => {
      const f = await fixture();
      const owner = f.oracle.connect(f.deployer) as Contract;
      for (const cfg of [[2, 1, 3, 4, 5], [1, 2, 0, 4, 5], [1, 2, 3, 0, 5]]) {
        await expect(owner.setConfig(cfg)).to.be.revertedWithCustomError(f.oracle, "InferenceOracleInvalidConfig");
      }
      await expect(f.oracle.setConfig([1, 2, 3, 4, 5])).to.be.revertedWithCustomError(f.oracle, "OwnableUnauthorizedAccount").withArgs(f.relayer.address);
    });

    it("names its type and version and its registries", async () => {
      const f = await fixture();
      expect(await f.oracle.typeAndVersion()).to.equal("InferenceOracle 2.1.0");
      expect(await f.oracle.modelRegistry()).to.equal(await f.modelRegistry.getAddress());
      expect(await f.oracle.enclaveRegistry()).to.equal(await f.enclaveRegistry.getAddress());
    });
  });

  describe("gas targets (issue 11; `npm run gas` measures them in full, docs/gas.md)", () => {
    it("requests within 80k, fulfils within 70k and fulfils in a batch within 25k per result, callbacks excluded, with prepaid gas", async () => {
      const f = await fixture();
      const withoutCallbacks = (r: ContractTransactionReceipt, cs: RequestCommitment[]) =>
        cs.reduce((gas, c) => gas - settlement(f.oracle, r, c).callbackGasUsed, r.gasUsed);
      // Steady state, as npm run gas measures it: the request counter, the operator's and the
      // consumer's balance words are non-zero already; the operator is bonded and its signer current.
      await (await fulfil(f, f.signerA, await requestViaConsumer(f, { maxGasPrice: GAS_PRICE_BOUND }))).wait();
      const options = await requestOptions({ callbackGasLimit: 100_000, maxGasPrice: GAS_PRICE_BOUND });
      const requested = await (await (f.oracle.connect(f.user) as Contract)
        .requestInference(f.modelId, IRIS_INPUT, options, { value: await f.oracle.quote(f.modelId, options) })).wait();
      expect(requested.gasUsed).to.be.at.most(80_000n);
      const c = await requestViaConsumer(f, { maxGasPrice: GAS_PRICE_BOUND });
      expect(withoutCallbacks(await (await fulfil(f, f.signerA, c)).wait(), [c])).to.be.at.most(70_000n);
      const items: Submission[] = [];
      for (let i = 0; i < 10; i++) items.push({ request: await requestViaConsumer(f, { maxGasPrice: GAS_PRICE_BOUND }), output: IRIS_OUTPUT, status: ResultStatus.Ok });
      const batch = await (await f.oracle.fulfilBatch(items.map((s) => [s.request, s.output, s.status]), signBatch(f.signerA, f.domain, items))).wait();
      expect(withoutCallbacks(batch, items.map((s) => s.request)) / 10n).to.be.at.most(25_000n);
    });

    it("fulfils a batch of results of distinct requesters within 25k per result (each a cold account and a cold refund word)", async () => {
      const f = await fixture();
      const N = 20; // npm run gas uses 50; fewer items share the batch's fixed cost among fewer, so this bound is the harder one
      const consumers = [];
      for (let i = 0; i < N; i++) consumers.push({ ...f, consumer: await deployContract(f.deployer, "RecordingConsumer", [await f.oracle.getAddress()]) });
      // Steady state: each requester was credited a refund before (its balance word is non-zero).
      const warm = await Promise.all(consumers.map((k) => requestViaConsumer(k, { maxGasPrice: GAS_PRICE_BOUND })));
      const send = (cs: RequestCommitment[]) => {
        const items = cs.map((c) => ({ request: c, output: IRIS_OUTPUT, status: ResultStatus.Ok }));
        return f.oracle.fulfilBatch(items.map((s) => [s.request, s.output, s.status]), signBatch(f.signerA, f.domain, items)).then((t) => t.wait());
      };
      await send(warm);
      const spread = await Promise.all(consumers.map((k) => requestViaConsumer(k, { maxGasPrice: GAS_PRICE_BOUND })));
      const r = await send(spread);
      const gas = spread.reduce((g, c) => g - settlement(f.oracle, r, c).callbackGasUsed, r.gasUsed);
      expect(gas / BigInt(N)).to.be.at.most(25_000n);
    });
  });
});
