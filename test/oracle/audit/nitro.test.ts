import { expect } from "chai";
import { Decoder } from "cbor-x";
import { keccak256 } from "ethers";
import { verifyEvidence, verifyNitro, AWS_NITRO_ROOT_G1_SHA256, type NitroFacts, type VerificationReport } from "../../../oracle/src/audit";
import { createNitroDocument, createNitroTestCa, encodeCbor, issueCertificate, type NitroTestCa } from "../../fixtures/evidence";
import { describeWithSamples, flipByte, sampleBytes } from "./samples";

const failed = (report: VerificationReport) => report.checks.filter((c) => !c.ok && !c.skipped).map((c) => c.name);
const check = (report: VerificationReport, name: string) => report.checks.find((c) => c.name === name);

/** Offset of a byte sequence inside a document, to tamper with a known field. */
function offsetOf(document: Buffer, bytes: Uint8Array): number {
  const offset = document.indexOf(Buffer.from(bytes));
  if (offset < 0) throw new Error("bytes not found in document");
  return offset;
}

describeWithSamples("Nitro verifier on real AWS attestation documents", (manifest) => {
  for (const sample of manifest.nitro) {
    describe(sample.file, () => {
      const document = sampleBytes(sample.file);

      it("verifies at verifyAt (debug allowed) and reports the manifest's facts", () => {
        const report = verifyNitro(document, { at: sample.verifyAt, policy: { debugAllowed: true } });
        expect(failed(report), JSON.stringify(report.checks.filter((c) => !c.ok))).to.deep.equal([]);
        expect(report.valid).to.equal(true);
        expect(check(report, "root.pinned")?.evidence?.actual).to.equal(AWS_NITRO_ROOT_G1_SHA256);
        const facts: NitroFacts = report.facts;
        expect(facts.moduleId).to.equal(sample.moduleId);
        expect(facts.timestampMs).to.equal(sample.timestampMs);
        expect(facts.digest).to.equal("SHA384");
        expect(facts.pcrs?.["0"]).to.equal(sample.pcr0);
        expect(facts.pcrs?.["1"]).to.equal(sample.pcr1);
        expect(facts.pcrs?.["2"]).to.equal(sample.pcr2);
        expect(facts.pcrs?.["8"]).to.equal(sample.pcr8);
        expect(facts.publicKey).to.equal(sample.publicKey);
        expect(facts.userData).to.equal(sample.userData);
        expect(facts.nonce).to.equal(sample.nonce);
        expect(facts.debugMode).to.equal(sample.debugMode);
        expect(facts.indefiniteLengthPayload).to.equal(sample.indefiniteLengthPayload);
      });

      it("fails at expiredAt because the enclave certificate has lapsed", () => {
        const report = verifyNitro(document, { at: sample.expiredAt, policy: { debugAllowed: true } });
        expect(report.valid).to.equal(false);
        expect(report.failedCheck).to.equal("chain.certificate");
        expect(check(report, "chain.certificate")?.detail).to.match(/expired/);
        expect(check(report, "cose.signature")?.ok, "the signature itself still verifies").to.equal(true);
      });

      it("fails when a byte of the signed payload is flipped", () => {
        const payloadStart = offsetOf(document, new Decoder({ mapsAsObjects: false }).decode(document)[2]);
        const pcr0 = offsetOf(document, Buffer.from(sample.pcr0, "hex"));
        const moduleId = offsetOf(document, Buffer.from(sample.moduleId, "utf8"));
        // Inside PCR0 and module_id the payload still decodes: only the signature can catch it.
        for (const offset of [pcr0 + 5, moduleId + 3]) {
          const report = verifyNitro(flipByte(document, offset), { at: sample.verifyAt, policy: { debugAllowed: true } });
          expect(report.valid, `offset ${offset}`).to.equal(false);
          expect(report.failedCheck, `offset ${offset}`).to.equal("cose.signature");
        }
        // Anywhere else in the payload (structure, certificates, timestamp), something must fail.
        const end = payloadStart + 4000;
        for (const offset of [payloadStart, payloadStart + 1, payloadStart + 300, payloadStart + 1500, end]) {
          const report = verifyNitro(flipByte(document, offset), { at: sample.verifyAt, policy: { debugAllowed: true } });
          expect(report.valid, `offset ${offset}`).to.equal(false);
        }
      });

      it("fails when the protected header is altered", () => {
        const report = verifyNitro(flipByte(document, 5), { at: sample.verifyAt, policy: { debugAllowed: true } });
        expect(report.valid).to.equal(false);
        expect(report.failedCheck).to.equal("cose.algorithm");
      });
    });
  }

  it("flags the debug-mode document (all-zero PCRs) and rejects it under the default policy", () => {
    const sample = manifest.nitro.find((s) => s.debugMode)!;
    const report = verifyEvidence({ format: "nitro", evidence: sampleBytes(sample.file), at: sample.verifyAt });
    expect(report.valid).to.equal(false);
    expect((report.facts as NitroFacts).debugMode).to.equal(true);
    expect(report.failedCheck).to.equal("policy.debug");
    expect(check(report, "policy.debug")?.detail).to.match(/PCR0, PCR1 and PCR2 are all zero/);
    expect(check(report, "cose.signature")?.ok).to.equal(true);
  });

  it("accepts a production document under the default policy and rejects a wrong PCR0", () => {
    const sample = manifest.nitro.find((s) => s.file.includes("marlin-2024-04-10"))!;
    const evidence = sampleBytes(sample.file);
    expect(verifyEvidence({ format: "nitro", evidence, at: sample.verifyAt }).valid).to.equal(true);
    const good = verifyNitro(evidence, { at: sample.verifyAt, policy: { pcrs: { "0": sample.pcr0, "1": sample.pcr1, "2": `0x${sample.pcr2.toUpperCase()}` } } });
    expect(check(good, "policy.pcrs")?.ok).to.equal(true);
    const bad = verifyNitro(evidence, { at: sample.verifyAt, policy: { pcrs: { "0": "00".repeat(48) } } });
    expect(bad.valid).to.equal(false);
    expect(bad.failedCheck).to.equal("policy.pcrs");
  });

  it("binds the enclave signer carried as a 20-byte address in user_data", () => {
    const sample = manifest.nitro.find((s) => s.indefiniteLengthPayload)!;
    const signer = `0x${sample.userData}`;
    const report = verifyNitro(sampleBytes(sample.file), { at: sample.verifyAt, policy: { enclaveSigner: signer } });
    expect(report.valid).to.equal(true);
    expect(check(report, "policy.enclave-signer")?.detail).to.match(/user_data binds/);
    const other = verifyNitro(sampleBytes(sample.file), { at: sample.verifyAt, policy: { enclaveSigner: "0x000000000000000000000000000000000000dEaD" } });
    expect(other.failedCheck).to.equal("policy.enclave-signer");
  });

  it("enforces the maximum age relative to the audit time", () => {
    const sample = manifest.nitro[0];
    const fresh = verifyNitro(sampleBytes(sample.file), { at: sample.verifyAt, policy: { maxAgeSeconds: 300 } });
    expect(check(fresh, "policy.max-age")?.ok).to.equal(true);
    const stale = verifyNitro(sampleBytes(sample.file), { at: sample.verifyAt, policy: { maxAgeSeconds: 30 } });
    expect(stale.failedCheck).to.equal("policy.max-age");
  });
});

