/**
 * `oracle audit verify-result` on the in-process Hardhat network: a real runner (EnclaveHost)
 * registered with its development report, requests from a consumer fulfilled with its signed
 * results; every link holds; then each link is broken in turn and the report names it.
 */
import { expect } from "chai";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ethers } from "hardhat";
import { Command } from "commander";
import { Contract, Wallet, keccak256 } from "ethers";
import { registerResultAuditCommands } from "../../../oracle/src/audit/cli/verify-result";
import { formatResultText, renderResultHtml } from "../../../oracle/src/audit/result/render";
import { UnknownRequestError, type ResultReport } from "../../../oracle/src/audit/result/report";
import { verifyResult, type VerifyResultParams } from "../../../oracle/src/audit/result/verify-result";
import type { Deployment } from "../../../oracle/src/chain/deployment";
import type { DevEvidence } from "../../../oracle/src/enclave/backend";
import { EnclaveHost } from "../../../oracle/src/enclave/host";
import { createDevPlatform, createDevRoot } from "../../../oracle/src/enclave/platform";
import { measureRunner } from "../../../oracle/src/enclave/measure";
import { REPO_ROOT } from "../../../oracle/src/paths";
import { loadManifest } from "../../../oracle/src/models/manifest";
import {
  ENCLAVE_ATTESTATION_TYPES, commitmentOf, decodeTensor, encodeTensor, oracleDomain, registryDomain, requestInLogs, resultDigest,
  type RequestCommitment,
} from "../../../oracle/src/protocol";
import { deployContract, deployContracts } from "../../../scripts/lib/deploy-contracts";
import { captureCli, type CliRun } from "./cli-io";

const repoRoot = REPO_ROOT;

/**
 * Copies the runner's source (its measured files and the models) from one tree to another, with
 * node_modules linked. The runner is started from, and verified against, such a snapshot: the
 * shared checkout may change while the test runs, and the measurement must not.
 */
function snapshotSource(from: string, to: string): string {
  for (const f of measureRunner({ repoRoot: from }).files.filter((f) => !f.path.startsWith("models/"))) {
    mkdirSync(path.dirname(path.join(to, f.path)), { recursive: true });
    copyFileSync(path.join(from, f.path), path.join(to, f.path));
  }
  cpSync(path.join(from, "models"), path.join(to, "models"), { recursive: true });
  symlinkSync(path.join(repoRoot, "node_modules"), path.join(to, "node_modules"));
  return to;
}
const entry = loadManifest().models.find((m) => m.name === "iris-classifier")!;
const scale = 10n ** BigInt(entry.decimals);
/** An iris flower (cm) in the model's fixed point. */
const flower = (salt = 0n) => encodeTensor([51n, 35n, 14n, 2n + salt].map((v) => (v * scale) / 10n));

