import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { keccak256 } from "ethers";
import {
  verifySevSnp,
  verifyEvidence,
  readSevSnpCollateralFile,
  EvidenceInputError,
  AMD_ARK_MILAN_SHA256,
  type SevSnpFacts,
  type VerificationReport,
} from "../../../oracle/src/audit";
import { createSevSnpReport, createSevSnpTestCa, type SevSnpTestCa } from "../../fixtures/evidence";
import { describeWithSamples, flipByte, sampleBytes, samplePath } from "./samples";

const failed = (report: VerificationReport) => report.checks.filter((c) => !c.ok && !c.skipped).map((c) => c.name);
const check = (report: VerificationReport, name: string) => report.checks.find((c) => c.name === name);

describeWithSamples("SEV-SNP verifier on the real Milan report", (manifest) => {
  const sample = manifest.sevSnp[0];
  const report = () => sampleBytes(sample.file);
  const collateral = () => ({ vcek: sampleBytes(sample.vcek), askArk: sampleBytes(sample.askArk).toString("utf8") });
  /** The VCEK's notBefore is 2022-09-24T00:55:28Z (the manifest's verifyAt is after it). */
  const vcekValidFrom = Date.UTC(2022, 8, 24, 0, 55, 28) / 1000;
  const at = vcekValidFrom + 60;

  it("verifies (debug allowed) once its VCEK is valid, and reports the manifest's facts", () => {
    const result = verifySevSnp(report(), { at, collateral: collateral(), policy: { debugAllowed: true } });
    expect(failed(result), JSON.stringify(result.checks.filter((c) => !c.ok))).to.deep.equal([]);
    expect(result.valid).to.equal(true);
    const facts: SevSnpFacts = result.facts;
    expect(facts.measurement).to.equal(sample.measurement);
    expect(facts.reportData).to.equal(sample.reportData);
    expect(facts.reportedTcb).to.deep.equal({ bootloader: 2, tee: 0, snp: 5, microcode: 0x44 });
    expect(facts.chipId).to.match(/^3ac3fe21/);
    expect(facts.productName).to.equal("Milan-B0");
    expect(check(result, "root.pinned")?.evidence?.actual).to.equal(sample.arkSha256.replace(/:/g, ""));
    expect(check(result, "root.pinned")?.evidence?.actual).to.equal(AMD_ARK_MILAN_SHA256);
  });

  it("verifies at the manifest's verifyAt (after the VCEK's notBefore)", () => {
    expect(sample.verifyAt).to.be.greaterThanOrEqual(vcekValidFrom);
    const result = verifySevSnp(report(), { at: sample.verifyAt, collateral: collateral(), policy: { debugAllowed: true } });
    expect(failed(result), JSON.stringify(result.checks.filter((c) => !c.ok))).to.deep.equal([]);
    expect(result.valid).to.equal(true);
  });

  it("names the VCEK as not yet valid one hour before its notBefore", () => {
    const early = vcekValidFrom - 3600;
    const result = verifySevSnp(report(), { at: early, collateral: collateral(), policy: { debugAllowed: true } });
    expect(failed(result)).to.deep.equal(["chain.vcek"]);
    expect(check(result, "chain.vcek")?.detail).to.match(/not yet valid at 2022-09-23T23:55:28Z \(valid from 2022-09-24T00:55:28Z\)/);
    expect(check(result, "report.signature")?.ok).to.equal(true);
  });

  it("fails after the VCEK expires", () => {
    const result = verifySevSnp(report(), { at: Date.UTC(2029, 9, 1) / 1000, collateral: collateral(), policy: { debugAllowed: true } });
    expect(result.failedCheck).to.equal("chain.vcek");
    expect(check(result, "chain.vcek")?.detail).to.match(/expired/);
  });

  it("flags the guest policy's DEBUG bit and rejects it under the default policy", () => {
    const result = verifySevSnp(report(), { at, collateral: collateral() });
    expect(result.facts.debug).to.equal(true);
    expect(result.facts.policy).to.equal("0xb0000");
    expect(result.failedCheck).to.equal("policy.debug");
  });

  it("fails when a byte of the signed region is flipped", () => {
    // Report data, measurement, host data, report id, committed TCB, and the last signed byte.
    for (const offset of [0x50, 0x7f, 0x90, 0xbf, 0xc0, 0x140, 0x1e8, 0x29f]) {
      const result = verifySevSnp(flipByte(report(), offset), { at, collateral: collateral(), policy: { debugAllowed: true } });
      expect(result.valid, `offset 0x${offset.toString(16)}`).to.equal(false);
      expect(result.failedCheck, `offset 0x${offset.toString(16)}`).to.equal("report.signature");
    }
    // The chip id and reported TCB also tie the report to the VCEK.
    const chip = verifySevSnp(flipByte(report(), 0x1a0), { at, collateral: collateral(), policy: { debugAllowed: true } });
    expect(failed(chip)).to.deep.equal(["vcek.tcb", "report.signature"]);
    // Bytes after the signature are not signed.
    expect(verifySevSnp(flipByte(report(), 0x400), { at, collateral: collateral(), policy: { debugAllowed: true } }).valid).to.equal(true);
  });

  it("checks the measurement in the policy", () => {
    const ok = verifySevSnp(report(), { at, collateral: collateral(), policy: { debugAllowed: true, measurement: `0x${sample.measurement}` } });
    expect(ok.valid).to.equal(true);
    const bad = verifySevSnp(report(), { at, collateral: collateral(), policy: { debugAllowed: true, measurement: "00".repeat(48) } });
    expect(bad.failedCheck).to.equal("policy.measurement");
  });

  it("reads collateral for the CLI from a JSON file of paths or a PEM bundle", () => {
    const dir = mkdtempSync(join(tmpdir(), "snp-collateral-"));
    const spec = join(dir, "collateral.json");
    writeFileSync(spec, JSON.stringify({ vcek: samplePath(sample.vcek), askArk: samplePath(sample.askArk) }));
    const fromJson = readSevSnpCollateralFile(spec);
    expect(fromJson.ark?.subject).to.match(/ARK-Milan/);
    const bundle = join(dir, "bundle.pem");
    const vcekPem = fromJson.vcek.toString();
    writeFileSync(bundle, `${sampleBytes(sample.askArk).toString("utf8")}\n${vcekPem}`);
    const fromPem = readSevSnpCollateralFile(bundle);
    expect(fromPem.vcek.fingerprint256).to.equal(fromJson.vcek.fingerprint256);
    expect(verifyEvidence({ format: "sev-snp", evidence: report(), collateral: fromPem, at, policy: { debugAllowed: true } }).valid).to.equal(true);
  });
});

