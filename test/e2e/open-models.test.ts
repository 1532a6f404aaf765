/**
 * Done-when of open models, on a live node: a publisher who is not the operator builds a model,
 * checks, packs and publishes it with `oracle model`, the RUNNING node serves it without a
 * restart (fetched by its URI), a consumer gets its result, and `verify-result` verifies it end
 * to end, fetching the model by its URI.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { Contract, NonceManager } from "ethers";
import { verifyResult } from "../../oracle/src/audit/result/verify-result";
import { formatResultText } from "../../oracle/src/audit/result/render";
import { serializeModel } from "../../oracle/src/models/build/onnx-builder";
import { readModelSpec } from "../../oracle/src/models/spec";
import { encodeInput } from "../../oracle/src/models/codec";
import { devAccount } from "../../oracle/src/dev/devchain";
import { ORACLE_ABI } from "../../oracle/src/protocol/abi";
import { decodeTensor, ResultStatus } from "../../oracle/src/protocol";
import { REPO_ROOT } from "../../oracle/src/paths";
import { requestInLogs } from "../../oracle/src/protocol/request";
import { setupEnv, startNodeProcess, type Env, type NodeProcess } from "./lib";

const run = promisify(execFile);
const oracleCli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", ...env }, maxBuffer: 1 << 20 });

describe("e2e: a publisher's model served by a running node", function () {
  this.timeout(300_000);
  let env: Env | undefined;
  let node: NodeProcess | undefined;
  let server: http.Server | undefined;
  /** What the publisher's server serves, by path. */
  const served = new Map<string, Uint8Array>();
  let base = "";

  after(async () => {
    await node?.terminate();
    server?.close();
    await env?.cleanup();
  });

  it("publish with `oracle model`, served without a restart, result verified by fetching the model by its URI", async () => {
    env = await setupEnv("open-models");
    // The publisher's server listens on 127.0.0.1: this node's operator allows private hosts.
    node = await startNodeProcess(env, { ORACLE_MODEL_ALLOW_PRIVATE_HOSTS: "true" });
    const dir = path.join(env.dir, "publisher");
    fs.mkdirSync(dir);

    // 1. The publisher builds a model: an integer credit score, score = 3·a − 2·b + c + 100.
    const raw = serializeModel({
      name: "credit_score", docString: "a publisher's model",
      inputs: [{ name: "features", type: "int32", shape: ["batch", 3] }], outputs: [{ name: "score", type: "int32", shape: ["batch", 1] }],
      initializers: [{ name: "W", type: "int32", dims: [3, 1], values: [3, -2, 1] }, { name: "b", type: "int32", dims: [1], values: [100] }],
      nodes: [{ op: "MatMul", inputs: ["features", "W"], outputs: ["t"] }, { op: "Add", inputs: ["t", "b"], outputs: ["score"] }],
    });
    fs.writeFileSync(path.join(dir, "raw.onnx"), raw);
    fs.writeFileSync(path.join(dir, "spec.json"), JSON.stringify({
      version: 1, name: "credit-score", description: "score = 3a - 2b + c + 100 over three small integers",
      input: { name: "features", type: "int32", shape: [1, 3], length: 3, encoding: "packed-int16", min: -1000, max: 1000 },
      output: { name: "score", type: "int32", shape: [1, 1], length: 1, labels: ["score"] },
      decimals: 0, determinism: "bit-exact",
    }));

    // 2. check (a raw model has no spec: refused, with the fix), pack, check again.
    const refused = await oracleCli(["model", "check", path.join(dir, "raw.onnx")]).catch((e) => e);
    expect(refused.code).to.equal(1);
    expect(refused.stdout).to.match(/oracle model pack/);
    const packed = path.join(dir, "credit-score.onnx");
    await oracleCli(["model", "pack", path.join(dir, "raw.onnx"), "--spec", path.join(dir, "spec.json"), "--out", packed]);
    const checked = await oracleCli(["model", "check", packed]);
    expect(checked.stdout).to.match(/bit-exact \(integer-only\)/).and.match(/OK: the runner will serve this model/);
    const bytes = fs.readFileSync(packed);

    // 3. The publisher hosts it over http.
    served.set("/credit-score.onnx", bytes);
    server = http.createServer((req, res) => { const b = served.get(req.url ?? ""); if (b) res.end(b); else { res.statusCode = 404; res.end(); } });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const uri = `${base}/credit-score.onnx`;

    // 4. publish with the publisher's own key (account 3; the operator is account 1).
    const publisher = devAccount(3);
    const published = await oracleCli(
      ["model", "publish", packed, "--uri", uri, "--fee", "1000000000000", "--share", "2500", "--deployment", path.join(env.dir, "deployment.json"), "--rpc", env.chain.url],
      { PUBLISHER_KEY: publisher.privateKey },
    );
    const modelId = BigInt(/model id (\d+)/.exec(published.stdout)![1]);
    expect(published.stdout).to.include(`by ${publisher.address}`).and.include("requestInference");
    expect(published.stderr, "the publisher is told nodes refuse a private host by default").to.include("127.0.0.1 is a private address").and.include("ORACLE_MODEL_ALLOW_PRIVATE_HOSTS=true");

    // 5. A consumer requests it from the node that was already running.
    const consumer = new NonceManager(devAccount(4).connect(env.provider));
    const oracle = new Contract(env.oracle, ORACLE_ABI, consumer);
    const spec = readModelSpec(bytes);
    const input = encodeInput([10, 4, 7], spec); // 3·10 − 2·4 + 7 + 100 = 129
    expect((input.length - 2) / 2).to.equal(6); // three packed int16 values
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const options = { callbackGasLimit: 0, deadline, redundancy: 1, maxFee: 10n ** 15n, maxGasPrice: 10n ** 11n };
    const total = await oracle.quote(modelId, options);
    const receipt = await (await oracle.requestInference(modelId, input, options, { value: total })).wait();
    const { requestId } = requestInLogs(receipt.logs, env.oracle)!;
    // The node trails the head by one confirmation, and a Hardhat node mines only on transactions.
    const end = Date.now() + 60_000;
    while (Number(await oracle.requestState(requestId)) !== 2 && Date.now() < end) {
      await env.provider.send("evm_mine", []);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(Number(await oracle.requestState(requestId)), "fulfilled").to.equal(2);
    // the publisher is paid its share (25 % of the fee), through the same pull balances as operators
    expect(await oracle.balances(publisher.address)).to.equal((10n ** 12n * 2500n) / 10_000n);

    // 6. The auditor verifies it end to end, fetching the model by its registry URI.
    const deployment = JSON.parse(fs.readFileSync(path.join(env.dir, "deployment.json"), "utf8"));
    const empty = path.join(dir, "no-local-models");
    fs.mkdirSync(empty);
    const audit = (modelPrivateHosts: boolean) => verifyResult({
      provider: env!.provider, deployment, requestId, sourceDir: REPO_ROOT, modelsDir: empty, modelCacheDir: path.join(dir, `audit-cache-${modelPrivateHosts}`), modelPrivateHosts,
    });
    // An auditor's machine, like a node, does not fetch from its own network unless told to.
    const unfetched = await audit(false);
    expect(unfetched.valid).to.equal(false);
    expect(unfetched.checks.find((c) => c.name === "model.fetch")!.detail).to.include("127.0.0.1 is a private address");
    const report = await audit(true);
    expect(report.valid, formatResultText(report)).to.equal(true);
    expect(report.checks.find((c) => c.name === "model.fetch")!.detail).to.include(uri);
    expect(report.facts.request.status).to.equal(ResultStatus.Ok);
    expect(decodeTensor(String(report.facts.request.output))).to.deep.equal([129n]);
  });

  it("a model whose URI no longer serves its file is declined with the reason in the trail and the metrics, and not run", async () => {
    const e = env!;
    const dir = path.join(e.dir, "publisher");
    const packed = path.join(dir, "credit-score.onnx");
    // the same model under another name (another file, another hash), published honestly …
    const spec = JSON.parse(fs.readFileSync(path.join(dir, "spec.json"), "utf8"));
    fs.writeFileSync(path.join(dir, "spec2.json"), JSON.stringify({ ...spec, name: "credit-score-two" }));
    const second = path.join(dir, "credit-score-two.onnx");
    await oracleCli(["model", "pack", path.join(dir, "raw.onnx"), "--spec", path.join(dir, "spec2.json"), "--out", second]);
    served.set("/two.onnx", fs.readFileSync(second));
    const published = await oracleCli(
      ["model", "publish", second, "--uri", `${base}/two.onnx`, "--fee", "1000000000000", "--deployment", path.join(e.dir, "deployment.json"), "--rpc", e.chain.url],
      { PUBLISHER_KEY: devAccount(3).privateKey },
    );
    const modelId = BigInt(/model id (\d+)/.exec(published.stdout)![1]);
    // … then the server starts serving other bytes at that URI
    served.set("/two.onnx", fs.readFileSync(packed));
    const consumer = new NonceManager(devAccount(5).connect(e.provider));
    const oracle = new Contract(e.oracle, ORACLE_ABI, consumer);
    const options = { callbackGasLimit: 0, deadline: BigInt(Math.floor(Date.now() / 1000) + 3600), redundancy: 1, maxFee: 10n ** 15n, maxGasPrice: 10n ** 11n };
    const input = encodeInput([1, 2, 3], readModelSpec(fs.readFileSync(second)));
    const receipt = await (await oracle.requestInference(modelId, input, options, { value: await oracle.quote(modelId, options) })).wait();
    const { requestId } = requestInLogs(receipt.logs, e.oracle)!;
    const api = `http://127.0.0.1:${node!.port}`;
    let trail: { trail: { step: string; detail?: string }[] } = { trail: [] };
    const end = Date.now() + 60_000;
    while (!trail.trail.some((t) => t.step === "declined") && Date.now() < end) {
      await e.provider.send("evm_mine", []);
      await new Promise((r) => setTimeout(r, 300));
      trail = (await (await fetch(`${api}/v1/requests/${requestId}`)).json()) as typeof trail;
    }
    const declined = trail.trail.find((t) => t.step === "declined");
    expect(declined?.detail, JSON.stringify(trail)).to.match(/^model-unavailable: .*declined \(fetch-hash-mismatch\)/);
    expect(await node!.metrics()).to.match(/oracle_requests_declined_total\{reason="model-unavailable"\} 1/);
    expect(Number(await oracle.requestState(requestId)), "still pending: it will expire and be refunded").to.equal(1);
  });
});
