import { expect } from "chai";
import { Wallet } from "ethers";
import { verifyEvidence } from "../../../oracle/src/audit/evidence/registry";
import { createDevPlatform, createDevRoot } from "../../../oracle/src/enclave/platform";

describe("dev format in the auditor's evidence registry", () => {
  const root = createDevRoot();
  const platform = createDevPlatform({ root });
  const signer = Wallet.createRandom().address;
  const operator = Wallet.createRandom().address;
  const measurement = "0x" + "11".repeat(32);
  const ev = platform.signReport({ measurement, runtime: "0x" + "22".repeat(32), signer, operator });
  const bytes = Buffer.from(JSON.stringify({ report: ev.report, reportSignature: ev.reportSignature, certificate: ev.certificate, certificateSignature: ev.certificateSignature }));
  const anchor = "0x04" + root.publicKey.x.slice(2) + root.publicKey.y.slice(2);

  it("verifies a dev report through verifyEvidence with the auditor's policy", () => {
    const r = verifyEvidence({ format: "dev", evidence: bytes, trustAnchor: anchor, policy: { measurement: [measurement], enclaveSigner: signer } });
    expect(r.valid, JSON.stringify(r.checks, null, 1)).to.equal(true);
    expect(r.checks.map((c) => c.name)).to.include.members(["chain.root", "report.signature", "policy.measurement", "policy.enclave-signer", "policy.debug"]);
    expect(r.facts).to.include({ enclaveSigner: signer, operator });
  });

  it("fails on another measurement, and without a trust anchor", () => {
    expect(verifyEvidence({ format: "dev", evidence: bytes, trustAnchor: anchor, policy: { measurement: ["22".repeat(32)] } }).failedCheck).to.equal("policy.measurement");
    expect(verifyEvidence({ format: "dev", evidence: bytes }).failedCheck).to.equal("chain.root");
  });
});
