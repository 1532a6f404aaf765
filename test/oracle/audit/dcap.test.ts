import { expect } from "chai";
import { readFileSync } from "fs";
import {
  verifyDcap,
  verifyEvidence,
  parseDcapQuote,
  DCAP_QVL_STEPS,
  EvidenceInputError,
  INTEL_SGX_ROOT_CA,
  INTEL_SGX_ROOT_CA_SHA256,
  AWS_NITRO_ROOT_G1_PEM,
  signerBindingHash,
  type DcapFacts,
  type VerificationReport,
} from "../../../oracle/src/audit";
import { describeWithSamples, flipByte, sampleBytes, type DcapSample } from "./samples";
import { fingerprintSha256, toX509 } from "../../../oracle/src/audit/evidence/x509";

const failed = (report: VerificationReport) => report.checks.filter((c) => !c.ok && !c.skipped).map((c) => c.name);
const check = (report: VerificationReport, name: string) => report.checks.find((c) => c.name === name);
const collateralOf = (sample: DcapSample) => JSON.parse(sampleBytes(sample.collateral).toString("utf8")) as Record<string, unknown>;
const QVL_SIGNATURE_STEPS = ["qvl.tcb-info-signature", "qvl.qe-identity-signature", "qvl.qe-report-signature", "qvl.quote-signature", "qvl.pck-chain"];

