import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, Contract, type Log } from "ethers";
import IInferenceOracleAbi from "../../contracts/abi/IInferenceOracle.json";
import MockAbi from "../../contracts/abi/MockInferenceOracle.json";

const coder = AbiCoder.defaultAbiCoder();
const tensor = (v: bigint[]) => coder.encode(["int256[]"], [v]);
const MODEL = 1n;
const FEE = 1_000n;
const GAS_PRICE = 1_000n; // wei per gas: the prepayment is GAS_PRICE x (callbackGasLimit + 150 000)
const prepayment = (callbackGasLimit: number) => GAS_PRICE * BigInt(callbackGasLimit + 150_000);

describe("MockInferenceOracle (NOT FOR PRODUCTION)", function () {
  async function fixture() {
    const [owner, answerer, stranger] = await hre.ethers.getSigners();
    const mock = (await hre.ethers.deployContract("MockInferenceOracle")) as unknown as Contract;
    const consumer = (await hre.ethers.deployContract("RecordingConsumer", [await mock.getAddress()])) as unknown as Contract;
    await mock.setModelFee(MODEL, FEE);
    const deadline = BigInt(await time.latest()) + 3600n;
    const options = (o: Partial<{ callbackGasLimit: number; deadline: bigint; redundancy: number; maxFee: bigint; maxGasPrice: bigint }> = {}) =>
      ({ callbackGasLimit: 300_000, deadline, redundancy: 1, maxFee: FEE, maxGasPrice: GAS_PRICE, ...o });
    const request = async (o = options()) => {
      const receipt = await (await consumer.request(MODEL, tensor([1n, 2n]), o, { value: await mock.quote(MODEL, o) })).wait();
      const ev = receipt!.logs.map((l: Log) => { try { return mock.interface.parseLog(l); } catch { return null; } }).find((e: { name: string } | null) => e?.name === "InferenceRequested")!;
      return ev.args.requestId as bigint;
    };
    return { mock, consumer, owner, answerer, stranger, options, request, deadline };
  }

  it("has every function, event and error of IInferenceOracle, and names itself NOT FOR PRODUCTION", async () => {
    const { mock } = await loadFixture(fixture);
    const sig = (f: { type: string; name?: string; inputs?: { type: string }[] }) => `${f.type} ${f.name}(${(f.inputs ?? []).map((i) => i.type).join(",")})`;
    const mine = new Set((MockAbi as { type: string }[]).map(sig));
    for (const f of IInferenceOracleAbi as { type: string }[]) expect(mine, sig(f)).to.include(sig(f));
    expect(await mock.typeAndVersion()).to.match(/^MockInferenceOracle .*NOT FOR PRODUCTION/);
  });

  it("answers a consumer's request with the given values: the oracle's events, then the callback with the output", async () => {
    const { mock, consumer, answerer, request } = await loadFixture(fixture);
    const id = await request();
    const out = tensor([10n, 900n, -90n]);
    await expect((mock.connect(answerer) as Contract).answer(id, [10n, 900n, -90n]))
      .to.emit(mock, "InferenceFulfilled")
      .withArgs(id, hre.ethers.ZeroAddress, 0, true, (g: bigint) => g > 0n && g <= 300_000n, prepayment(300_000), out);
    expect(await consumer.lastOutput()).to.equal(out);
    expect(await consumer.lastRequestId()).to.equal(id);
    expect(await mock.requestState(id)).to.equal(2n);
    expect(await mock.balances(answerer.address)).to.equal(FEE);
    expect(await mock.balances(await consumer.getAddress())).to.equal(prepayment(300_000));
  });

  it("quotes the fee and the gas prepayment as the oracle does, and refuses a fee above the requester's bound", async () => {
    const { mock, options } = await loadFixture(fixture);
    const parts = await mock.quoteParts(MODEL, options({ redundancy: 2 }));
    expect(parts.fee).to.equal(2n * FEE);
    expect(parts.gasPrepayment).to.equal(GAS_PRICE * BigInt(300_000 + 2 * 150_000));
    expect(parts.total).to.equal(parts.fee + parts.gasPrepayment);
    expect(await mock.quote(MODEL, options({ redundancy: 2 }))).to.equal(parts.total);
    await expect(mock.requestInference(MODEL, tensor([1n]), options({ maxFee: FEE - 1n }), { value: 10n ** 18n }))
      .to.be.revertedWithCustomError(mock, "InferenceOracleFeeAboveMax").withArgs(FEE, FEE - 1n);
  });

  it("answers with a failure status and an empty output", async () => {
    const { mock, consumer, request } = await loadFixture(fixture);
    const id = await request();
    await mock.answerWith(id, "0x", 1);
    expect(await consumer.lastStatus()).to.equal(1n);
    expect(await consumer.lastOutput()).to.equal("0x");
  });

  it("refuses a second answer, an unknown request and a status that is not a ResultStatus, with the oracle's named errors", async () => {
    const { mock, request } = await loadFixture(fixture);
    const id = await request();
    await expect(mock.answerWith(id, "0x", 3)).to.be.revertedWithCustomError(mock, "InferenceOracleInvalidStatus").withArgs(3);
    await mock.answer(id, [1n]);
    await expect(mock.answer(id, [1n])).to.be.revertedWithCustomError(mock, "InferenceOracleAlreadyFulfilled").withArgs(id);
    await expect(mock.answer(99n, [1n])).to.be.revertedWithCustomError(mock, "InferenceOracleUnknownRequest").withArgs(99n);
  });

  it("expires a request after its deadline, refunding the requester, and not before; expireNow at once", async () => {
    const { mock, consumer, request, deadline, options } = await loadFixture(fixture);
    const id = await request();
    const c = (await mock.commitmentOf(id)).toArray();
    await expect(mock.expire(c)).to.be.revertedWithCustomError(mock, "InferenceOracleDeadlineNotReached").withArgs(id, deadline);
    await time.increaseTo(deadline + 1n);
    const tx = mock.expire(c);
    await expect(tx).to.emit(mock, "InferenceExpired").withArgs(id, await consumer.getAddress(), FEE + prepayment(300_000));
    await expect(tx).to.changeEtherBalance(consumer, FEE + prepayment(300_000));
    await expect(mock.answer(id, [1n])).to.be.revertedWithCustomError(mock, "InferenceOracleAlreadyExpired").withArgs(id);
    const id2 = await request(options({ callbackGasLimit: 0, deadline: deadline + 3600n }));
    await expect(mock.expireNow(id2)).to.emit(mock, "InferenceExpired").withArgs(id2, await consumer.getAddress(), FEE + prepayment(0));
    expect(await mock.requestState(id2)).to.equal(3n);
  });

  it("checks the payment and the options as the oracle does", async () => {
    const { mock, consumer, options } = await loadFixture(fixture);
    const total = await mock.quote(MODEL, options());
    await expect(mock.requestInference(MODEL, tensor([1n]), options(), { value: total - 1n }))
      .to.be.revertedWithCustomError(mock, "InferenceOracleInsufficientFee").withArgs(total - 1n, total);
    await expect(mock.requestInference(MODEL, tensor([1n]), options({ redundancy: 0 })))
      .to.be.revertedWithCustomError(mock, "InferenceOracleInvalidRedundancy").withArgs(0, 8);
    await expect(mock.requestInference(MODEL, tensor([1n]), options({ deadline: 1n }), { value: 10n ** 18n }))
      .to.be.revertedWithCustomError(mock, "InferenceOracleDeadlineInPast");
    await expect(consumer.request(MODEL, tensor([1n]), options({ callbackGasLimit: 5 }), { value: 10n ** 18n }))
      .to.be.revertedWithCustomError(mock, "InferenceOracleCallbackGasLimitOutOfBounds");
  });

  it("cannot be fulfilled with enclave signatures: fulfil and fulfilBatch revert MockInferenceOracleNoEnclaves", async () => {
    const { mock, request } = await loadFixture(fixture);
    const id = await request();
    await expect(mock.fulfil((await mock.commitmentOf(id)).toArray(), "0x", 0, "0x")).to.be.revertedWithCustomError(mock, "MockInferenceOracleNoEnclaves");
    await expect(mock.fulfilBatch([], "0x")).to.be.revertedWithCustomError(mock, "MockInferenceOracleNoEnclaves");
  });

  it("pays the answerer the fee, withdrawn like an operator's", async () => {
    const { mock, answerer, request } = await loadFixture(fixture);
    await (mock.connect(answerer) as Contract).answer(await request(), [1n]);
    await expect((mock.connect(answerer) as Contract).withdraw()).to.changeEtherBalance(answerer, FEE);
    await expect((mock.connect(answerer) as Contract).withdraw()).to.be.revertedWithCustomError(mock, "InferenceOracleNothingToWithdraw");
  });
});