describe("SEV-SNP verifier on synthetic reports from a test ARK", () => {
  const at = Date.UTC(2025, 0, 1) / 1000;
  let ca: SevSnpTestCa;
  before(() => {
    ca = createSevSnpTestCa();
  });
  const collateral = () => ({ vcek: ca.vcek.der, ask: ca.ask.pem, ark: ca.ark.pem });

  it("verifies a report signed by a VCEK chained to the pinned test ARK", () => {
    const measurement = Buffer.alloc(48, 0x5a);
    const result = verifySevSnp(createSevSnpReport(ca, { measurement }), { at, collateral: collateral(), trustAnchor: ca.ark.pem, policy: { measurement: measurement.toString("hex") } });
    expect(failed(result)).to.deep.equal([]);
    expect(result.facts.measurement).to.equal(measurement.toString("hex"));
    expect(result.facts.debug).to.equal(false);
    expect(result.chain.map((l) => `${l.role}:${l.ok}`)).to.deep.equal([
      "root:true",
      "intermediate:true",
      "leaf:true",
      "evidence:true",
      "measurement:true",
      "signer:null",
    ]);
  });

  it("uses the pinned ARK when the collateral carries none", () => {
    const result = verifySevSnp(createSevSnpReport(ca), { at, collateral: { vcek: ca.vcek.pem, ask: ca.ask.der }, trustAnchor: ca.ark.der });
    expect(result.valid).to.equal(true);
  });

  it("fails unless the ARK is the pinned one (AMD's ARK-Milan by default)", () => {
    const result = verifySevSnp(createSevSnpReport(ca), { at, collateral: collateral() });
    expect(result.failedCheck).to.equal("root.pinned");
    expect(check(result, "root.pinned")?.evidence?.pinned).to.equal(AMD_ARK_MILAN_SHA256);
  });

  it("fails an ASK signed by another ARK", () => {
    const other = createSevSnpTestCa(ca.tcb, ca.chipId);
    const result = verifySevSnp(createSevSnpReport(ca), { at, collateral: { vcek: ca.vcek.der, ask: ca.ask.pem, ark: other.ark.pem }, trustAnchor: other.ark.pem });
    expect(result.failedCheck).to.equal("chain.ask");
  });

  it("fails a VCEK issued for another TCB", () => {
    const result = verifySevSnp(createSevSnpReport(ca, { reportedTcb: { ...ca.tcb, microcode: ca.tcb.microcode + 1 } }), { at, collateral: collateral(), trustAnchor: ca.ark.pem });
    expect(result.failedCheck).to.equal("vcek.tcb");
    expect(check(result, "vcek.tcb")?.detail).to.match(/microcode SPL/);
    expect(check(result, "report.signature")?.ok).to.equal(true);
  });

  it("fails when a signed byte or the signature is altered", () => {
    const bytes = createSevSnpReport(ca);
    for (const offset of [0x00 + 4, 0x50, 0x90 + 47, 0x29f, 0x2a0, 0x2a0 + 72]) {
      const result = verifySevSnp(flipByte(bytes, offset), { at, collateral: collateral(), trustAnchor: ca.ark.pem });
      expect(result.valid, `offset 0x${offset.toString(16)}`).to.equal(false);
      expect(result.failedCheck, `offset 0x${offset.toString(16)}`).to.equal("report.signature");
    }
  });

  it("binds the enclave signer as keccak256(address) in the first 32 bytes of report data", () => {
    const signer = "0x2222222222222222222222222222222222222222";
    const reportData = Buffer.concat([Buffer.from(keccak256(signer).slice(2), "hex"), Buffer.alloc(32, 7)]);
    const result = verifySevSnp(createSevSnpReport(ca, { reportData }), { at, collateral: collateral(), trustAnchor: ca.ark.pem, policy: { enclaveSigner: signer } });
    expect(result.valid).to.equal(true);
    expect(result.chain[result.chain.length - 1]).to.include({ role: "signer", ok: true });
    const other = verifySevSnp(createSevSnpReport(ca, { reportData }), { at, collateral: collateral(), trustAnchor: ca.ark.pem, policy: { enclaveSigner: "0x3333333333333333333333333333333333333333" } });
    expect(other.failedCheck).to.equal("policy.enclave-signer");
  });

  it("flags a debug guest policy", () => {
    const result = verifySevSnp(createSevSnpReport(ca, { policy: 0x30000n | (1n << 19n) }), { at, collateral: collateral(), trustAnchor: ca.ark.pem });
    expect(result.failedCheck).to.equal("policy.debug");
  });

  it("rejects a report of the wrong length as a failed structure check", () => {
    const result = verifySevSnp(createSevSnpReport(ca).subarray(0, 1000), { at, collateral: collateral(), trustAnchor: ca.ark.pem });
    expect(result.failedCheck).to.equal("report.structure");
    expect(result.checks.filter((c) => c.skipped).map((c) => c.name)).to.include("report.signature");
  });

  it("refuses collateral without the VCEK or the ASK", () => {
    expect(() => verifySevSnp(createSevSnpReport(ca), { at, collateral: { ask: ca.ask.pem } })).to.throw(EvidenceInputError, /vcek/);
    expect(() => verifySevSnp(createSevSnpReport(ca), { at, collateral: { vcek: ca.vcek.pem } })).to.throw(EvidenceInputError, /ask/);
    expect(() => verifyEvidence({ format: "sev-snp", evidence: createSevSnpReport(ca), at })).to.throw(EvidenceInputError, /VCEK/);
  });
});
