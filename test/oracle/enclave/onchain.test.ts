/**
 * The runner's attestation and signatures against the real contracts on the Hardhat network.
 * Deploys the three contracts directly (test/helpers/fixtures.ts had not landed when this was
 * written); the calls are the ones the node makes.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { keccak256 } from "ethers";
import { models, otherMeasurementCheckout, repoRoot, sampleInput } from "./helpers";
import { EnclaveHost } from "../../../oracle/src/enclave/host";
import { createDevPlatform, createDevRoot } from "../../../oracle/src/enclave/platform";
import type { DevEvidence } from "../../../oracle/src/enclave/backend";
import { commitmentOf, requestInLogs } from "../../../oracle/src/protocol/request";
import { DEFAULT_MIN_BOND, DEFAULT_UNBONDING_DELAY } from "../../../scripts/lib/deploy-contracts";

describe("runner attestation and results on-chain", function () {
  this.timeout(180_000);
  const root = createDevRoot();
  const platform = createDevPlatform({ root });
  const entry = models[0];
  let dir: string;
  let host: EnclaveHost;
  let other: EnclaveHost;
  let oracle: any, enclaves: any, registry: any;
  let modelId: bigint;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "enclave-onchain-"));
    const [owner] = await ethers.getSigners();
    registry = await (await ethers.getContractFactory("ModelRegistry")).deploy();
    enclaves = await (await ethers.getContractFactory("EnclaveRegistry")).deploy(owner.address, 3600, DEFAULT_MIN_BOND, DEFAULT_UNBONDING_DELAY);
    await enclaves.bond({ value: DEFAULT_MIN_BOND }); // the operator's signers are active only while it is bonded
    oracle = await (await ethers.getContractFactory("InferenceOracle")).deploy(owner.address, await registry.getAddress(), await enclaves.getAddress(), {
      minCallbackGasLimit: 10_000, maxCallbackGasLimit: 2_000_000, maxDeadlineDelay: 7 * 24 * 3600, maxRedundancy: 3, resultGasOverhead: 150_000,
    });
    const { chainId } = await ethers.provider.getNetwork();
    const chainTime = async () => Number((await ethers.provider.getBlock("latest"))!.timestamp);
    platform.now = () => Math.floor(Date.now() / 1000);
    const now = await chainTime();
    if (now > platform.now()) platform.now = () => now; // a chain moved ahead by other tests
    // The operator is the account that registers below (the default signer); the platform binds it.
    host = await EnclaveHost.start({ platform, operator: owner.address, chainId, oracleAddress: await oracle.getAddress() });

    // a runner of another measurement: a checkout whose tsconfig.json differs by one byte
    other = await EnclaveHost.start({
      platform, operator: owner.address, chainId, oracleAddress: await oracle.getAddress(),
      repoRoot: otherMeasurementCheckout(path.join(dir, "checkout")), modelsDir: path.join(repoRoot, "models"),
    });
    expect(other.measurement!.measurement).to.not.equal(host.measurement!.measurement);

    await enclaves.addRoot(root.publicKey.x, root.publicKey.y);
    await enclaves.setMeasurementAllowed(host.measurement!.measurement, true);
    await enclaves.setMeasurementAllowed(other.measurement!.measurement, true);
    await registry.registerModel(
      { modelHash: entry.sha256, inputLength: entry.input.length, outputLength: entry.output.length, decimals: entry.decimals, fee: 1000n, uri: "",
        inputEncoding: 0, determinism: 0, publisherShareBps: 0 },
      [host.measurement!.measurement],
    );
    modelId = 1n;
  });
  after(async () => {
    await host?.close();
    await other?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function register(h: EnclaveHost): Promise<void> {
    const a = h.attestation() as DevEvidence;
    await expect(enclaves.registerEnclave(a.report, a.reportSignature, a.certificate, a.certificateSignature, a.rootId))
      .to.emit(enclaves, "EnclaveRegistered");
  }

  async function request(): Promise<any> {
    const input = sampleInput(entry);
    const deadline = BigInt(await time.latest()) + 3600n;
    const options = { callbackGasLimit: 0, deadline, redundancy: 1, maxFee: 1000n, maxGasPrice: 10n ** 10n };
    const total = await oracle.quote(modelId, options);
    const receipt = await (await oracle.requestInference(modelId, input, options, { value: total })).wait();
    return { input, commitment: commitmentOf(requestInLogs(receipt.logs)!) };
  }

  it("does not let another account register the runner's report first (front-running)", async () => {
    const [owner, , , frontRunner] = await ethers.getSigners();
    const a = host.attestation() as DevEvidence;
    expect(a.operator).to.equal(owner.address);
    await expect(enclaves.connect(frontRunner).registerEnclave(a.report, a.reportSignature, a.certificate, a.certificateSignature, a.rootId))
      .to.be.revertedWithCustomError(enclaves, "EnclaveRegistryOperatorMismatch").withArgs(owner.address, frontRunner.address);
  });

  it("registers the runner's report on the EnclaveRegistry", async () => {
    await register(host);
    const [operator] = await enclaves.activeEnclave(host.signer);
    expect(operator).to.equal(host.operator);
    const [, measurement] = await enclaves.activeEnclave(host.signer);
    expect(measurement).to.equal(host.measurement!.measurement);
  });

  it("has a result it signs accepted by fulfil", async () => {
    const { input, commitment } = await request();
    const r = await host.infer({ requestId: commitment.requestId, modelHash: entry.sha256, input });
    await expect(oracle.fulfil(commitment, r.output, r.status, r.signature)).to.emit(oracle, "InferenceFulfilled")
      .withArgs(commitment.requestId, anyValue, r.status, anyValue, anyValue, anyValue, r.output);
    expect(keccak256(r.output)).to.equal(r.outputHash);
    expect(await oracle.requestState(commitment.requestId)).to.equal(2n);
  });

  it("has a batch it signs accepted by fulfilBatch", async () => {
    const a = await request();
    const b = await request();
    const batch = await host.inferBatch([a, b].map((x) => ({ requestId: x.commitment.requestId, modelHash: entry.sha256, input: x.input })));
    const submissions = batch.results.map((r, i) => ({ request: [a, b][i].commitment, output: r.output, status: r.status }));
    await oracle.fulfilBatch(submissions, batch.signature);
    expect(await oracle.requestState(a.commitment.requestId)).to.equal(2n);
    expect(await oracle.requestState(b.commitment.requestId)).to.equal(2n);
  });

  it("rejects a result signed by a registered runner whose measurement the model does not allow", async () => {
    await register(other);
    const { input, commitment } = await request();
    const r = await other.infer({ requestId: commitment.requestId, modelHash: entry.sha256, input });
    await expect(oracle.fulfil(commitment, r.output, r.status, r.signature))
      .to.be.revertedWithCustomError(oracle, "InferenceOracleMeasurementNotAllowedForModel")
      .withArgs(modelId, other.measurement!.measurement);
    expect(await oracle.requestState(commitment.requestId)).to.equal(1n);
  });
});
