/**
 * `oracle audit attest` end to end on the Hardhat network: synthetic Nitro evidence (test CA)
 * binding a real runner's signer, verified and countersigned by two auditors; the EnclaveRegistry
 * registers the signer from their signatures (threshold 2) and the runner's result is accepted.
 * One auditor short, an untrusted auditor, a tampered byte, or a policy naming another signer fail.
 */
import { expect } from "chai";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ethers } from "hardhat";
import { Contract, Wallet, getBytes, keccak256, sha256 } from "ethers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { attestationDigest } from "../../../oracle/src/audit/attest";
import { readAuditorKey } from "../../../oracle/src/audit/cli/attest";
import { EnclaveHost } from "../../../oracle/src/enclave/host";
import { createDevPlatform } from "../../../oracle/src/enclave/platform";
import { loadManifest } from "../../../oracle/src/models/manifest";
import { commitmentOf, requestInLogs, TeeType } from "../../../oracle/src/protocol";
import { deployContract, deployContracts } from "../../../scripts/lib/deploy-contracts";
import { createNitroDocument, createNitroTestCa, type NitroDocument } from "../../fixtures/evidence";
import { runAudit as audit, type CliRun } from "./cli-io";

describe("oracle audit attest: auditors countersign TEE evidence for the on-chain path", function () {
  this.timeout(120_000);
  const ca = createNitroTestCa();
  const auditor1 = Wallet.createRandom();
  const auditor2 = Wallet.createRandom();
  const untrusted = Wallet.createRandom();
  const entry = loadManifest().models.find((m) => m.name === "iris-classifier")!;
  let dir: string;
  let host: EnclaveHost;
  let oracle: Contract, enclaveRegistry: Contract, consumer: Contract;
  let signer: string, measurement: string, operatorAddress: string;
  let chainId: bigint, registryAddress: string;
  let T: number;
  let doc: NitroDocument;
  let files: { evidence: string; policy: string; anchor: string; deployment: string };
  let modelId: bigint;

  const env = process.env;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "audit-attest-"));
    const [deployer, publisher, operator] = await ethers.getSigners();
    operatorAddress = operator.address;
    ({ oracle, enclaveRegistry } = await deployContracts(deployer, { bondOperators: [operator.address] }));
    consumer = await deployContract(deployer, "RecordingConsumer", [await oracle.getAddress()]);
    chainId = (await ethers.provider.getNetwork()).chainId;
    registryAddress = await enclaveRegistry.getAddress();
    T = (await ethers.provider.getBlock("latest"))!.timestamp;
    // A real runner; the dev platform only starts it here: the signer is registered through auditors.
    const platform = createDevPlatform({ now: T });
    platform.now = () => T;
    host = await EnclaveHost.start({ platform, chainId, oracleAddress: await oracle.getAddress() });
    signer = host.signer!;
    measurement = host.measurement!.measurement;

    await (await enclaveRegistry.setAuditor(auditor1.address, true)).wait();
    await (await enclaveRegistry.setAuditor(auditor2.address, true)).wait();
    await (await enclaveRegistry.setAuditorThreshold(2)).wait();
    await (await enclaveRegistry.setMeasurementAllowed(measurement, true)).wait();
    const modelRegistry = (await ethers.getContractAt("ModelRegistry", await oracle.modelRegistry())).connect(publisher) as unknown as Contract;
    const receipt = await (await modelRegistry.registerModel(
      [entry.sha256, entry.input.length, entry.output.length, entry.decimals, 1000n, "", 0, 0, 0], [measurement],
    )).wait();
    modelId = modelRegistry.interface.parseLog(receipt!.logs[0])!.args.modelId;

    // The enclave's evidence: user_data carries keccak256(signer), as the runner's NSM request would.
    doc = createNitroDocument(ca, { timestamp: T, userData: getBytes(keccak256(signer)) });
    files = {
      evidence: path.join(dir, "nitro.cbor"),
      policy: path.join(dir, "policy.json"),
      anchor: path.join(dir, "root.pem"),
      deployment: path.join(dir, "hardhat.json"),
    };
    writeFileSync(files.evidence, doc.bytes);
    writeFileSync(files.policy, JSON.stringify({ pcrs: { "0": doc.pcrs["0"] }, enclaveSigner: signer, maxAgeSeconds: 600 }));
    writeFileSync(files.anchor, ca.root.pem);
    writeFileSync(files.deployment, JSON.stringify({
      network: "hardhat", chainId: Number(chainId), deploymentBlock: 0, models: {},
      contracts: { InferenceOracle: await oracle.getAddress(), ModelRegistry: await oracle.modelRegistry(), EnclaveRegistry: registryAddress },
    }));
    env.AUDIT_TEST_KEY_1 = auditor1.privateKey;
    env.AUDIT_TEST_KEY_2 = auditor2.privateKey;
    env.AUDIT_TEST_KEY_UNTRUSTED = untrusted.privateKey;
  });

  after(async () => {
    await host?.close();
    delete env.AUDIT_TEST_KEY_1;
    delete env.AUDIT_TEST_KEY_2;
    delete env.AUDIT_TEST_KEY_UNTRUSTED;
    rmSync(dir, { recursive: true, force: true });
  });

  /** `attest` arguments for the shared evidence, with overrides. */
  function args(overrides: Record<string, string | null> = {}): string[] {
    const base: Record<string, string | null> = {
      "--format": "nitro", "--file": files.evidence, "--at": String(T), "--trust-anchor": files.anchor,
      "--policy": files.policy, "--signer": signer, "--operator": operatorAddress, "--measurement": measurement, "--tee-type": String(TeeType.AwsNitro),
      "--expires-at": String(T + 86_400), "--registry": registryAddress, "--chain-id": chainId.toString(),
      "--key-env": "AUDIT_TEST_KEY_1", "--json": "",
      ...overrides,
    };
    return Object.entries(base).flatMap(([k, v]) => (v === null ? [] : v === "" ? [k] : [k, v]));
  }

  async function attest(overrides: Record<string, string | null> = {}): Promise<CliRun & { json: any }> {
    const run = await audit(["attest", ...args(overrides)]);
    let json: any;
    try {
      json = JSON.parse(run.out);
    } catch {
      json = undefined;
    }
    return { ...run, json };
  }

  function toAttestation(json: any) {
    const a = json.attestation;
    return { signer: a.signer, operator: a.operator, measurement: a.measurement, teeType: a.teeType, evidenceHash: a.evidenceHash, expiresAt: BigInt(a.expiresAt) };
  }

  function expectNoKey(run: CliRun): void {
    for (const w of [auditor1, auditor2, untrusted]) {
      const hex = w.privateKey.slice(2);
      expect(run.out + run.err).to.not.include(hex);
    }
  }

  it("signs only valid evidence, with the registry's EIP-712 digest and sha256 of the evidence bytes", async () => {
    const run = await attest();
    expect(run.code, run.err).to.equal(0);
    expectNoKey(run);
    expect(run.json).to.include({ signed: true, auditor: auditor1.address, evidenceHash: sha256(doc.bytes) });
    expect(run.json.attestation).to.deep.equal({ signer, operator: operatorAddress, measurement, teeType: 1, evidenceHash: sha256(doc.bytes), expiresAt: T + 86_400 });
    expect(run.json.checks.every((c: any) => c.ok)).to.equal(true);
    expect(run.json.checks.map((c: any) => c.name)).to.include.members(["attest.policy-signer", "policy.enclave-signer", "cose.signature", "attest.tee-type", "attest.code-identity", "attest.expiry"]);
    // The registry computes the same digest the auditor signed.
    const att = toAttestation(run.json);
    expect(await enclaveRegistry.attestationDigest(att)).to.equal(attestationDigest(chainId, registryAddress, att));
    expect(ethers.recoverAddress(run.json.digest, run.json.signature)).to.equal(auditor1.address);
  });

  it("shows the operator it binds in the text output", async () => {
    const run = await attest({ "--json": null });
    expect(run.code, run.err).to.equal(0);
    expect(run.out).to.match(new RegExp(`operator\\s+${operatorAddress}`));
  });

  it("registers the signer from two auditors (threshold 2) and the runner's result is then accepted", async () => {
    const [, , operator, user, copier] = await ethers.getSigners();
    const first = await attest();
    const second = await attest({ "--network": null, "--registry": null, "--chain-id": null, "--deployment": files.deployment, "--key-env": "AUDIT_TEST_KEY_2" });
    expect(second.code, second.err).to.equal(0);
    expect(second.json.auditor).to.equal(auditor2.address);
    const att = toAttestation(first.json);
    expect(toAttestation(second.json)).to.deep.equal(att);

    // one auditor short
    await expect((enclaveRegistry.connect(operator) as Contract).registerAttestedEnclave(att, [first.json.signature]))
      .to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryNotEnoughAuditors").withArgs(1, 2);
    // a countersignature from a key the registry does not trust does not count
    const stranger = await attest({ "--key-env": "AUDIT_TEST_KEY_UNTRUSTED" });
    expect(stranger.code).to.equal(0);
    await expect((enclaveRegistry.connect(operator) as Contract).registerAttestedEnclave(att, [first.json.signature, stranger.json.signature]))
      .to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryUntrustedAuditor").withArgs(untrusted.address);

    // a copier who takes the countersigned attestation from the mempool registers nothing, with
    // the operator named or with itself put in its place (which breaks both auditor signatures)
    await expect((enclaveRegistry.connect(copier) as Contract).registerAttestedEnclave(att, [first.json.signature, second.json.signature]))
      .to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryOperatorMismatch").withArgs(operator.address, copier.address);
    await expect((enclaveRegistry.connect(copier) as Contract).registerAttestedEnclave({ ...att, operator: copier.address }, [first.json.signature, second.json.signature]))
      .to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryUntrustedAuditor");

    await expect((enclaveRegistry.connect(operator) as Contract).registerAttestedEnclave(att, [first.json.signature, second.json.signature]))
      .to.emit(enclaveRegistry, "EnclaveRegistered")
      .withArgs(signer, operator.address, measurement, TeeType.AwsNitro, T + 86_400, sha256(doc.bytes));
    const [boundOperator, boundMeasurement] = await enclaveRegistry.activeEnclave(signer);
    expect([boundOperator, boundMeasurement]).to.deep.equal([operator.address, measurement]);

    // the runner (whose key the evidence binds) fulfils a consumer's request
    const input = ethers.AbiCoder.defaultAbiCoder().encode(["int256[]"], [[5_100_000n, 3_500_000n, 1_400_000n, 200_000n].map((v) => v * 10n ** BigInt(entry.decimals) / 1_000_000n)]);
    const options = { callbackGasLimit: 200_000, deadline: BigInt(T) + 3600n, redundancy: 1, maxFee: 1000n, maxGasPrice: 10n ** 10n };
    const quote = await oracle.quoteParts(modelId, options);
    const fee = quote.fee;
    const receipt = await (await (consumer.connect(user) as Contract).request(modelId, input, options, { value: quote.total })).wait();
    const commitment = commitmentOf(requestInLogs(receipt!.logs, await oracle.getAddress())!);
    const r = await host.infer({ requestId: commitment.requestId, modelHash: entry.sha256, input });
    await expect(oracle.fulfil(commitment, r.output, r.status, r.signature))
      .to.emit(oracle, "InferenceFulfilled").withArgs(commitment.requestId, signer, r.status, anyValue, anyValue, anyValue, r.output);
    expect(keccak256(r.output)).to.equal(r.outputHash);
    expect(await oracle.requestState(commitment.requestId)).to.equal(2n);
    // the operator is paid the fee and reimbursed its relayer's gas from the prepayment (the test relayer is the deployer)
    expect(await oracle.balances(operator.address)).to.be.greaterThan(fee);
  });

  it("refuses evidence with one tampered byte: no signature is produced", async () => {
    const tampered = Buffer.from(doc.bytes);
    const at = doc.payloadEnd - 10; // inside the signed payload (the nonce)
    tampered[at] ^= 0x01;
    const file = path.join(dir, "tampered.cbor");
    writeFileSync(file, tampered);
    const run = await attest({ "--file": file });
    expect(run.code).to.equal(1);
    expect(run.json.signed).to.equal(false);
    expect(run.json.failedCheck).to.equal("cose.signature");
    expect(run.json).to.not.have.property("signature");
    expectNoKey(run);
  });

  it("refuses a policy that names another signer, or none", async () => {
    const other = Wallet.createRandom().address;
    const otherPolicy = path.join(dir, "other-signer.json");
    writeFileSync(otherPolicy, JSON.stringify({ pcrs: { "0": doc.pcrs["0"] }, enclaveSigner: other }));
    const named = await attest({ "--policy": otherPolicy });
    expect(named.code).to.equal(1);
    expect(named.json).to.include({ signed: false, failedCheck: "attest.policy-signer" });
    expect(named.json.checks[0].detail).to.include(other);

    const nonePolicy = path.join(dir, "no-signer.json");
    writeFileSync(nonePolicy, JSON.stringify({ pcrs: { "0": doc.pcrs["0"] } }));
    const none = await attest({ "--policy": nonePolicy });
    expect(none.json).to.include({ signed: false, failedCheck: "attest.policy-signer" });

    // policy and --signer agree, but the evidence binds the runner's key, not this one
    const both = await attest({ "--policy": otherPolicy, "--signer": other });
    expect(both.code).to.equal(1);
    expect(both.json).to.include({ signed: false, failedCheck: "policy.enclave-signer" });
  });

  it("refuses a TEE type, an unpinned code identity or a lifetime the evidence does not support", async () => {
    const wrongType = await attest({ "--tee-type": String(TeeType.AmdSevSnp) });
    expect(wrongType.json).to.include({ signed: false, failedCheck: "attest.tee-type" });
    const unpinned = path.join(dir, "unpinned.json");
    writeFileSync(unpinned, JSON.stringify({ enclaveSigner: signer }));
    expect((await attest({ "--policy": unpinned })).json).to.include({ signed: false, failedCheck: "attest.code-identity" });
    expect((await attest({ "--expires-at": String(T + 30 * 86_400) })).json).to.include({ signed: false, failedCheck: "attest.expiry" });
    expect((await attest({ "--expires-at": String(T - 1) })).json).to.include({ signed: false, failedCheck: "attest.expiry" });
  });

  it("takes the key only from an environment variable or a private file, and says what to fix", async () => {
    const missing = await attest({ "--key-env": null });
    expect(missing.code).to.equal(2);
    expect(missing.err).to.include("--key-env VAR or --key-file FILE");
    const unset = await attest({ "--key-env": "AUDIT_TEST_KEY_NOT_SET" });
    expect(unset.code).to.equal(2);
    expect(unset.err).to.include("AUDIT_TEST_KEY_NOT_SET is not set");

    const keyFile = path.join(dir, "auditor.key");
    writeFileSync(keyFile, `${auditor2.privateKey}\n`);
    chmodSync(keyFile, 0o644);
    const open = await attest({ "--key-env": null, "--key-file": keyFile });
    expect(open.code).to.equal(2);
    expect(open.err).to.include("chmod 600");
    expectNoKey(open);
    chmodSync(keyFile, 0o600);
    const ok = await attest({ "--key-env": null, "--key-file": keyFile });
    expect(ok.code, ok.err).to.equal(0);
    expect(ok.json.auditor).to.equal(auditor2.address);
    expectNoKey(ok);

    writeFileSync(path.join(dir, "bad.key"), "not a key", { mode: 0o600 });
    expect(() => readAuditorKey({ keyFile: path.join(dir, "bad.key") })).to.throw(/does not hold a private key/);
    expect(readFileSync(keyFile, "utf8")).to.include(auditor2.privateKey); // the command never rewrites it
  });

  it("says what to fix when the registry is not named", async () => {
    const run = await attest({ "--registry": null, "--chain-id": null });
    expect(run.code).to.equal(2);
    expect(run.err).to.include("--registry 0xADDR --chain-id N, or --network N");
  });
});