describe("DCAP verifier: what it knows about dcap-qvl", () => {
  it("maps every error message in dcap-qvl's verify.js to a named step", () => {
    const source = readFileSync(require.resolve("@phala/dcap-qvl/src/verify.js"), "utf8");
    const messages = [...source.matchAll(/throw new Error\((['`])(.*?)\1/g)].map((m) => m[2].split("${")[0]);
    // Thrown inside verifyEcdsaSignature; verify() catches it and throws a step-specific message.
    const caughtInside = new Set(["Signature verification failed"]);
    const generic = /CaUsedAsEndEntity|Failed to verify certificate chain|Certificate is expired or not yet valid|Certificate is revoked/;
    const unmapped = messages.filter(
      (m) => !caughtInside.has(m) && !generic.test(m) && !DCAP_QVL_STEPS.some((s) => s.errors.some((e) => e.test(m))),
    );
    expect(messages.length).to.be.greaterThan(20);
    expect(unmapped).to.deep.equal([]);
  });

  it("pins the same Intel SGX Root CA that dcap-qvl embeds", () => {
    const { constants } = require("@phala/dcap-qvl") as { constants: { TRUSTED_ROOT_CA_DER: Buffer } };
    expect(fingerprintSha256(toX509(constants.TRUSTED_ROOT_CA_DER))).to.equal(INTEL_SGX_ROOT_CA_SHA256);
    expect(INTEL_SGX_ROOT_CA.sha256).to.equal(INTEL_SGX_ROOT_CA_SHA256);
  });

  it("refuses to run without collateral or with collateral missing fields", () => {
    expect(() => verifyEvidence({ format: "dcap", evidence: Buffer.alloc(10), at: 0 })).to.throw(EvidenceInputError, /collateral/);
    expect(() => verifyDcap(Buffer.alloc(10), { at: 0, collateral: { tcb_info: "{}" } })).to.throw(EvidenceInputError, /pck_crl/);
  });

  it("reports a quote that does not parse as a failed quote.structure, not an exception", () => {
    const collateral = {
      pck_crl_issuer_chain: "",
      root_ca_crl: "",
      pck_crl: "",
      tcb_info_issuer_chain: "",
      tcb_info: "{}",
      tcb_info_signature: "",
      qe_identity_issuer_chain: "",
      qe_identity: "{}",
      qe_identity_signature: "",
    };
    const report = verifyDcap(Buffer.alloc(100), { at: 0, collateral });
    expect(report.failedCheck).to.equal("quote.structure");
    expect(report.checks.filter((c) => c.skipped).map((c) => c.name)).to.include.members(["qvl.quote-signature", "crl.pck"]);
  });
});

describeWithSamples("DCAP verifier on real SGX/TDX quotes", (manifest) => {
  for (const sample of manifest.dcap) {
    describe(sample.file, () => {
      const quote = sampleBytes(sample.file);
      const collateral = collateralOf(sample);
      const expectValid = sample.tcbStatus !== "NoMatchingTcbLevel";

      it(`at verifyAt: signatures and chains verify, TCB status ${sample.tcbStatus}, facts as in the manifest`, () => {
        const report = verifyDcap(quote, { at: sample.verifyAt, collateral });
        const facts: DcapFacts = report.facts;
        for (const name of ["quote.structure", "root.pinned", "chain.pck", "chain.tcb-signing", "crl.root-ca", "crl.pck", ...QVL_SIGNATURE_STEPS]) {
          expect(check(report, name)?.ok, `${name}: ${check(report, name)?.detail}`).to.equal(true);
        }
        expect(report.valid).to.equal(expectValid);
        expect(facts.quoteVersion).to.equal(sample.quoteVersion);
        expect(facts.teeType).to.equal(sample.teeType);
        expect(facts.fmspc).to.equal(sample.fmspc.toUpperCase());
        expect(facts.tcbStatus).to.equal(sample.tcbStatus);
        expect(facts.advisoryIds).to.deep.equal(sample.advisoryIds);
        expect(facts.reportData).to.equal(sample.reportData);
        expect(facts.debug).to.equal(false);
        if (sample.teeType === "SGX") {
          expect(facts.mrEnclave).to.equal(sample.mrEnclave);
          expect(facts.mrSigner).to.equal(sample.mrSigner);
          expect(facts.isvProdId).to.equal(sample.isvProdId);
          expect(facts.isvSvn).to.equal(sample.isvSvn);
        } else {
          expect(facts.mrTd).to.equal(sample.mrTd);
          expect(facts.rtmr0).to.equal(sample.rtmr0);
        }
      });

      it("fails at expiredAt: the TCB info and the PCK CRL have passed their next update", () => {
        const report = verifyDcap(quote, { at: sample.expiredAt, collateral });
        expect(report.valid).to.equal(false);
        expect(failed(report)).to.include.members(["crl.pck", "qvl.tcb-info-validity"]);
        expect(check(report, "qvl.tcb-info-validity")?.detail).to.match(/TCBInfo expired/);
      });

      it("fails when a byte of the signed header or body is flipped", () => {
        const { signedLength } = parseDcapQuote(quote);
        // Report body: measurement registers and report data; only the quote signature covers them.
        for (const offset of [signedLength - 1, signedLength - 40, signedLength - 100, signedLength - 300]) {
          const report = verifyDcap(flipByte(quote, offset), { at: sample.verifyAt, collateral });
          expect(report.valid, `offset ${offset}`).to.equal(false);
          expect(report.failedCheck, `offset ${offset}`).to.equal("qvl.quote-signature");
        }
        // Header: QE vendor id and user data.
        for (const offset of [12, 30]) {
          const report = verifyDcap(flipByte(quote, offset), { at: sample.verifyAt, collateral });
          expect(report.valid, `offset ${offset}`).to.equal(false);
          expect(check(report, "qvl.quote-signature")?.ok, `offset ${offset}`).to.equal(false);
        }
      });
    });
  }

  const byFile = (name: string) => manifest.dcap.find((s) => s.file.includes(name))!;

  it("reports tdx-v5-phala-outdated as NoMatchingTcbLevel, with every signature valid", () => {
    const sample = byFile("outdated");
    const report = verifyDcap(sampleBytes(sample.file), { at: sample.verifyAt, collateral: collateralOf(sample) });
    expect(report.valid).to.equal(false);
    expect(report.failedCheck).to.equal("qvl.tcb-level");
    expect(report.facts.tcbStatus).to.equal("NoMatchingTcbLevel");
    expect(check(report, "qvl.tcb-level")?.detail).to.match(/^TCB status NoMatchingTcbLevel/);
    expect(failed(report)).to.deep.equal(["qvl.tcb-level"]);
    expect(check(report, "qvl.report-attributes")?.skipped).to.equal(true);
  });

  it("applies the policy: MRENCLAVE/MRSIGNER, allowed TCB statuses, signer binding, max age", () => {
    const sample = byFile("sgx-v3-phala");
    const run = (policy: object) => verifyDcap(sampleBytes(sample.file), { at: sample.verifyAt, collateral: collateralOf(sample), policy });
    expect(run({ mrEnclave: sample.mrEnclave, mrSigner: [`0x${"00".repeat(32)}`, sample.mrSigner!] }).valid).to.equal(true);
    expect(run({ mrEnclave: "00".repeat(32) }).failedCheck).to.equal("policy.mr-enclave");
    expect(run({ allowedTcbStatuses: ["UpToDate"] }).failedCheck).to.equal("policy.tcb-status");
    expect(run({ allowedTcbStatuses: ["UpToDate", "ConfigurationAndSWHardeningNeeded"] }).valid).to.equal(true);
    expect(run({ mrTd: "00".repeat(48) }).failedCheck).to.equal("policy.mr-td");
    const signer = run({ enclaveSigner: "0x1111111111111111111111111111111111111111" });
    expect(signer.failedCheck).to.equal("policy.enclave-signer");
    expect(check(signer, "policy.enclave-signer")?.evidence?.expected).to.equal(signerBindingHash("0x1111111111111111111111111111111111111111"));
    expect(check(run({ maxAgeSeconds: 60 }), "policy.max-age")?.detail).to.match(/carries no time/);
  });

  it("names the collateral signature that fails when the TCB info or QE identity text is altered", () => {
    const sample = byFile("tdx-v4-phala");
    const quote = sampleBytes(sample.file);
    const tcb = collateralOf(sample);
    tcb.tcb_info = (tcb.tcb_info as string).replace('"tcbStatus":"UpToDate"', '"tcbStatus":"UpToDate" ');
    expect(verifyDcap(quote, { at: sample.verifyAt, collateral: tcb }).failedCheck).to.equal("qvl.tcb-info-signature");
    const qe = collateralOf(sample);
    qe.qe_identity = (qe.qe_identity as string).replace('"version":2', '"version":2 ');
    expect(verifyDcap(quote, { at: sample.verifyAt, collateral: qe }).failedCheck).to.equal("qvl.qe-identity-signature");
  });

  it("catches a CRL that does not verify, which dcap-qvl alone would accept", () => {
    const sample = byFile("tdx-v4-phala");
    const collateral = collateralOf(sample);
    const crl = Buffer.from(collateral.pck_crl as string, "hex");
    crl[crl.length - 10] ^= 1; // inside the signature
    collateral.pck_crl = crl.toString("hex");
    const report = verifyDcap(sampleBytes(sample.file), { at: sample.verifyAt, collateral });
    expect(report.failedCheck).to.equal("crl.pck");
    expect(check(report, "crl.pck")?.detail).to.match(/signature does not verify/);
    expect(check(report, "qvl.tcb-level")?.ok, "dcap-qvl does not check CRL signatures").to.equal(true);
  });

  it("rejects the Intel chains when another root is pinned, and says which dcap-qvl step failed", () => {
    const sample = byFile("sgx-v3-automata");
    const report = verifyDcap(sampleBytes(sample.file), { at: sample.verifyAt, collateral: collateralOf(sample), trustAnchor: AWS_NITRO_ROOT_G1_PEM });
    expect(report.failedCheck).to.equal("root.pinned");
    expect(failed(report)).to.include.members(["chain.pck", "chain.tcb-signing", "qvl.tcb-info-chain"]);
    expect(check(report, "qvl.pck-chain")?.skipped).to.equal(true);
  });

  it("verifies through the registry with verifyEvidence", () => {
    const sample = byFile("tdx-v4-automata");
    const report = verifyEvidence({ format: "dcap", evidence: sampleBytes(sample.file), collateral: collateralOf(sample), at: sample.verifyAt });
    expect(report.valid).to.equal(true);
    expect(report.chain.map((l) => l.role)).to.deep.equal(["root", "intermediate", "leaf", "evidence", "evidence", "measurement", "signer"]);
  });
});
