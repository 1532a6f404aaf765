// Integration test of FlowerClassifier against the real contracts and an oracle node (`oracle dev`).
const { test } = require("node:test");
const assert = require("node:assert/strict");
const oracleClient = require("@attested-inference-oracle/client");
const { env, signer, deploy } = require("./lib");

test("FlowerClassifier gets the iris model's answer from the local oracle; the client reads, decodes and checks it", async () => {
  const me = signer();
  const client = await oracleClient.connectOracle(me, { oracle: env("ORACLE"), fromBlock: Number(process.env.FROM_BLOCK ?? 0) });
  const modelId = BigInt(env("MODEL_ID"));
  const model = (await oracleClient.listModels(client)).find((m) => m.modelId === modelId);
  assert.ok(model && model.active, "the model is in the catalogue");
  const served = (await oracleClient.fetchNodeModels(env("API_URL"))).find((m) => m.modelHash === model.modelHash);
  assert.ok(served?.output.labels, "the node describes the model's output labels");

  const dapp = await deploy(me, "FlowerClassifier", env("ORACLE"), modelId);
  const maxGasPrice = (await client.provider.getFeeData()).maxFeePerGas;
  const options = { callbackGasLimit: 100_000, deadline: 0n, redundancy: 1, maxFee: model.fee, maxGasPrice };
  const q = await oracleClient.quote(client, modelId, options);
  assert.equal(q.total, q.fee + q.gasPrepayment);
  const features = oracleClient.toFixedPoint([6.4, 3.2, 4.5, 1.5], model.decimals);
  const receipt = await (await dapp.classify(features, model.fee, maxGasPrice, { value: q.total })).wait();
  const { requestId } = oracleClient.requestFromReceipt(client, receipt);

  const final = await oracleClient.waitForResult(client, requestId, { timeoutMs: 90_000 });
  assert.equal(final.state, "Fulfilled");
  assert.equal(final.status, oracleClient.ResultStatus.Ok);
  const decoded = oracleClient.decodeOutput(final.output, { decimals: model.decimals, labels: served.output.labels });
  assert.equal(decoded.top.label, "versicolor");
  assert.equal(await dapp.species(requestId), BigInt(decoded.top.index + 1));
  const check = await oracleClient.checkResult(client, requestId);
  assert.equal(check.valid, true, JSON.stringify(check.checks));

  // From an EOA through the client, waiting by polling; a fee bound below the fee is refused by name.
  const sent = await oracleClient.requestInference(client, modelId, features);
  const polled = await oracleClient.waitForResult(client, sent.requestId, { mode: "poll", pollIntervalMs: 250, timeoutMs: 90_000 });
  assert.equal(polled.output, final.output);
  await assert.rejects(oracleClient.requestInference(client, modelId, features, { maxFee: model.fee - 1n }), (e) => {
    assert.equal(e.errorName, "InferenceOracleFeeAboveMax");
    return true;
  });
});
