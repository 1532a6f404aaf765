import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { Contract, Interface, keccak256, solidityPacked } from "ethers";
import {
  balanceOf, checkResult, connectDeployment, connectOracle, OracleClientError, decodeOutput, decodeRevert, encodeInput, expireRequest, getModel, listModels, quote,
  requestInference, resolveOptions, suggestedMaxGasPrice, toFixedPoint, waitForResult, withdraw, InvalidInputError, OracleContractError,
  OracleTimeoutError, UnknownModelError, UnknownRequestError, type SentRequest,
} from "../../oracle/client/src";
import { commitmentHash, commitmentTuple, quotedOptions } from "../../oracle/src/protocol/request";
import IInferenceOracleAbi from "../../contracts/abi/IInferenceOracle.json";
import IModelRegistryAbi from "../../contracts/abi/IModelRegistry.json";
import IEnclaveRegistryAbi from "../../contracts/abi/IEnclaveRegistry.json";
import IOperatorBondsAbi from "../../contracts/abi/IOperatorBonds.json";
import IEquivocationSlasherAbi from "../../contracts/abi/IEquivocationSlasher.json";
import { IRIS, IRIS_OUTPUT, ResultStatus, deployOracleFixture, registerEnclave, signBatch, signResult } from "../helpers/fixtures";

const IRIS_VALUES = [5_100_000n, 3_500_000n, 1_400_000n, 200_000n];
const LABELS = ["setosa", "versicolor", "virginica"];

