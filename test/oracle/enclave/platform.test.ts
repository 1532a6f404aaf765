import { expect } from "chai";
import { mkdtempSync, rmSync, statSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { AbiCoder, Wallet, ZeroAddress } from "ethers";
import { REPORT_VERSION, TeeType, decodeReport, encodeReport, reportDigest, p256SignDigest } from "../../../oracle/src/protocol";
import { DEV_CHECKS, verifyDevEvidence } from "../../../oracle/src/enclave/dev-evidence";
import { createDevPlatform, createDevRoot, loadDevPlatform, saveDevPlatform } from "../../../oracle/src/enclave/platform";

describe("development platform (simulation)", () => {
  const root = createDevRoot();
  const platform = createDevPlatform({ root });
  const signer = Wallet.createRandom().address;
  const operator = Wallet.createRandom().address;
  const measurement = "0x" + "11".repeat(32);
  const runtime = "0x" + "22".repeat(32);
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), "platform-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("signs a DevSimulated report that verifies against its root, every check passing", async () => {
    const ev = await platform.attest({ measurement, runtime, signer, operator });
    expect(ev.teeType).to.equal(TeeType.DevSimulated);
    expect(ev.rootId).to.equal(root.rootId);
    expect(ev.operator).to.equal(operator);
    expect(decodeReport(ev.report)).to.include({ version: REPORT_VERSION, enclaveSigner: signer, operator });
    const report = verifyDevEvidence(ev, { roots: [root.publicKey], allowedMeasurements: [measurement], expectedSigner: signer, expectedOperator: operator });
    expect(report.valid, JSON.stringify(report.checks, null, 1)).to.equal(true);
    expect(report.format).to.equal("dev");
    expect(report.checks.map((c) => c.name)).to.deep.equal([...DEV_CHECKS]);
    expect(report.facts).to.include({ measurement, enclaveSigner: signer, operator, runtime, simulation: true });
    expect(report.checks.find((c) => c.name === "report.teeType")!.detail).to.match(/simulation/);
  });

  it("names the failing check: unknown root, other measurement, expired report, forged report, other operator, old version", async () => {
    const ev = await platform.attest({ measurement, runtime, signer, operator });
    const other = createDevRoot();
    const r1 = verifyDevEvidence(ev, { roots: [other.publicKey] });
    expect(r1.valid).to.equal(false);
    expect(r1.failedCheck).to.equal("chain.root");
    expect(r1.checks.find((c) => c.name === "report.signature")!.skipped).to.equal(true);

    const r2 = verifyDevEvidence(ev, { roots: [root.publicKey], allowedMeasurements: ["0x" + "33".repeat(32)] });
    expect(r2.failedCheck).to.equal("policy.measurement");

    const r3 = verifyDevEvidence(ev, { roots: [root.publicKey], at: Number(ev.expiresAt) + 1 });
    expect(r3.failedCheck).to.equal("report.freshness");

    const forged = encodeReport({ ...decodeReport(ev.report), measurement: "0x" + "44".repeat(32) });
    const r4 = verifyDevEvidence({ ...ev, report: forged }, { roots: [root.publicKey] });
    expect(r4.failedCheck).to.equal("report.signature");

    const r5 = verifyDevEvidence({ ...ev, report: "0x1234" }, { roots: [root.publicKey] });
    expect(r5.failedCheck).to.equal("encoding.report");

    // someone who copied the report is not the operator it names
    const r6 = verifyDevEvidence(ev, { roots: [root.publicKey], expectedOperator: Wallet.createRandom().address });
    expect(r6.failedCheck).to.equal("policy.operator");
    expect(r6.checks.find((c) => c.name === "policy.operator")!.detail).to.include(operator);

    // the operator is under the platform's signature
    const moved = encodeReport({ ...decodeReport(ev.report), operator: Wallet.createRandom().address });
    expect(verifyDevEvidence({ ...ev, report: moved }, { roots: [root.publicKey] }).failedCheck).to.equal("report.signature");

    // a version-1 report (before the operator was bound) is named as such
    const v1 = AbiCoder.defaultAbiCoder().encode(
      ["uint16", "uint8", "bytes32", "bytes32", "address", "bytes32", "uint64", "uint64"],
      [1, TeeType.DevSimulated, platform.platformId, measurement, signer, runtime, ev.issuedAt, ev.expiresAt],
    );
    const r7 = verifyDevEvidence({ ...ev, report: v1 }, { roots: [root.publicKey] });
    expect(r7.failedCheck).to.equal("encoding.report");
    expect(r7.checks.find((c) => c.name === "encoding.report")!.detail).to.match(/report version 1: this verifier reads version 2/);
    // a report of another version in this layout, validly signed, fails its version check
    const v3 = { ...decodeReport(ev.report), version: 3 };
    const platformKey = Buffer.from(platform.toFile().platformPrivateKey.slice(2), "hex");
    const r8 = verifyDevEvidence({ ...ev, report: encodeReport(v3), reportSignature: p256SignDigest(platformKey, reportDigest(v3)) }, { roots: [root.publicKey] });
    expect(r8.failedCheck).to.equal("report.version");
  });

  it("names the zero address as operator when none is given (a report nobody can register)", async () => {
    const ev = await platform.attest({ measurement, runtime, signer });
    expect(ev.operator).to.equal(ZeroAddress);
    const r = verifyDevEvidence(ev, { roots: [root.publicKey] });
    expect(r.valid).to.equal(true);
    expect(r.facts.operator).to.equal(ZeroAddress);
    expect(r.checks.find((c) => c.name === "policy.operator")!.detail).to.match(/zero address/);
  });

  it("refuses a report claiming real hardware from a development platform", () => {
    const other = createDevRoot();
    const p = createDevPlatform({ root: other });
    const ev = p.signReport({ measurement, runtime, signer });
    const claimed = { ...decodeReport(ev.report), teeType: TeeType.IntelTdx };
    // sign the lie with a platform key of our own, certified by the same root
    const file = p.toFile();
    const sig = p256SignDigest(Buffer.from(file.platformPrivateKey.slice(2), "hex"), reportDigest(claimed));
    const r = verifyDevEvidence({ ...ev, report: encodeReport(claimed), reportSignature: sig }, { roots: [other.publicKey] });
    expect(r.failedCheck).to.equal("report.teeType");
  });

  it("saves with mode 0600, loads back the same platform, and refuses a file others can read", async () => {
    const file = path.join(dir, "net", "platform.json");
    saveDevPlatform(platform, file);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const loaded = loadDevPlatform(file);
    expect(loaded.rootId).to.equal(platform.rootId);
    expect(loaded.platformId).to.equal(platform.platformId);
    expect(Buffer.from(loaded.sealingKey(measurement)).equals(Buffer.from(platform.sealingKey(measurement)))).to.equal(true);
    const ev = await loaded.attest({ measurement, runtime, signer });
    expect(verifyDevEvidence(ev, { roots: [root.publicKey] }).valid).to.equal(true);
    chmodSync(file, 0o644);
    expect(() => loadDevPlatform(file)).to.throw(/make it 0600/);
  });

  it("does not put its secrets in JSON.stringify", () => {
    const text = JSON.stringify({ platform });
    expect(text).to.not.include(platform.toFile().platformPrivateKey.slice(2));
    expect(text).to.not.include(platform.toFile().secret.slice(2));
  });
});
