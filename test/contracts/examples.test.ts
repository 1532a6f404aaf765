import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { Contract, id, parseEther } from "ethers";
import { deployContract } from "../../scripts/lib/deploy-contracts";
import {
  GAS_PRICE_BOUND, IRIS, MEASUREMENT, ResultStatus, commitmentFromReceipt, deployOracleFixture, encodeTensor, settlement,
  registerEnclave, registerModel, signResult,
} from "../helpers/fixtures";

describe("Example consumers", () => {
  async function fixture() {
    const f = await deployOracleFixture();
    const signer = await registerEnclave(f, f.operatorA);
    const iris = await deployContract(f.deployer, "IrisClassifierConsumer", [await f.oracle.getAddress(), f.modelId]);
    const riskModelId = await registerModel(f.modelRegistry, f.publisher, { ...IRIS, modelHash: id("risk.onnx"), inputLength: 2, outputLength: 1, decimals: 6 }, [MEASUREMENT]);
    const pool = await deployContract(f.deployer, "RiskScoredLendingPool", [await f.oracle.getAddress(), riskModelId, 6, 3_000, 8_000]);
    const relayer = f.oracle.connect(f.relayer) as Contract;
    return { ...f, signer, iris, pool, riskModelId, relayer };
  }

  describe("IrisClassifierConsumer", () => {
    async function classify(f: Awaited<ReturnType<typeof fixture>>, maxFee = IRIS.fee) {
      const deadline = BigInt(await time.latest()) + 600n;
      const options = { callbackGasLimit: 100_000, deadline, redundancy: 1, maxFee, maxGasPrice: GAS_PRICE_BOUND };
      const total = await f.oracle.quote(f.modelId, options);
      const tx = await (f.iris.connect(f.user) as Contract).classify([5_100_000n, 3_500_000n, 1_400_000n, 200_000n], deadline, maxFee, GAS_PRICE_BOUND, { value: total });
      return commitmentFromReceipt(f.oracle, await tx.wait());
    }

    it("stores the argmax of the three class scores as the predicted class", async () => {
      const f = await loadFixture(fixture);
      const c = await classify(f);
      const output = encodeTensor([-1_000n, 2_500_000n, 2_400_000n]);
      await expect(f.relayer.fulfil(c, output, 0, signResult(f.signer, f.domain, c, output)))
        .to.emit(f.iris, "IrisClassified").withArgs(c.requestId, 1n);
      expect(await f.iris.predictedClass(c.requestId)).to.equal(1n);
    });

    it("records a runner failure and has no prediction for it", async () => {
      const f = await loadFixture(fixture);
      const c = await classify(f);
      await expect(f.relayer.fulfil(c, "0x", ResultStatus.InputOutOfRange, signResult(f.signer, f.domain, c, "0x", ResultStatus.InputOutOfRange)))
        .to.emit(f.iris, "ClassificationFailed").withArgs(c.requestId, ResultStatus.InputOutOfRange);
      await expect(f.iris.predictedClass(c.requestId)).to.be.revertedWithCustomError(f.iris, "IrisClassifierNoPrediction").withArgs(c.requestId);
    });

    it("reverts, charging nothing, when the fee was raised above the caller's maxFee", async () => {
      const f = await loadFixture(fixture);
      await (f.modelRegistry.connect(f.publisher) as Contract).setFee(f.modelId, IRIS.fee * 2n);
      const deadline = BigInt(await time.latest()) + 600n;
      await expect((f.iris.connect(f.user) as Contract).classify([1n, 2n, 3n, 4n], deadline, IRIS.fee, 0n, { value: IRIS.fee * 2n }))
        .to.be.revertedWithCustomError(f.oracle, "InferenceOracleFeeAboveMax").withArgs(IRIS.fee * 2n, IRIS.fee);
    });

    it("brings the unused gas prepayment home with claimOracleBalance", async () => {
      const f = await loadFixture(fixture);
      const c = await classify(f);
      const output = encodeTensor([1n, 2n, 3n]);
      const receipt = await (await f.relayer.fulfil(c, output, 0, signResult(f.signer, f.domain, c, output))).wait();
      const refunded = settlement(f.oracle, receipt, c).gasRefunded;
      expect(refunded).to.be.greaterThan(0n);
      expect(await f.oracle.balances(await f.iris.getAddress())).to.equal(refunded);
      await expect((f.iris.connect(f.stranger) as Contract).claimOracleBalance()).to.changeEtherBalances([f.iris, f.oracle], [refunded, -refunded]);
    });

    it("accepts results from the oracle only", async () => {
      const f = await loadFixture(fixture);
      await expect(f.iris.onInferenceResult(1n, "0x", 0)).to.be.revertedWithCustomError(f.iris, "InferenceConsumerOnlyOracle").withArgs(f.deployer.address);
    });
  });

  describe("RiskScoredLendingPool", () => {
    async function scored(score: bigint) {
      const f = await loadFixture(fixture);
      const deadline = BigInt(await time.latest()) + 600n;
      const tx = await f.pool.requestRiskUpdate(encodeTensor([120_000n, 45_000n]), deadline, IRIS.fee, 0n, { value: IRIS.fee });
      const c = commitmentFromReceipt(f.oracle, await tx.wait());
      const output = encodeTensor([score]);
      const fulfilled = f.relayer.fulfil(c, output, 0, signResult(f.signer, f.domain, c, output));
      return { ...f, c, fulfilled };
    }

    it("maps the risk score linearly onto the LTV bounds", async () => {
      const f = await scored(250_000n);
      await expect(f.fulfilled).to.emit(f.pool, "RiskParametersUpdated").withArgs(f.c.requestId, 250_000n, 6_750);
      expect(await f.pool.ltvBps()).to.equal(6_750n);
    });

    it("clamps scores outside [0, 1] to the bounds", async () => {
      const f = await loadFixture(fixture);
      expect(await f.pool.ltvForScore(-5n)).to.equal(8_000n);
      expect(await f.pool.ltvForScore(3_000_000n)).to.equal(3_000n);
      expect(await f.pool.ltvForScore(1_000_000n)).to.equal(3_000n);
    });

    it("limits borrowing and collateral withdrawal to collateral x LTV", async () => {
      const f = await scored(1_000_000n); // riskiest: LTV 30%
      await f.fulfilled;
      await f.pool.addLiquidity({ value: parseEther("10") });
      const user = f.pool.connect(f.user) as Contract;
      await user.depositCollateral({ value: parseEther("1") });
      await expect(user.borrow(parseEther("0.31")))
        .to.be.revertedWithCustomError(f.pool, "RiskPoolLtvExceeded").withArgs(parseEther("0.31"), parseEther("0.3"));
      await expect(user.borrow(parseEther("0.3"))).to.emit(f.pool, "Borrowed").withArgs(f.user.address, parseEther("0.3"));
      await expect(user.withdrawCollateral(parseEther("0.1")))
        .to.be.revertedWithCustomError(f.pool, "RiskPoolLtvExceeded").withArgs(parseEther("0.3"), parseEther("0.27"));
      await user.repay({ value: parseEther("0.3") });
      await expect(user.withdrawCollateral(parseEther("1"))).to.changeEtherBalance(f.user, parseEther("1"));
    });

    it("lends nothing before the first score, and ignores a failed score", async () => {
      const f = await loadFixture(fixture);
      await f.pool.addLiquidity({ value: parseEther("1") });
      const user = f.pool.connect(f.user) as Contract;
      await user.depositCollateral({ value: parseEther("1") });
      await expect(user.borrow(1n)).to.be.revertedWithCustomError(f.pool, "RiskPoolLtvExceeded").withArgs(1n, 0n);
      const deadline = BigInt(await time.latest()) + 600n;
      const c = commitmentFromReceipt(f.oracle, await (await f.pool.requestRiskUpdate(encodeTensor([1n, 2n]), deadline, IRIS.fee, 0n, { value: IRIS.fee })).wait());
      await expect(f.relayer.fulfil(c, "0x", ResultStatus.InputOutOfRange, signResult(f.signer, f.domain, c, "0x", ResultStatus.InputOutOfRange)))
        .to.emit(f.pool, "RiskUpdateIgnored").withArgs(c.requestId, ResultStatus.InputOutOfRange);
      expect(await f.pool.ltvBps()).to.equal(0n);
    });

    it("requires exactly the oracle's quote, fee and gas prepayment", async () => {
      const f = await loadFixture(fixture);
      const deadline = BigInt(await time.latest()) + 600n;
      const options = { callbackGasLimit: 100_000, deadline, redundancy: 1, maxFee: IRIS.fee, maxGasPrice: GAS_PRICE_BOUND };
      const total = await f.oracle.quote(f.riskModelId, options);
      expect(total).to.be.greaterThan(IRIS.fee);
      await expect(f.pool.requestRiskUpdate(encodeTensor([1n, 2n]), deadline, IRIS.fee, GAS_PRICE_BOUND, { value: IRIS.fee }))
        .to.be.revertedWithCustomError(f.pool, "RiskPoolWrongFee").withArgs(IRIS.fee, total);
      await expect(f.pool.requestRiskUpdate(encodeTensor([1n, 2n]), deadline, IRIS.fee, GAS_PRICE_BOUND, { value: total }))
        .to.emit(f.pool, "RiskUpdateRequested");
    });
  });
});
