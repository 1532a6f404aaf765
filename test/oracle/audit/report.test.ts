import { expect } from "chai";
import { CheckList, formatReportText, renderHtmlReport, verifyNitro, type VerificationReport } from "../../../oracle/src/audit";
import { createNitroDocument, createNitroTestCa, type NitroTestCa } from "../../fixtures/evidence";

describe("audit reports (HTML and words)", () => {
  const T = 1_750_000_000;
  let ca: NitroTestCa;
  let valid: VerificationReport;
  let invalid: VerificationReport;
  before(() => {
    ca = createNitroTestCa();
    const doc = createNitroDocument(ca, { timestamp: T });
    valid = verifyNitro(doc.bytes, { at: T + 60, trustAnchor: ca.root.pem, policy: { pcrs: { "0": doc.pcrs["0"] } } });
    invalid = verifyNitro(doc.bytes, { at: T + 5 * 3600, trustAnchor: ca.root.pem });
  });

  it("renders a self-contained page: inline CSS, no scripts, no external assets", () => {
    const html = renderHtmlReport(valid);
    expect(html.startsWith("<!doctype html>")).to.equal(true);
    expect(html).to.include("<style>");
    expect(html).to.not.match(/<script|<link|<img|<iframe|url\(|@import/i);
    expect(html).to.not.match(/(src|href)="(https?:)?\/\//i);
  });

  it("shows the verdict, every check with its evidence, and the facts", () => {
    const html = renderHtmlReport(valid);
    expect(html).to.include("✔ VALID");
    for (const check of valid.checks) expect(html).to.include(`id="check-${check.name.replace(/[^a-zA-Z0-9-]/g, "_")}"`);
    expect(html).to.include("every check passed");
    expect(html).to.include(valid.facts && (valid.facts as { moduleId: string }).moduleId);
    expect(html).to.include("<dt>sha256</dt>");
  });

  it("draws the chain of trust from the root to the signer, each box linked to its check", () => {
    const html = renderHtmlReport(valid);
    const roles = [...html.matchAll(/<div class="role">([^<]+)</g)].map((m) => m[1]);
    expect(roles).to.deep.equal(["pinned root", "intermediate", "intermediate", "leaf certificate", "evidence", "measurement", "enclave signer"]);
    expect(html).to.include('href="#check-root_pinned"');
    expect(html).to.include('href="#check-cose_signature"');
    expect(html).to.match(/class="node none"[^>]*title="Enclave signer: not checked/);
  });

  it("marks an invalid report and its first failure", () => {
    const html = renderHtmlReport(invalid);
    expect(html).to.include("✘ INVALID");
    expect(html).to.include(`first failure: <a href="#check-chain_certificate">`);
    expect(html).to.match(/<tr id="check-chain_certificate" class="fail">/);
    expect(html).to.match(/class="node fail"[^>]*title="Enclave certificate: failed/);
  });

  it("escapes text that comes from the evidence", () => {
    const checks = new CheckList();
    checks.fail("x.<b>", `subject "<script>alert(1)</script>" & more`, { note: "<img src=x>" });
    const report = checks.finish({ format: "nitro", at: T, facts: { moduleId: "<i>id</i>" }, chain: [{ role: "root", title: "<root>", subtitle: "'q'", ok: false }] });
    const html = renderHtmlReport(report);
    expect(html).to.not.include("<script>alert");
    expect(html).to.not.include("<img src=x>");
    expect(html).to.not.include("<i>id</i>");
    expect(html).to.include("subject &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot; &amp; more");
  });

  it("says every check in words, with the evidence of the failed ones", () => {
    const text = formatReportText(invalid);
    expect(text.split("\n")[0]).to.match(/^nitro evidence: INVALID at 2025-06-15T20:06:40Z \(unix 1750018000\)$/);
    expect(text).to.include("first failed check: chain.certificate");
    for (const check of invalid.checks) expect(text).to.match(new RegExp(`  (PASS|FAIL|SKIP)  ${check.name.replace(/[[\]]/g, "\\$&")}\\s`));
    expect(text).to.match(/notAfter: 2025-06-15T18:06:40Z/);
    expect(text).to.match(/\n  pcrs\.0 +0101/);
  });
});