describe("oracle audit verify-result: one request end to end", function () {
  this.timeout(90_000);
  const root = createDevRoot();
  let dir: string;
  let host: EnclaveHost;
  let oracle: Contract, enclaveRegistry: Contract, consumer: Contract;
  let deployment: Deployment;
  let deploymentFile: string;
  let modelId: bigint;
  let measurement: string;
  let single: bigint, batched: bigint;
  let liar: Wallet;
  let snapshot: string;

  async function chainTime(): Promise<number> {
    return (await ethers.provider.getBlock("latest"))!.timestamp;
  }

  function receiptCommitment(receipt: any): RequestCommitment {
    return commitmentOf(requestInLogs(receipt.logs, oracle.target.toString())!);
  }

  /** A request from the consumer contract (which gets the callback). */
  async function request(input: string, redundancy = 1): Promise<RequestCommitment> {
    const [, , , , user] = await ethers.getSigners();
    const options = { callbackGasLimit: 200_000, deadline: BigInt(await chainTime()) + 3600n, redundancy, maxFee: 1000n * BigInt(redundancy), maxGasPrice: 10n ** 10n };
    const total = await oracle.quote(modelId, options);
    return receiptCommitment(await (await (consumer.connect(user) as Contract).request(modelId, input, options, { value: total })).wait());
  }

  /** Registers an ethers Wallet as an enclave of the runner's measurement through a dev report. */
  async function registerWallet(operator: any): Promise<Wallet> {
    const wallet = new Wallet(Wallet.createRandom().privateKey);
    const platform = createDevPlatform({ root, now: await chainTime() });
    const ev = platform.signReport({ measurement, runtime: host.measurement!.runtime, signer: wallet.address, operator: await operator.getAddress() }, await chainTime());
    // the dev root of this platform is the pinned one; its platform key is new, certified by the root
    await (await (enclaveRegistry.connect(operator) as Contract).registerEnclave(ev.report, ev.reportSignature, ev.certificate, ev.certificateSignature, ev.rootId)).wait();
    return wallet;
  }

  function walletSign(wallet: Wallet, c: RequestCommitment, output: string): string {
    const digest = resultDigest(oracleDomain(deployment.chainId, deployment.contracts.InferenceOracle), {
      requestId: c.requestId, modelHash: c.modelHash, inputHash: c.inputHash, outputHash: keccak256(output), status: 0,
    });
    return wallet.signingKey.sign(digest).serialized;
  }

  const verify = (requestId: bigint, extra: Partial<Pick<VerifyResultParams, "sourceDir" | "modelsDir" | "measurement">> = {}): Promise<ResultReport> =>
    verifyResult({ provider: ethers.provider, deployment, requestId, sourceDir: snapshot, ...extra });

  function expectBroken(report: ResultReport, check: string, link: string): void {
    expect(report.valid).to.equal(false);
    expect(report.failedCheck, formatResultText(report)).to.equal(check);
    expect(report.brokenLink).to.equal(link);
    const at = report.checks.findIndex((c) => c.name === check);
    expect(report.checks.slice(0, at).every((c) => c.ok), "every check before the broken link passed").to.equal(true);
    expect(report.checks.slice(at + 1).every((c) => c.skipped), "the run stopped at the broken link").to.equal(true);
  }

  function cli(args: string[]): Promise<CliRun> {
    return captureCli((io) => {
      const audit = new Command("audit").configureOutput({ writeOut: io.out, writeErr: io.err }).exitOverride((e) => io.exit(e.exitCode === 0 ? 0 : 2));
      registerResultAuditCommands(audit, io, { provider: () => ethers.provider });
      return audit.parseAsync(args, { from: "user" });
    });
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "audit-verify-result-"));
    snapshot = snapshotSource(repoRoot, path.join(dir, "snapshot"));
    const [deployer, publisher, operatorA, operatorB, , operatorC] = await ethers.getSigners();
    const deploymentBlock = await ethers.provider.getBlockNumber();
    const deployed = await deployContracts(deployer, { bondOperators: [operatorA.address, operatorB.address, operatorC.address] });
    ({ oracle, enclaveRegistry } = deployed);
    consumer = await deployContract(deployer, "RecordingConsumer", [deployed.addresses.oracle]);
    const { chainId } = await ethers.provider.getNetwork();
    const now = await chainTime();
    const platform = createDevPlatform({ root, now });
    platform.now = () => now;
    host = await EnclaveHost.start({ platform, operator: operatorA.address, chainId, oracleAddress: deployed.addresses.oracle, repoRoot: snapshot });
    measurement = host.measurement!.measurement;

    await (await enclaveRegistry.addRoot(root.publicKey.x, root.publicKey.y)).wait();
    await (await enclaveRegistry.setMeasurementAllowed(measurement, true)).wait();
    const modelRegistry = deployed.modelRegistry.connect(publisher) as Contract;
    const receipt = await (await modelRegistry.registerModel(
      [entry.sha256, entry.input.length, entry.output.length, entry.decimals, 1000n, "models/iris-classifier.onnx", 0, 0, 0], [measurement],
    )).wait();
    modelId = modelRegistry.interface.parseLog(receipt!.logs[0])!.args.modelId;
    const a = host.attestation() as DevEvidence;
    await (await (enclaveRegistry.connect(operatorA) as Contract).registerEnclave(a.report, a.reportSignature, a.certificate, a.certificateSignature, a.rootId)).wait();

    deployment = {
      network: "hardhat", chainId: Number(chainId), deploymentBlock,
      contracts: { InferenceOracle: deployed.addresses.oracle, ModelRegistry: deployed.addresses.modelRegistry, EnclaveRegistry: deployed.addresses.enclaveRegistry },
      models: { [entry.name]: Number(modelId) }, modelHashes: { [entry.name]: entry.sha256 },
      devPlatform: { rootPublicKey: root.publicKey, rootId: root.rootId }, measurement,
    };
    deploymentFile = path.join(dir, "hardhat.json");
    writeFileSync(deploymentFile, JSON.stringify(deployment));

    // request 1: fulfil (one signature over InferenceResult)
    const c1 = await request(flower());
    const r1 = await host.infer({ requestId: c1.requestId, modelHash: entry.sha256, input: flower() });
    await (await oracle.fulfil(c1, r1.output, r1.status, r1.signature)).wait();
    single = c1.requestId;
    // requests 2 and 3: fulfilBatch (one signature over InferenceBatch)
    const c2 = await request(flower(1n));
    const c3 = await request(flower(2n));
    const batch = await host.inferBatch([c2, c3].map((c, i) => ({ requestId: c.requestId, modelHash: entry.sha256, input: flower(BigInt(i + 1)) })));
    await (await oracle.fulfilBatch(batch.results.map((r, i) => ({ request: [c2, c3][i], output: r.output, status: r.status })), batch.signature)).wait();
    batched = c3.requestId;
    // another enclave signer (an ethers Wallet standing in for a runner key), of a second operator
    liar = await registerWallet(operatorB);
  });

  after(async () => {
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes every link of a fulfilled request: request, signer, registration, attestation, measurement, model, output, callback", async () => {
    const report = await verify(single);
    expect(report.valid, formatResultText(report)).to.equal(true);
    expect(report.checks.map((c) => c.name)).to.deep.equal([
      "request.event", "request.state", "fulfilment.events", "fulfilment.calldata", "fulfilment.commitment", "signer.recovered",
      "fulfilment.output", "registration.event", "registration.state", "attestation.verified", "measurement.source",
      "model.fetch", "model.file", "output.rerun", "callback.outcome",
    ]);
    expect(report.facts.submissions["1"]).to.include({ signer: host.signer, measurement });
    expect(report.facts.measurement.measurement).to.equal(measurement);
    expect(report.facts.callback).to.include({ success: true });
    expect(report.chain.map((l) => l.title)).to.deep.equal([
      `Request #${single}`, "Fulfilment", "Enclave signer", "Registration", "Attestation report (dev, simulation)", "Runner measurement",
      "Model iris-classifier", "Output", "Callback",
    ]);
    expect(report.simulation).to.equal(true);
    const text = formatResultText(report);
    expect(text).to.include(`request ${single} on hardhat`).and.include("VERIFIED");
  });

  it("recovers the signer of a result fulfilled in a batch from the InferenceBatch digest", async () => {
    const report = await verify(batched);
    expect(report.valid, formatResultText(report)).to.equal(true);
    expect(report.checks.find((c) => c.name === "signer.recovered")!.detail).to.include("InferenceBatch of 2");
    expect(report.checks.find((c) => c.name === "fulfilment.calldata")!.evidence).to.include({ function: "fulfilBatch", items: 2, index: 1 });
  });

  it("runs as a command: JSON on stdout, exit 0, and an HTML page that draws the chain request → fulfilment → … → output → callback", async () => {
    const html = path.join(dir, "report.html");
    const run = await cli(["verify-result", "--deployment", deploymentFile, "--request", String(single), "--source", snapshot, "--json", "--html", html]);
    expect(run.code, run.err).to.equal(0);
    const json = JSON.parse(run.out);
    expect(json).to.include({ valid: true, requestId: String(single), format: "result" });
    const page = readFileSync(html, "utf8");
    const order = [`Request #${single}`, "Fulfilment", "Enclave signer", "Registration", "Attestation report", "Runner measurement", "Model iris-classifier", "Output", "Callback"]
      .map((t) => page.indexOf(`>${t}`, page.indexOf("<h2>Chain of trust</h2>")));
    expect(order.every((i) => i > 0), "every link is drawn").to.equal(true);
    expect([...order].sort((x, y) => x - y)).to.deep.equal(order);
    expect(page).to.include(`Result of request ${single} on hardhat`);
    // The auditor's fixes: a development-platform result says SIMULATION in its banner, values are
    // shown with the model's labels (not only as hex), every time is ISO 8601.
    expect(page).to.match(/<header class="verdict valid">[\s\S]*✔ VERIFIED[\s\S]*<span class="sim">SIMULATION<\/span>[\s\S]*<\/header>/);
    expect(page).to.include("<caption>Input</caption>").and.include("<td>sepal length (cm)</td>").and.include("<td>setosa</td>");
    expect(page).to.not.match(/unix \d+/);
    expect(page).to.not.match(/<dd>1[6-9]\d{8}<\/dd>|<td>1[6-9]\d{8}<\/td>/);
  });

  it("names the model link when the model file differs by one byte", async () => {
    const models = path.join(dir, "models-tampered");
    cpSync(path.join(snapshot, "models"), models, { recursive: true });
    // a file under the model's hash name whose bytes differ by one
    const bytes = readFileSync(path.join(models, entry.file));
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(path.join(models, entry.sha256.slice(2) + ".onnx"), bytes);
    const report = await verify(single, { modelsDir: models });
    expectBroken(report, "model.file", "model");
    expect(report.checks.find((c) => c.name === "measurement.source")!.ok).to.equal(true); // models are not measured
    expect(formatResultText(report)).to.include('BROKEN at link "model"');
  });

  it("names the measurement link when one byte of the runner's source differs", async () => {
    const source = snapshotSource(snapshot, path.join(dir, "source"));
    const models = path.join(snapshot, "models");
    const same = await verify(single, { sourceDir: source, modelsDir: models });
    expect(same.valid, formatResultText(same)).to.equal(true); // an exact copy measures the same

    const runner = path.join(source, "oracle/src/enclave/runner.ts");
    const text = readFileSync(runner);
    const at = text.indexOf("*"); // a byte of the first comment
    text[at] = "+".charCodeAt(0);
    writeFileSync(runner, text);
    const report = await verify(single, { sourceDir: source, modelsDir: models });
    expectBroken(report, "measurement.source", "measurement");
    expect(report.checks.find((c) => c.name === "measurement.source")!.evidence).to.include({ registered: measurement });
    // A measurement the caller computed (the demo measures once for all its requests) is used as given.
    const given = await verify(single, { sourceDir: source, modelsDir: models, measurement: measureRunner({ repoRoot: snapshot }) });
    expect(given.valid, formatResultText(given)).to.equal(true);
    expect(given.facts.measurement).to.include({ measurement });
  });

  it("names the output link when a registered signer signed an output the model does not give", async () => {
    const c = await request(flower(3n));
    const honest = await host.infer({ requestId: c.requestId, modelHash: entry.sha256, input: flower(3n) });
    const values = decodeTensor(honest.output);
    values[0] += 1n;
    const wrong = encodeTensor(values);
    await (await oracle.fulfil(c, wrong, 0, walletSign(liar, c, wrong))).wait(); // the chain cannot tell
    const report = await verify(c.requestId);
    expectBroken(report, "output.rerun", "output");
    expect(report.facts.submissions["1"].signer).to.equal(liar.address);
    expect(report.checks.find((c) => c.name === "output.rerun")!.evidence).to.include({ rerunOutputHash: honest.outputHash, signedOutputHash: keccak256(wrong) });
  });

  it("verifies each submission of a request with redundancy 2", async () => {
    const c = await request(flower(4n), 2);
    const r = await host.infer({ requestId: c.requestId, modelHash: entry.sha256, input: flower(4n) });
    await (await oracle.fulfil(c, r.output, r.status, r.signature)).wait();
    await (await oracle.fulfil(c, r.output, r.status, walletSign(liar, c, r.output))).wait();
    const report = await verify(c.requestId);
    expect(report.valid, formatResultText(report)).to.equal(true);
    for (const n of [1, 2]) {
      for (const link of ["signer.recovered", "registration.state", "attestation.verified", "measurement.source"]) {
        expect(report.checks.find((x) => x.name === `submission[${n}].${link}`)?.ok, `submission[${n}].${link}`).to.equal(true);
      }
    }
    expect([report.facts.submissions["1"].signer, report.facts.submissions["2"].signer]).to.deep.equal([host.signer, liar.address]);
  });

  it("recovers the auditors of a signer registered through registerAttestedEnclave", async () => {
    const [deployer, , , , , operatorC] = await ethers.getSigners();
    const auditor = Wallet.createRandom();
    await (await (enclaveRegistry.connect(deployer) as Contract).setAuditor(auditor.address, true)).wait();
    await (await (enclaveRegistry.connect(deployer) as Contract).setAuditorThreshold(1)).wait();
    const enclave = new Wallet(Wallet.createRandom().privateKey);
    const att = { signer: enclave.address, operator: operatorC.address, measurement, teeType: 1, evidenceHash: keccak256("0x01"), expiresAt: BigInt(await chainTime()) + 86_400n };
    const signature = await auditor.signTypedData(registryDomain(deployment.chainId, deployment.contracts.EnclaveRegistry), ENCLAVE_ATTESTATION_TYPES, att);
    await (await (enclaveRegistry.connect(operatorC) as Contract).registerAttestedEnclave(att, [signature])).wait();
    const c = await request(flower(6n));
    const r = await host.infer({ requestId: c.requestId, modelHash: entry.sha256, input: flower(6n) });
    await (await oracle.fulfil(c, r.output, r.status, walletSign(enclave, c, r.output))).wait();
    const report = await verify(c.requestId);
    expect(report.valid, formatResultText(report)).to.equal(true);
    const check = report.checks.find((x) => x.name === "attestation.verified")!;
    expect(check.evidence).to.include({ auditors: auditor.address, threshold: 1, evidenceHash: att.evidenceHash });
    expect(report.chain.map((l) => l.title)).to.include("Auditors' attestation (AwsNitro)");
  });

  it("says a pending request has no result yet (exit 1)", async () => {
    const c = await request(flower(5n));
    const report = await verify(c.requestId);
    expectBroken(report, "request.state", "request");
    const run = await cli(["verify-result", "--deployment", deploymentFile, "--request", String(c.requestId), "--source", snapshot]);
    expect(run.code).to.equal(1);
    expect(run.out).to.include("still pending");
  });

  it("rejects an unknown request id, a missing deployment file or a bad id with a message that says what to fix (exit 2)", async () => {
    const count = await oracle.requestCount();
    const error = await verify(999n).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(UnknownRequestError);
    expect((error as Error).message).to.equal(`unknown request id 999: no InferenceRequested event for it on oracle ${deployment.contracts.InferenceOracle} since block ${deployment.deploymentBlock}; the oracle's request ids are 1 to ${count}`);
    const unknown = await cli(["verify-result", "--deployment", deploymentFile, "--request", "999"]);
    expect(unknown.code).to.equal(2);
    expect(unknown.err).to.include("unknown request id 999");
    const missing = await cli(["verify-result", "--network", "no-such-network", "--request", "1"]);
    expect(missing.code).to.equal(2);
    expect(missing.err).to.include("deployments/no-such-network.json").and.include("run scripts/deploy.ts");
    const none = await cli(["verify-result", "--request", "1"]);
    expect(none.code).to.equal(2);
    expect(none.err).to.include("--network N");
    const bad = await cli(["verify-result", "--deployment", deploymentFile, "--request", "0"]);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.include("positive whole number");
  });

  it("names the registration link once the registry owner revokes the signer", async () => {
    await (await enclaveRegistry.revokeSigner(host.signer)).wait();
    const report = await verify(single);
    expectBroken(report, "registration.state", "registration");
    expect(report.checks.find((c) => c.name === "registration.state")!.detail).to.include("revoked");
    const html = renderResultHtml(report);
    expect(html).to.include("registration.state").and.include("✘ BROKEN");
  });
});
