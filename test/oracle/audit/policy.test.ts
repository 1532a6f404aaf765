import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { getAddress } from "ethers";
import {
  DEFAULT_POLICY,
  evaluatePolicy,
  getEvidenceVerifier,
  loadPolicyFile,
  parsePolicy,
  PolicyError,
  registerEvidenceVerifier,
  signerBindingHash,
  UnsupportedFormatError,
  verifyEvidence,
  evidenceVerifiers,
  CheckList,
  type PolicyClaims,
} from "../../../oracle/src/audit";

const at = 1_750_000_000;
const claims = (extra: Partial<PolicyClaims> = {}): PolicyClaims => ({ debug: false, debugReason: "test", ...extra });
const byName = (checks: ReturnType<typeof evaluatePolicy>) => Object.fromEntries(checks.map((c) => [c.name, c]));

describe("audit policy", () => {
  describe("schema", () => {
    it("defaults to: debug not allowed, nothing else required", () => {
      expect(DEFAULT_POLICY).to.deep.equal({ debugAllowed: false });
      expect(evaluatePolicy(claims(), DEFAULT_POLICY, at).map((c) => c.name)).to.deep.equal(["policy.debug"]);
    });

    it("normalises hex (0x, case) and single values to lists, and checksums the signer", () => {
      const policy = parsePolicy({
        measurement: "0xABcd",
        pcrs: { "0": "AA", "8": ["bb", "0xCC"] },
        mrEnclave: ["0x01", "02"],
        enclaveSigner: "0x69553adc61d6e9fcdecbe1ea49bb2b52a60238e0",
        allowedTcbStatuses: ["UpToDate", "SWHardeningNeeded"],
        maxAgeSeconds: 600,
      });
      expect(policy.measurement).to.deep.equal(["abcd"]);
      expect(policy.pcrs).to.deep.equal({ "0": ["aa"], "8": ["bb", "cc"] });
      expect(policy.mrEnclave).to.deep.equal(["01", "02"]);
      expect(policy.enclaveSigner).to.equal(getAddress("0x69553adc61d6e9fcdecbe1ea49bb2b52a60238e0"));
      expect(parsePolicy(policy)).to.deep.equal(policy);
    });

    it("rejects unknown keys, bad hex, bad addresses, PCR indexes out of range and unknown TCB statuses, naming each", () => {
      const cases: [unknown, RegExp][] = [
        [{ debugallowed: true }, /Unrecognized key.*debugallowed/],
        [{ measurement: "xyz" }, /measurement.*hex/],
        [{ measurement: "abc" }, /measurement.*hex/],
        [{ enclaveSigner: "0x1234" }, /enclaveSigner.*Ethereum address/],
        [{ pcrs: { "32": "00" } }, /pcrs.*0-31/],
        [{ allowedTcbStatuses: ["Fine"] }, /allowedTcbStatuses/],
        [{ maxAgeSeconds: -5 }, /maxAgeSeconds/],
      ];
      for (const [input, message] of cases) expect(() => parsePolicy(input), JSON.stringify(input)).to.throw(PolicyError, message);
    });

    it("loads a policy file and says what is wrong with a bad one", () => {
      const dir = mkdtempSync(join(tmpdir(), "audit-policy-"));
      const good = join(dir, "good.json");
      writeFileSync(good, JSON.stringify({ mrTd: "0xAA", debugAllowed: true }));
      expect(loadPolicyFile(good)).to.deep.equal({ mrTd: ["aa"], debugAllowed: true });
      const notJson = join(dir, "bad.json");
      writeFileSync(notJson, "{ nope");
      expect(() => loadPolicyFile(notJson)).to.throw(PolicyError, /is not JSON/);
      const wrong = join(dir, "wrong.json");
      writeFileSync(wrong, JSON.stringify({ debugAllowed: "yes" }));
      expect(() => loadPolicyFile(wrong)).to.throw(PolicyError, /wrong\.json.*debugAllowed/);
      expect(() => loadPolicyFile(join(dir, "missing.json"))).to.throw(PolicyError, /cannot read/);
    });
  });

  describe("evaluation", () => {
    it("passes and fails measurements, PCRs and TCB status by name", () => {
      const policy = parsePolicy({ measurement: "aa", pcrs: { "0": "01", "1": "02" }, allowedTcbStatuses: ["UpToDate"] });
      const pass = byName(evaluatePolicy(claims({ measurement: "aa", pcrs: { "0": "01", "1": "02", "2": "ff" }, tcbStatus: "UpToDate" }), policy, at));
      expect(Object.values(pass).every((c) => c.ok)).to.equal(true);
      const fail = byName(evaluatePolicy(claims({ measurement: "bb", pcrs: { "0": "01", "1": "03" }, tcbStatus: "OutOfDate" }), policy, at));
      expect(fail["policy.measurement"].ok).to.equal(false);
      expect(fail["policy.pcrs"].detail).to.equal("PCR1 differ from the policy's values");
      expect(fail["policy.tcb-status"].detail).to.match(/OutOfDate is not among the allowed UpToDate/);
    });

    it("fails a policy value the evidence cannot show instead of passing it silently", () => {
      const policy = parsePolicy({ mrEnclave: "aa", maxAgeSeconds: 10, enclaveSigner: "0x1111111111111111111111111111111111111111", allowedTcbStatuses: ["UpToDate"] });
      const checks = evaluatePolicy(claims(), policy, at);
      expect(checks.filter((c) => !c.ok).map((c) => c.name)).to.deep.equal(["policy.mr-enclave", "policy.tcb-status", "policy.max-age", "policy.enclave-signer"]);
    });

    it("judges age against the audit time, with 60 s for clock skew", () => {
      const policy = parsePolicy({ maxAgeSeconds: 300 });
      const age = (issuedAt: number) => byName(evaluatePolicy(claims({ issuedAt }), policy, at))["policy.max-age"].ok;
      expect(age(at - 300)).to.equal(true);
      expect(age(at - 301)).to.equal(false);
      expect(age(at + 60)).to.equal(true);
      expect(age(at + 61)).to.equal(false);
    });

    it("binds the signer in report data as keccak256 of the 20 address bytes", () => {
      const signer = "0x69553adc61d6e9fcdecbe1ea49bb2b52a60238e0";
      const hash = signerBindingHash(signer);
      expect(hash).to.have.length(64);
      const policy = parsePolicy({ enclaveSigner: signer });
      const ok = byName(evaluatePolicy(claims({ reportData: hash + "00".repeat(32) }), policy, at));
      expect(ok["policy.enclave-signer"].ok).to.equal(true);
      const bad = byName(evaluatePolicy(claims({ reportData: "00".repeat(32) + hash }), policy, at));
      expect(bad["policy.enclave-signer"].ok).to.equal(false);
    });

    it("rejects debug evidence unless the policy allows it", () => {
      expect(evaluatePolicy(claims({ debug: true }), DEFAULT_POLICY, at)[0].ok).to.equal(false);
      expect(evaluatePolicy(claims({ debug: true }), parsePolicy({ debugAllowed: true }), at)[0].ok).to.equal(true);
    });
  });

  describe("verifier registry", () => {
    it("has Nitro, DCAP, SEV-SNP and dev built in, and refuses a format with no verifier", () => {
      expect([...evidenceVerifiers.keys()]).to.include.members(["nitro", "dcap", "sev-snp", "dev"]);
      const saved = evidenceVerifiers.get("dev");
      evidenceVerifiers.delete("dev");
      try {
        expect(() => verifyEvidence({ format: "dev", evidence: Buffer.alloc(1), at })).to.throw(UnsupportedFormatError, /"dev"/);
      } finally {
        if (saved) evidenceVerifiers.set("dev", saved);
      }
    });

    it("dispatches to a registered dev verifier with the resolved policy and time", () => {
      const saved = evidenceVerifiers.get("dev");
      let seen: { at: number; debugAllowed: boolean } | undefined;
      registerEvidenceVerifier({
        format: "dev",
        description: "test double",
        collateral: "none",
        verify: (input) => {
          seen = { at: input.at, debugAllowed: input.policy.debugAllowed };
          const checks = new CheckList();
          checks.pass("report.signature", "test");
          return checks.finish({ format: "dev", at: input.at, facts: {}, chain: [] });
        },
      });
      try {
        const report = verifyEvidence({ format: "dev", evidence: Buffer.alloc(1), at, policy: { debugAllowed: true } });
        expect(report.valid).to.equal(true);
        expect(seen).to.deep.equal({ at, debugAllowed: true });
        expect(getEvidenceVerifier("dev").description).to.equal("test double");
      } finally {
        if (saved) evidenceVerifiers.set("dev", saved);
        else evidenceVerifiers.delete("dev");
      }
    });
  });
});