describe("Nitro verifier on synthetic documents from a test CA", () => {
  const T = 1_750_000_000;
  let ca: NitroTestCa;
  before(() => {
    ca = createNitroTestCa();
  });
  const verify = (bytes: Uint8Array, extra: Partial<Parameters<typeof verifyNitro>[1]> = {}) =>
    verifyNitro(bytes, { at: T + 60, trustAnchor: ca.root.pem, ...extra });

  for (const indefinite of [false, true]) {
    for (const tagged of [false, true]) {
      it(`verifies ${indefinite ? "an indefinite" : "a definite"}-length payload, ${tagged ? "tagged 18" : "untagged"}`, () => {
        const doc = createNitroDocument(ca, { timestamp: T, indefinite, tagged });
        const report = verify(doc.bytes);
        expect(failed(report)).to.deep.equal([]);
        expect(report.facts.indefiniteLengthPayload).to.equal(indefinite);
        expect(report.facts.pcrs).to.deep.equal(doc.pcrs);
        expect(report.checks.map((c) => c.name)).to.include.members(["chain.cabundle[1]", "chain.cabundle[2]", "chain.certificate"]);
      });
    }
  }

  it("verifies the signature over the payload bytes as received, never a re-encoding", () => {
    const doc = createNitroDocument(ca, { timestamp: T, indefinite: true });
    expect(verify(doc.bytes).valid).to.equal(true);
    // The same map written with definite length: same content, different bytes, same signature.
    const outer = new Decoder({ mapsAsObjects: false }).decode(doc.bytes) as Uint8Array[];
    const payload = new Decoder({ mapsAsObjects: false }).decode(outer[2]) as Map<string, unknown>;
    const reencoded = encodeCbor([outer[0], new Map(), encodeCbor(payload as never), outer[3]]);
    const report = verify(reencoded);
    expect(report.facts.indefiniteLengthPayload).to.equal(false);
    expect(report.failedCheck).to.equal("cose.signature");
  });

  it("fails when any of several payload bytes is flipped", () => {
    const doc = createNitroDocument(ca, { timestamp: T });
    const pcr3 = offsetOf(doc.bytes, Buffer.from(doc.pcrs["3"], "hex"));
    expect(verify(flipByte(doc.bytes, pcr3 + 7)).failedCheck).to.equal("cose.signature");
    for (const offset of [doc.payloadStart + 2, doc.payloadStart + 200, doc.payloadStart + 900, doc.payloadEnd - 1]) {
      expect(verify(flipByte(doc.bytes, offset)).valid, `offset ${offset}`).to.equal(false);
    }
  });

  it("fails a signature made by another enclave key", () => {
    const doc = createNitroDocument(ca, { timestamp: T });
    const other = createNitroDocument(ca, { timestamp: T });
    const swapped = Buffer.concat([doc.bytes.subarray(0, doc.bytes.length - 96), other.bytes.subarray(other.bytes.length - 96)]);
    expect(verify(swapped).failedCheck).to.equal("cose.signature");
  });

  it("fails unless cabundle[0] is the pinned root (the real AWS root by default)", () => {
    const doc = createNitroDocument(ca, { timestamp: T });
    const report = verifyNitro(doc.bytes, { at: T + 60 });
    expect(report.failedCheck).to.equal("root.pinned");
    expect(check(report, "root.pinned")?.evidence?.pinned).to.equal(AWS_NITRO_ROOT_G1_SHA256);
  });

  it("fails a document whose enclave certificate was issued by another CA", () => {
    const foreign = createNitroTestCa();
    const enclave = issueCertificate({ commonName: "rogue enclave", issuer: foreign.intermediates[1], notBefore: T - 3600, notAfter: T + 3600, ca: false });
    const doc = createNitroDocument(ca, { timestamp: T, enclaveCertificate: enclave });
    const report = verify(doc.bytes);
    expect(report.failedCheck).to.equal("chain.certificate");
    expect(check(report, "cose.signature")?.ok).to.equal(true);
  });

  it("fails before the enclave certificate is valid and after it expires", () => {
    const doc = createNitroDocument(ca, { timestamp: T });
    expect(verify(doc.bytes, { at: T - 7200 }).failedCheck).to.equal("chain.certificate");
    expect(verify(doc.bytes, { at: T + 4 * 3600 }).failedCheck).to.equal("chain.certificate");
  });

  it("flags all-zero PCRs as debug mode", () => {
    const doc = createNitroDocument(ca, { timestamp: T, debug: true });
    const report = verify(doc.bytes);
    expect(report.facts.debugMode).to.equal(true);
    expect(report.failedCheck).to.equal("policy.debug");
    expect(verify(doc.bytes, { policy: { debugAllowed: true } }).valid).to.equal(true);
  });

  it("binds the signer as keccak256(address) in public_key, and checks the nonce", () => {
    const signer = "0x1111111111111111111111111111111111111111";
    const nonce = Buffer.from("0123456789abcdef", "hex");
    const doc = createNitroDocument(ca, { timestamp: T, publicKey: Buffer.from(keccak256(signer).slice(2), "hex"), nonce });
    const report = verify(doc.bytes, { policy: { enclaveSigner: signer, nonce: "0x0123456789ABCDEF" } });
    expect(failed(report)).to.deep.equal([]);
    expect(check(report, "policy.enclave-signer")?.detail).to.match(/public_key binds .* \(keccak256 of the address\)/);
    expect(verify(doc.bytes, { policy: { nonce: "00" } }).failedCheck).to.equal("policy.nonce");
  });

  it("names the failed structural check and lists the rest as not evaluated", () => {
    const report = verify(Buffer.from("not cbor at all"));
    expect(report.valid).to.equal(false);
    expect(report.failedCheck).to.equal("cose.structure");
    const skipped = report.checks.filter((c) => c.skipped).map((c) => c.name);
    expect(skipped).to.include.members(["cose.signature", "root.pinned", "chain.certificate", "policy.debug"]);
  });

  it("rejects trailing bytes after the COSE structure", () => {
    const doc = createNitroDocument(ca, { timestamp: T });
    expect(verify(Buffer.concat([doc.bytes, Buffer.from([0])])).failedCheck).to.equal("cose.structure");
  });
});