describe("client (@attested-inference-oracle/client)", function () {
  async function fixture() {
    const f = await deployOracleFixture();
    const enclave = await registerEnclave(f, f.operatorA);
    const client = await connectOracle(f.user, { oracle: await f.oracle.getAddress() });
    const fulfil = async (s: SentRequest, output = IRIS_OUTPUT, status = ResultStatus.Ok) =>
      (await (f.oracle.connect(f.relayer) as Contract).fulfil(commitmentTuple(s.commitment), output, status, signResult(enclave, f.domain, s.commitment, output, status))).wait();
    return { f, enclave, client, fulfil };
  }

  it("connects from a deployment file's addresses, and refuses one of another chain", async () => {
    const { f } = await loadFixture(fixture);
    const deployment = { chainId: 31337, deploymentBlock: 0, contracts: { InferenceOracle: await f.oracle.getAddress() } };
    const client = await connectDeployment(f.user, deployment);
    expect(client.modelRegistry.target).to.equal(await f.modelRegistry.getAddress());
    expect(client.enclaveRegistry.target).to.equal(await f.enclaveRegistry.getAddress());
    await connectDeployment(f.user, { ...deployment, chainId: 1 }).then(() => expect.fail("no error"), (e) => {
      expect(e).to.be.instanceOf(OracleClientError);
      expect(e.message).to.match(/provider is on chain 31337, the deployment on chain 1/);
    });
  });

  it("reads the model catalogue from the registry", async () => {
    const { client, f } = await loadFixture(fixture);
    const models = await listModels(client);
    expect(models).to.have.length(1);
    expect(models[0]).to.include({ modelId: f.modelId, modelHash: IRIS.modelHash, inputLength: IRIS.inputLength, outputLength: IRIS.outputLength, decimals: IRIS.decimals, active: true });
    await getModel(client, 99).then(() => expect.fail("no error"), (e) => expect(e).to.be.instanceOf(UnknownModelError));
  });

  it("quotes in parts: the total to send is the fee plus the gas prepayment", async () => {
    const { client, f } = await loadFixture(fixture);
    const model = await getModel(client, f.modelId);
    const opts = await resolveOptions(client, model, { callbackGasLimit: 100_000, redundancy: 2, maxGasPrice: 10n ** 9n });
    const q = await quote(client, f.modelId, opts);
    expect(q.fee).to.equal(model.fee * 2n);
    expect(q.gasPrepayment).to.be.greaterThan(100_000n * 10n ** 9n);
    expect(q.total).to.equal(q.fee + q.gasPrepayment);
    expect(q.publisherFee + q.operatorFee).to.equal(q.fee);
  });

  it("by default prepays gas at twice the chain's fee cap now, and bounds the fee at today's (quotedOptions)", async () => {
    const { client, f } = await loadFixture(fixture);
    const model = await getModel(client, f.modelId);
    const cap = (await client.provider.getFeeData()).maxFeePerGas!;
    expect((await resolveOptions(client, model)).maxGasPrice).to.equal(2n * cap);
    expect(await suggestedMaxGasPrice(client.provider)).to.equal(2n * cap);
    const { options, quote: q } = await quotedOptions(f.oracle, f.modelId, { callbackGasLimit: 50_000, deadline: 2n ** 40n, redundancy: 1, maxGasPrice: 2n * cap });
    expect(options.maxFee, "the quoted fee is the bound").to.equal(q.fee).and.to.equal(model.fee);
    expect(q.total).to.equal(q.fee + q.gasPrepayment);
    expect(q.gasPrepayment).to.be.greaterThan(50_000n * 2n * cap);
  });

  it("requests from an EOA, paying the quote; its commitment is the one the oracle stored", async () => {
    const { client, f } = await loadFixture(fixture);
    const sent = await requestInference(client, f.modelId, IRIS_VALUES);
    expect(sent.requestId).to.equal(1n);
    expect(commitmentHash(sent.commitment)).to.equal(await f.oracle.requestCommitment(sent.requestId));
    expect(sent.commitment.requester).to.equal(await f.user.getAddress());
  });

  it("refuses an input of the wrong length before sending anything", async () => {
    const { client, f } = await loadFixture(fixture);
    await requestInference(client, f.modelId, [1n, 2n]).then(() => expect.fail("no error"), (e) => {
      expect(e).to.be.instanceOf(InvalidInputError);
      expect(e.message).to.match(/takes 4 values, got 2/);
    });
    expect(await f.oracle.requestCount()).to.equal(0n);
  });

  it("carries the oracle's named error: a fee bound below the fee is InferenceOracleFeeAboveMax(fee, maxFee)", async () => {
    const { client, f } = await loadFixture(fixture);
    const model = await getModel(client, f.modelId);
    await requestInference(client, f.modelId, IRIS_VALUES, { maxFee: model.fee - 1n }).then(() => expect.fail("no error"), (e) => {
      expect(e).to.be.instanceOf(OracleContractError);
      expect(e.errorName).to.equal("InferenceOracleFeeAboveMax");
      expect(e.args.fee).to.equal(model.fee);
      expect(e.args.maxFee).to.equal(model.fee - 1n);
    });
  });

  it("waits for the result (polling) and decodes it with the model's decimals and labels", async () => {
    const { client, f, fulfil, enclave } = await loadFixture(fixture);
    const sent = await requestInference(client, f.modelId, IRIS_VALUES);
    const waiting = waitForResult(client, sent.requestId, { mode: "poll", pollIntervalMs: 50, timeoutMs: 20_000 });
    await fulfil(sent);
    const final = await waiting;
    expect(final).to.include({ state: "Fulfilled", status: ResultStatus.Ok, output: IRIS_OUTPUT, outputHash: keccak256(IRIS_OUTPUT), signer: enclave.address });
    // what the one InferenceFulfilled log says of the callback and the refund (an EOA requester: nothing to call)
    expect(final.callbackSuccess).to.equal(false);
    expect(final.callbackGasUsed).to.equal(0n);
    expect(final.gasRefunded).to.equal(await f.oracle.balances(f.user.address));
    const decoded = decodeOutput(final.output!, { decimals: IRIS.decimals, labels: LABELS });
    expect(decoded.top).to.deep.equal({ index: 0, value: 0.912345, label: "setosa" });
    expect(decoded.formatted).to.deep.equal(["0.912345", "0.08", "0.007655"]);
  });

  it("waits for the result by subscription (no polling in between)", async () => {
    const { client, f, fulfil } = await loadFixture(fixture);
    const sent = await requestInference(client, f.modelId, IRIS_VALUES);
    const t0 = Date.now();
    const waiting = waitForResult(client, sent.requestId, { mode: "subscribe", pollIntervalMs: 600_000, timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 200));
    await fulfil(sent);
    expect((await waiting).state).to.equal("Fulfilled");
    expect(Date.now() - t0).to.be.below(25_000);
  });

  it("times out with OracleTimeoutError, then reports the expiry and its refund once expired", async () => {
    const { client, f } = await loadFixture(fixture);
    const sent = await requestInference(client, f.modelId, IRIS_VALUES, { deadlineIn: 60 });
    await waitForResult(client, sent.requestId, { mode: "poll", pollIntervalMs: 20, timeoutMs: 100 }).then(() => expect.fail("no timeout"), (e) => {
      expect(e).to.be.instanceOf(OracleTimeoutError);
      expect(e.requestId).to.equal(sent.requestId);
    });
    await expireRequest(client, sent.requestId).then(() => expect.fail("expired early"), (e) => {
      expect(e).to.be.instanceOf(OracleContractError);
      expect(e.errorName).to.equal("InferenceOracleDeadlineNotReached");
    });
    await time.increaseTo(sent.options.deadline + 1n);
    const { refund } = await expireRequest(client, sent.requestId);
    expect(refund).to.equal(sent.paid);
    const final = await waitForResult(client, sent.requestId, { timeoutMs: 1000 });
    expect(final).to.include({ state: "Expired", refund });
  });

  it("names an unknown request with UnknownRequestError", async () => {
    const { client } = await loadFixture(fixture);
    await waitForResult(client, 42n, { timeoutMs: 100 }).then(() => expect.fail("no error"), (e) => expect(e).to.be.instanceOf(UnknownRequestError));
  });

  it("checks a fulfilled result offline: signature recovered from the calldata, signer registered and active, bindings", async () => {
    const { client, f, fulfil, enclave } = await loadFixture(fixture);
    const sent = await requestInference(client, f.modelId, IRIS_VALUES);
    await fulfil(sent);
    const report = await checkResult(client, sent.requestId);
    expect(report.valid, JSON.stringify(report.checks)).to.equal(true);
    expect(report.signers).to.deep.equal([enclave.address]);
    expect(report.checks.map((c) => c.name)).to.include.members(["model hash bound", "fulfilment event found", `signature of ${enclave.address}`, "quorum"]);
  });

  it("checks a result submitted in a batch (one signature over many results)", async () => {
    const { client, f, enclave } = await loadFixture(fixture);
    const a = await requestInference(client, f.modelId, IRIS_VALUES);
    const b = await requestInference(client, f.modelId, [1n, 2n, 3n, 4n]);
    const items = [a, b].map((s) => ({ request: s.commitment, output: IRIS_OUTPUT, status: ResultStatus.Ok }));
    const sig = signBatch(enclave, f.domain, items);
    await (await (f.oracle.connect(f.relayer) as Contract).fulfilBatch(items.map((i) => [commitmentTuple(i.request), i.output, i.status]), sig)).wait();
    const report = await checkResult(client, b.requestId);
    expect(report.valid, JSON.stringify(report.checks)).to.equal(true);
  });

  it("fails the offline check of a result whose signer has been revoked since", async () => {
    const { client, f, fulfil, enclave } = await loadFixture(fixture);
    const sent = await requestInference(client, f.modelId, IRIS_VALUES);
    await fulfil(sent);
    await (await (f.enclaveRegistry.connect(f.deployer) as Contract).revokeSigner(enclave.address)).wait();
    const report = await checkResult(client, sent.requestId);
    expect(report.valid).to.equal(false);
    const failed = report.checks.find((c) => !c.ok)!;
    expect(failed.name).to.equal(`signer ${enclave.address} active`);
    expect(failed.detail).to.match(/EnclaveRegistrySignerRevoked/);
  });

  it("checks a k = 2 result by the votes that counted: a vote dropped when its signer was revoked is left out", async () => {
    const { client, f, enclave } = await loadFixture(fixture);
    const b = await registerEnclave(f, f.operatorB);
    const c = await registerEnclave(f, f.operatorC);
    const sent = await requestInference(client, f.modelId, IRIS_VALUES, { redundancy: 2 });
    const vote = async (w: typeof enclave) => (await (f.oracle.connect(f.relayer) as Contract)
      .fulfil(commitmentTuple(sent.commitment), IRIS_OUTPUT, ResultStatus.Ok, signResult(w, f.domain, sent.commitment))).wait();
    await vote(enclave);
    await (await (f.enclaveRegistry.connect(f.deployer) as Contract).revokeSigner(enclave.address)).wait();
    await vote(b);
    expect(await f.oracle.requestState(sent.requestId)).to.equal(1n); // A's vote dropped: not final yet
    await vote(c);
    const report = await checkResult(client, sent.requestId);
    expect(report.valid, JSON.stringify(report.checks)).to.equal(true);
    expect(report.signers).to.have.members([b.address, c.address]);
  });

  it("withdraws the operator's fees", async () => {
    const { f, fulfil } = await loadFixture(fixture);
    const user = await connectOracle(f.user, { oracle: await f.oracle.getAddress() });
    await fulfil(await requestInference(user, f.modelId, IRIS_VALUES));
    const operator = await connectOracle(f.operatorA, { oracle: await f.oracle.getAddress() });
    const owed = await balanceOf(operator, await f.operatorA.getAddress());
    expect(owed).to.be.greaterThan(0n);
    expect((await withdraw(operator)).amount).to.equal(owed);
    await withdraw(operator).then(() => expect.fail("no error"), (e) => expect(e.errorName).to.equal("InferenceOracleNothingToWithdraw"));
  });

  it("decodes every named error of the oracle, the registries, the bonds and the slasher by its selector", () => {
    for (const abi of [IInferenceOracleAbi, IModelRegistryAbi, IEnclaveRegistryAbi, IOperatorBondsAbi, IEquivocationSlasherAbi]) {
      const iface = new Interface(abi);
      iface.forEachError((e) => {
        const data = iface.encodeErrorResult(e, e.inputs.map((i) => (i.baseType === "address" ? hre.ethers.ZeroAddress : i.baseType.startsWith("bytes") ? `0x${"00".repeat(Number(i.baseType.slice(5)) || 0)}` : 0)));
        expect(decodeRevert(data)?.name, e.name).to.equal(e.name);
      });
    }
  });

  it("encodes inputs in the model's encoding: abi int256[] or packed int8..int64 as Solidity packs them", () => {
    const v = [0n, 1n, -1n, 127n, -128n];
    expect(encodeInput(v, 0)).to.equal(hre.ethers.AbiCoder.defaultAbiCoder().encode(["int256[]"], [v]));
    for (const [enc, type] of [[1, "int8"], [2, "int16"], [3, "int32"], [4, "int64"]] as const) {
      expect(encodeInput(v, enc), type).to.equal(solidityPacked(v.map(() => type), v));
    }
    expect(() => encodeInput([128n], 1)).to.throw(InvalidInputError, /does not fit in int8/);
    expect(toFixedPoint([6.4, "3.25"], 6)).to.deep.equal([6_400_000n, 3_250_000n]);
  });
});
