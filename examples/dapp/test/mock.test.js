// Unit test of FlowerClassifier against the package's MockInferenceOracle: the test answers.
const { test } = require("node:test");
const assert = require("node:assert/strict");
const oracleClient = require("@attested-inference-oracle/client");
const { signer, deploy, IRIS_LABELS } = require("./lib");

const MODEL_ID = 1n;
const FEE = 1000n;

test("FlowerClassifier keeps the class the mock answers, reads it back through the client, and ignores a failure", async () => {
  const me = signer();
  const mock = await deploy(me, "MockInferenceOracle");
  const dapp = await deploy(me, "FlowerClassifier", await mock.getAddress(), MODEL_ID);
  await (await mock.setModelFee(MODEL_ID, FEE)).wait();
  const client = await oracleClient.connectOracle(me, { oracle: await mock.getAddress() });
  const maxGasPrice = 10n ** 10n;
  const { total } = await oracleClient.quote(client, MODEL_ID, { callbackGasLimit: 100_000, deadline: 0n, redundancy: 1, maxFee: FEE, maxGasPrice });

  const features = oracleClient.toFixedPoint([6.4, 3.2, 4.5, 1.5], 6);
  const ask = async () => oracleClient.requestFromReceipt(client, await (await dapp.classify(features, FEE, maxGasPrice, { value: total })).wait()).requestId;
  const id = await ask();
  assert.equal(await oracleClient.requestState(client, id), "Pending");

  await (await mock.answer(id, [12_000n, 951_000n, 37_000n])).wait();
  assert.equal(await dapp.species(id), 2n);
  const final = await oracleClient.waitForResult(client, id, { timeoutMs: 10_000 });
  assert.equal(final.state, "Fulfilled");
  assert.equal(final.status, oracleClient.ResultStatus.Ok);
  const decoded = oracleClient.decodeOutput(final.output, { decimals: 6, labels: IRIS_LABELS });
  assert.equal(decoded.top.label, "versicolor");
  assert.deepEqual(decoded.formatted, ["0.012", "0.951", "0.037"]);

  const refused = await ask();
  await (await mock.answerWith(refused, "0x", oracleClient.ResultStatus.InputOutOfRange)).wait();
  assert.equal(await dapp.species(refused), 0n);
  assert.equal((await oracleClient.waitForResult(client, refused, { mode: "poll", timeoutMs: 10_000 })).status, oracleClient.ResultStatus.InputOutOfRange);

  await assert.rejects(mock.answer.staticCall(id, [1n]).catch((e) => { throw oracleClient.toClientError(e); }), (e) => {
    assert.equal(e.errorName, "InferenceOracleAlreadyFulfilled");
    assert.equal(e.args.requestId, id);
    return true;
  });
});
