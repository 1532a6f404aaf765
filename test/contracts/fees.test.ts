/**
 * InferenceOracle money: the requester's fee bound (no fee front-running), the gas prepayment and
 * its reimbursement to the signer's operator, the publisher's share, refunds at finality and at
 * expiry. Gas figures are checked against what the relayer's transaction actually cost.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { expect } from "chai";
import { ethers } from "hardhat";
import { Contract, ContractTransactionReceipt, Wallet, id, parseEther } from "ethers";
import { deployContract } from "../../scripts/lib/deploy-contracts";
import {
  GAS_PRICE_BOUND, IRIS, IRIS_INPUT, IRIS_OUTPUT, MEASUREMENT, OracleFixture, commitmentFromReceipt, deployOracleFixture,
  encodeTensor, settlement, registerEnclave, registerModel, requestFrom, requestOptions, requestViaConsumer, signBatch, signResult,
} from "../helpers/fixtures";
import { InputEncoding, RequestCommitment, encodePacked } from "../helpers/protocol";

const GWEI = 10n ** 9n;

describe("InferenceOracle fees and gas", () => {
  async function fixture() {
    const f = await loadFixture(deployOracleFixture);
    const signerA = await registerEnclave(f, f.operatorA);
    const signerB = await registerEnclave(f, f.operatorB);
    const signerC = await registerEnclave(f, f.operatorC);
    const resultGasOverhead = (await f.oracle.config()).resultGasOverhead as bigint;
    return { ...f, signerA, signerB, signerC, resultGasOverhead };
  }
  type F = Awaited<ReturnType<typeof fixture>>;

  /** Sends `fulfil` from `from` at a legacy gas price, so tx.gasprice is exactly `gasPrice`. */
  async function fulfilAt(f: OracleFixture, from: { address: string }, signer: Wallet, c: RequestCommitment, gasPrice: bigint, output = IRIS_OUTPUT) {
    const oracle = f.oracle.connect(await ethers.getSigner(from.address)) as Contract;
    const tx = await oracle.fulfil(c, output, 0, signResult(signer, f.domain, c, output), { gasPrice, type: 0 });
    return (await tx.wait()) as ContractTransactionReceipt;
  }

  const cost = (r: ContractTransactionReceipt) => r.gasUsed * r.gasPrice;
  const settled = (f: OracleFixture, r: ContractTransactionReceipt, c: RequestCommitment) => settlement(f.oracle, r, c);

  describe("the fee bound (no fee front-running)", () => {
    it("reverts a request whose fee is above its maxFee, naming both, and charges nothing", async () => {
      const f = await fixture();
      const options = await requestOptions({ redundancy: 2, maxFee: IRIS.fee * 2n - 1n });
      await expect((f.oracle.connect(f.user) as Contract).requestInference(f.modelId, IRIS_INPUT, options, { value: IRIS.fee * 2n }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleFeeAboveMax").withArgs(IRIS.fee * 2n, IRIS.fee * 2n - 1n);
      expect(await ethers.provider.getBalance(await f.oracle.getAddress())).to.equal(0n);
      // exactly at the bound is fine
      await expect((f.oracle.connect(f.user) as Contract).requestInference(f.modelId, IRIS_INPUT, { ...options, maxFee: IRIS.fee * 2n }, { value: IRIS.fee * 2n }))
        .to.emit(f.oracle, "InferenceRequested");
    });

    it("a publisher raising setFee in the same block just before a consumer's request takes nothing from it", async () => {
      const f = await fixture();
      // The consumer holds 1 ETH and states the 0.001 ETH fee it saw as its bound.
      await f.deployer.sendTransaction({ to: await f.consumer.getAddress(), value: parseEther("1") });
      const options = await requestOptions({ maxFee: IRIS.fee });
      const publisher = f.modelRegistry.connect(f.publisher) as Contract;
      await ethers.provider.send("evm_setAutomine", [false]);
      try {
        const raise = await publisher.setFee(f.modelId, parseEther("1"), { gasLimit: 100_000 });
        const request = await (f.consumer.connect(f.user) as Contract).request(f.modelId, IRIS_INPUT, options, { gasLimit: 500_000 });
        await ethers.provider.send("evm_mine", []);
        const [raised, requested] = await Promise.all([raise.wait(), request.wait().catch((e: { receipt: unknown }) => e.receipt)]);
        expect(raised!.blockNumber).to.equal((requested as ContractTransactionReceipt).blockNumber);
        expect((requested as ContractTransactionReceipt).status).to.equal(0);
      } finally {
        await ethers.provider.send("evm_setAutomine", [true]);
      }
      // why it reverted: the consumer's request at the raised fee
      await expect((f.consumer.connect(f.user) as Contract).request(f.modelId, IRIS_INPUT, options))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleFeeAboveMax").withArgs(parseEther("1"), IRIS.fee);
      expect(await ethers.provider.getBalance(await f.consumer.getAddress())).to.equal(parseEther("1"));
      expect(await ethers.provider.getBalance(await f.oracle.getAddress())).to.equal(0n);
      expect(await f.oracle.requestCount()).to.equal(0n);
    });
  });

  describe("events", () => {
    it("InferenceRequested carries the gas prepayment and the gas price bound", async () => {
      const f = await fixture();
      const options = await requestOptions({ callbackGasLimit: 120_000, redundancy: 2, maxGasPrice: 3n * GWEI });
      const prepayment = 3n * GWEI * (120_000n + 2n * f.resultGasOverhead);
      await expect((f.consumer.connect(f.user) as Contract).request(f.modelId, IRIS_INPUT, options, { value: IRIS.fee * 2n + prepayment }))
        .to.emit(f.oracle, "InferenceRequested")
        .withArgs(1n, f.modelId, await f.consumer.getAddress(), IRIS.modelHash, IRIS_INPUT, IRIS.fee * 2n, prepayment, 3n * GWEI, 120_000, options.deadline, 2);
    });

    it("InferenceFulfilled says what the requester got back; the rest of the prepayment reimbursed the operator", async () => {
      const f = await fixture();
      const free = await requestViaConsumer(f, { maxGasPrice: 0n });
      await expect(f.oracle.connect(f.relayer).getFunction("fulfil")(free, IRIS_OUTPUT, 0, signResult(f.signerA, f.domain, free)))
        .to.emit(f.oracle, "InferenceFulfilled").withArgs(free.requestId, f.signerA.address, 0, true, anyValue, 0n, IRIS_OUTPUT);
      const paid = await requestViaConsumer(f, { maxGasPrice: GAS_PRICE_BOUND });
      const r = await fulfilAt(f, f.relayer, f.signerA, paid, GWEI);
      const { gasReimbursed: reimbursed, gasRefunded: refunded } = settled(f, r, paid);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee * 2n + reimbursed);
      expect(reimbursed + refunded).to.equal(paid.gasPrepayment);
      expect(reimbursed).to.be.within(cost(r), cost(r) * 110n / 100n);
      // a vote that does not complete the quorum settles nothing
      const k2 = await requestViaConsumer(f, { redundancy: 2, maxGasPrice: GAS_PRICE_BOUND });
      await expect(f.oracle.connect(f.relayer).getFunction("fulfil")(k2, IRIS_OUTPUT, 0, signResult(f.signerA, f.domain, k2)))
        .to.emit(f.oracle, "ResultSubmitted").and.not.to.emit(f.oracle, "InferenceFulfilled");
    });
  });

  describe("quote", () => {
    it("returns fee + gas prepayment, and quoteParts the parts with the publisher's share", async () => {
      const f = await fixture();
      const modelId = await registerModel(f.modelRegistry, f.publisher, { ...IRIS, modelHash: id("shared"), publisherShareBps: 2_500 }, [MEASUREMENT]);
      const options = await requestOptions({ redundancy: 3, callbackGasLimit: 150_000, maxGasPrice: 7n * GWEI });
      const prepayment = 7n * GWEI * (150_000n + 3n * f.resultGasOverhead);
      expect(await f.oracle.quote(modelId, options)).to.equal(IRIS.fee * 3n + prepayment);
      const q = await f.oracle.quoteParts(modelId, options);
      expect([q.fee, q.publisherFee, q.operatorFee, q.gasPrepayment, q.total]).to.deep.equal([
        IRIS.fee * 3n, IRIS.fee * 3n / 4n, IRIS.fee * 3n - IRIS.fee * 3n / 4n, prepayment, IRIS.fee * 3n + prepayment,
      ]);
    });

    it("asks for the prepayment: too little ether names the total", async () => {
      const f = await fixture();
      const options = await requestOptions({ maxGasPrice: GWEI });
      const total = await f.oracle.quote(f.modelId, options);
      await expect((f.oracle.connect(f.user) as Contract).requestInference(f.modelId, IRIS_INPUT, options, { value: total - 1n }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleInsufficientFee").withArgs(total - 1n, total);
    });
  });

  describe("gas prepayment and reimbursement", () => {
    it("a gas-burning consumer pays for its own gas: the operator is reimbursed from its prepayment, the rest refunded", async () => {
      const f = await fixture();
      const burner = await deployContract(f.deployer, "GasBurningConsumer");
      const burnerAddress = await burner.getAddress();
      const options = await requestOptions({ callbackGasLimit: 2_000_000, maxGasPrice: GAS_PRICE_BOUND });
      const q = await f.oracle.quoteParts(f.modelId, options);
      const data = f.oracle.interface.encodeFunctionData("requestInference", [f.modelId, IRIS_INPUT, options]);
      const c = commitmentFromReceipt(f.oracle, await (await burner.request(await f.oracle.getAddress(), data, { value: q.total })).wait());
      expect(c.gasPrepayment).to.equal(q.gasPrepayment);
      // the operator relays its own enclave's result and burns ≈ 2.05M gas in the callback
      const before = await ethers.provider.getBalance(f.operatorA.address);
      const r = await fulfilAt(f, f.operatorA, f.signerA, c, 3n * GWEI);
      const { gasReimbursed, gasRefunded } = settled(f, r, c);
      expect(r.gasUsed).to.be.greaterThan(2_000_000n);
      // it is paid back at least what it spent, and at most 10% more (calldata is counted at 16 gas a byte)
      expect(gasReimbursed).to.be.within(cost(r), cost(r) * 110n / 100n);
      expect(gasReimbursed + gasRefunded).to.equal(c.gasPrepayment);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee + gasReimbursed);
      expect(await f.oracle.balances(burnerAddress)).to.equal(gasRefunded);
      expect(await ethers.provider.getBalance(f.operatorA.address)).to.equal(before - cost(r));
      // net of its withdrawal the operator earned the fee at least
      await (f.oracle.connect(f.operatorA) as Contract).withdraw();
    });

    it("a relayer cannot be reimbursed above maxGasPrice, whatever gas price it pays", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f, { maxGasPrice: 2n * GWEI });
      const r = await fulfilAt(f, f.operatorA, f.signerA, c, 6n * GWEI);
      const { gasReimbursed } = settled(f, r, c);
      expect(gasReimbursed % (2n * GWEI)).to.equal(0n);
      expect(gasReimbursed).to.be.within(r.gasUsed * 2n * GWEI, r.gasUsed * 2n * GWEI * 110n / 100n);
      expect(gasReimbursed).to.be.lessThan(cost(r));
    });

    it("a third-party relayer gets nothing: the reimbursement goes to the signer's operator", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f, { maxGasPrice: GAS_PRICE_BOUND });
      const r = await fulfilAt(f, f.relayer, f.signerA, c, 2n * GWEI);
      const { gasReimbursed } = settled(f, r, c);
      expect(gasReimbursed).to.be.greaterThan(0n);
      expect(await f.oracle.balances(f.relayer.address)).to.equal(0n);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee + gasReimbursed);
    });

    it("does not reimburse calldata a relayer appends: padding cannot spend the requester's prepayment", async () => {
      const f = await fixture();
      const send = async (c: RequestCommitment, junk: string) => {
        const data = f.oracle.interface.encodeFunctionData("fulfil", [c, IRIS_OUTPUT, 0, signResult(f.signerA, f.domain, c)]) + junk;
        const tx = await f.operatorA.sendTransaction({ to: await f.oracle.getAddress(), data, gasPrice: GWEI, type: 0 });
        return (await tx.wait()) as unknown as ContractTransactionReceipt;
      };
      await send(await requestViaConsumer(f, { maxGasPrice: GAS_PRICE_BOUND }), ""); // balance words non-zero: both below are steady state
      const clean = await requestViaConsumer(f, { maxGasPrice: GAS_PRICE_BOUND });
      const padded = await requestViaConsumer(f, { maxGasPrice: GAS_PRICE_BOUND });
      const rClean = await send(clean, "");
      const rPadded = await send(padded, "ff".repeat(10_000)); // 10 kB of non-zero bytes: ≈ 150k gas more for the relayer
      expect(rPadded.gasUsed - rClean.gasUsed).to.be.greaterThan(100_000n);
      const paidClean = settled(f, rClean, clean).gasReimbursed;
      const paidPadded = settled(f, rPadded, padded).gasReimbursed;
      // The padded fulfilment is reimbursed as the clean one (the two differ only in a few request bytes), not its cost.
      expect(paidPadded).to.be.within(paidClean - 1_000n * GWEI, paidClean + 1_000n * GWEI);
      expect(paidPadded).to.be.lessThan(cost(rPadded) / 2n);
      expect(paidClean).to.be.within(cost(rClean), cost(rClean) * 110n / 100n);
    });

    it("never reimburses more than the prepayment: the rest of the cost is the relayer's", async () => {
      const f = await fixture();
      await f.oracle.setConfig({ ...(await f.oracle.config()).toObject(), resultGasOverhead: 10_000 });
      const c = await requestFrom(f, f.user, { maxGasPrice: GWEI, callbackGasLimit: 0 });
      expect(c.gasPrepayment).to.equal(10_000n * GWEI);
      const r = await fulfilAt(f, f.operatorA, f.signerA, c, GWEI);
      const { gasReimbursed, gasRefunded } = settled(f, r, c);
      expect([gasReimbursed, gasRefunded]).to.deep.equal([c.gasPrepayment, 0n]);
      expect(await f.oracle.balances(f.user.address)).to.equal(0n);
    });

    it("prepays and reimburses nothing at maxGasPrice zero", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f, { maxGasPrice: 0n });
      expect(c.gasPrepayment).to.equal(0n);
      const r = await fulfilAt(f, f.operatorA, f.signerA, c, GWEI);
      const { gasReimbursed, gasRefunded } = settled(f, r, c);
      expect([gasReimbursed, gasRefunded]).to.deep.equal([0n, 0n]);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee);
    });

    it("reimburses each agreeing vote of a k > 1 request at finality, and not a disagreeing one", async () => {
      const f = await fixture();
      const c = await requestViaConsumer(f, { redundancy: 2, maxGasPrice: GAS_PRICE_BOUND });
      const a = await fulfilAt(f, f.operatorA, f.signerA, c, GWEI);
      const dissent = await fulfilAt(f, f.operatorB, f.signerB, c, GWEI, encodeTensor([1n, 2n, 3n]));
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(0n); // paid only at finality
      const last = await fulfilAt(f, f.operatorC, f.signerC, c, GWEI);
      const { gasReimbursed, gasRefunded } = settled(f, last, c);
      expect(gasReimbursed + gasRefunded).to.equal(c.gasPrepayment);
      const paidA = (await f.oracle.balances(f.operatorA.address)) - IRIS.fee;
      const paidC = (await f.oracle.balances(f.operatorC.address)) - IRIS.fee;
      expect(paidA + paidC).to.equal(gasReimbursed);
      expect(paidA).to.be.within(cost(a), cost(a) * 110n / 100n);
      expect(paidC).to.be.within(cost(last), cost(last) * 110n / 100n);
      expect(await f.oracle.balances(f.operatorB.address)).to.equal(0n);
      expect(cost(dissent)).to.be.greaterThan(0n);
    });

    it("reimburses each result of a batch its share of the batch's gas", async () => {
      const f = await fixture();
      const items = [];
      for (let i = 0; i < 4; i++) items.push({ request: await requestViaConsumer(f, { maxGasPrice: GAS_PRICE_BOUND }), output: IRIS_OUTPUT, status: 0 });
      const oracle = f.oracle.connect(f.operatorA) as Contract;
      const r = (await (await oracle.fulfilBatch(items.map((s) => [s.request, s.output, s.status]), signBatch(f.signerA, f.domain, items), { gasPrice: GWEI, type: 0 })).wait()) as ContractTransactionReceipt;
      const reimbursed = items.map((s) => settlement(f.oracle, r, s.request).gasReimbursed);
      expect(reimbursed.length).to.equal(4);
      const total = reimbursed.reduce((s, x) => s + x, 0n);
      expect(total).to.be.within(cost(r), cost(r) * 110n / 100n);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(IRIS.fee * 4n + total);
    });

    it("refunds the fee and the whole prepayment at expiry", async () => {
      const f = await fixture();
      const c = await requestFrom(f, f.user, { redundancy: 2, maxGasPrice: GWEI });
      await fulfilAt(f, f.operatorA, f.signerA, c, GWEI);
      await time.increaseTo(c.deadline + 1n);
      const refund = c.fee + c.gasPrepayment;
      const tx = f.oracle.expire(c);
      await expect(tx).to.emit(f.oracle, "InferenceExpired").withArgs(c.requestId, f.user.address, refund);
      await expect(tx).to.changeEtherBalances([f.user, f.oracle], [refund, -refund]);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(0n);
    });
  });

  describe("the publisher's share", () => {
    it("credits fee x share / 10 000 to the publisher at finality and splits the rest among the agreeing operators", async () => {
      const f = await fixture();
      const modelId = await registerModel(f.modelRegistry, f.publisher, { ...IRIS, modelHash: id("shared"), fee: 1_000_003n, publisherShareBps: 3_333 }, [MEASUREMENT]);
      const options = await requestOptions({ redundancy: 2 });
      const c = commitmentFromReceipt(f.oracle, await (await (f.oracle.connect(f.user) as Contract).requestInference(modelId, IRIS_INPUT, options, { value: 2_000_006n })).wait());
      await fulfilAt(f, f.operatorA, f.signerA, c, GWEI);
      expect(await f.oracle.balances(f.publisher.address)).to.equal(0n);
      await fulfilAt(f, f.operatorB, f.signerB, c, GWEI);
      const publisherFee = 2_000_006n * 3_333n / 10_000n;
      const share = (2_000_006n - publisherFee) / 2n;
      expect(await f.oracle.balances(f.publisher.address)).to.equal(publisherFee);
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(share);
      expect(await f.oracle.balances(f.operatorB.address)).to.equal(2_000_006n - publisherFee - share);
    });
  });

  describe("packed inputs", () => {
    it("accepts exactly inputLength x width bytes for a packed int16 model and rejects every other length", async () => {
      const f = await fixture();
      const modelId = await registerModel(f.modelRegistry, f.publisher, { ...IRIS, modelHash: id("digits"), inputLength: 784, inputEncoding: InputEncoding.PackedInt16 }, [MEASUREMENT]);
      const options = await requestOptions({ callbackGasLimit: 0 });
      const user = f.oracle.connect(f.user) as Contract;
      const input = encodePacked(Array.from({ length: 784 }, (_, i) => (i * 37) % 511 - 255), InputEncoding.PackedInt16);
      await expect(user.requestInference(modelId, input, options, { value: IRIS.fee }))
        .to.emit(f.oracle, "InferenceRequested").withArgs(1n, modelId, f.user.address, id("digits"), input, IRIS.fee, 0n, 0n, 0, options.deadline, 1);
      for (const bad of [input.slice(0, -2), input + "00", encodeTensor(Array.from({ length: 784 }, () => 1n))]) {
        await expect(user.requestInference(modelId, bad, options, { value: IRIS.fee }))
          .to.be.revertedWithCustomError(f.oracle, "InferenceOracleMalformedInput").withArgs(784, InputEncoding.PackedInt16);
      }
    });
  });

  describe("the accounting invariant", () => {
    it("holds the pending fees and prepayments plus every balance, after fulfilment, expiry and withdrawal", async () => {
      const f: F = await fixture();
      const oracleAddress = await f.oracle.getAddress();
      const one = await requestViaConsumer(f, { maxGasPrice: GWEI });
      const two = await requestFrom(f, f.user, { redundancy: 2, maxGasPrice: GWEI });
      const accounts = [f.operatorA, f.operatorB, f.user, f.consumer, f.publisher].map((a) => a as unknown as { getAddress(): Promise<string> });
      const check = async (pending: RequestCommitment[]) => {
        let sum = pending.reduce((s, c) => s + c.fee + c.gasPrepayment, 0n);
        for (const a of accounts) sum += await f.oracle.balances(await a.getAddress());
        expect(await ethers.provider.getBalance(oracleAddress)).to.equal(sum);
      };
      await check([one, two]);
      await fulfilAt(f, f.operatorA, f.signerA, one, GWEI);
      await check([two]);
      await fulfilAt(f, f.operatorB, f.signerB, two, GWEI);
      await check([two]);
      await time.increaseTo(two.deadline + 1n);
      await f.oracle.expire(two);
      await check([]);
      await (f.oracle.connect(f.operatorA) as Contract).withdraw();
      await check([]);
    });
  });
});
