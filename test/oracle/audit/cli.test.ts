import { expect } from "chai";
import { spawnSync } from "child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join, resolve } from "path";
import { createNitroDocument, createNitroTestCa } from "../../fixtures/evidence";
import { runAudit, type CliRun } from "./cli-io";
import { describeWithSamples, samplePath } from "./samples";

const ROOT = resolve(__dirname, "../../..");

/** Runs `oracle audit <args>` in process, with the real command definitions. */
const audit = (...args: string[]): Promise<CliRun> => runAudit(args);

/** Runs the real launcher in a child process. */
function launcher(...args: string[]): CliRun {
  const child = spawnSync(process.execPath, [join(ROOT, "bin/oracle"), "audit", ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { code: child.status ?? -1, out: child.stdout, err: child.stderr };
}

describe("oracle audit verify-evidence (CLI)", function () {
  this.timeout(60_000);
  const T = 1_750_000_000;
  let dir: string;
  let synthetic: string;
  let anchor: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "audit-cli-"));
    synthetic = join(dir, "synthetic.cbor");
    anchor = join(dir, "test-root.pem");
    const ca = createNitroTestCa();
    writeFileSync(synthetic, createNitroDocument(ca, { timestamp: T }).bytes);
    writeFileSync(anchor, ca.root.pem);
  });

  it("exits 1 and names the failed check for evidence that does not chain to the pinned root", async () => {
    const run = await audit("verify-evidence", "--format", "nitro", "--file", synthetic, "--at", String(T + 60));
    expect(run.code).to.equal(1);
    expect(run.out).to.match(/^nitro evidence: INVALID at /);
    expect(run.out).to.include("first failed check: root.pinned");
    expect(run.out).to.match(/  FAIL  root\.pinned +cabundle\[0\] is not the pinned AWS Nitro root G1/);
    expect(run.out).to.match(/  PASS  cose\.signature /);
  });

  it("prints the report as JSON with --json and writes HTML with --html", async () => {
    const html = join(dir, "report.html");
    const run = await audit("verify-evidence", "--format", "nitro", "--file", synthetic, "--at", String(T + 60), "--json", "--html", html);
    expect(run.code).to.equal(1);
    const report = JSON.parse(run.out);
    expect(report).to.include({ format: "nitro", valid: false, at: T + 60, failedCheck: "root.pinned" });
    expect(report.checks.length).to.be.greaterThan(8);
    expect(readFileSync(html, "utf8")).to.match(/^<!doctype html>[\s\S]*✘ INVALID/);
    expect(run.err).to.equal(`HTML report written to ${html}\n`);
  });

  const usageCases: [string, string[], RegExp][] = [
    ["--format is missing", ["--file", "x"], /required option '--format <format>' not specified/],
    ["the format is unknown", ["--format", "tpm", "--file", "x"], /Allowed choices are dev, nitro, dcap, sev-snp/],
    ["--at is not unix seconds", ["--format", "nitro", "--file", "x", "--at", "yesterday"], /give the time as unix seconds/],
    ["the file cannot be read", ["--format", "nitro", "--file", "/nonexistent/doc.cbor"], /cannot read --file \/nonexistent\/doc\.cbor/],
    ["dcap has no --collateral", ["--format", "dcap", "--file", "QUOTE"], /--collateral is required for --format dcap/],
    ["sev-snp has no --collateral", ["--format", "sev-snp", "--file", "QUOTE"], /--collateral is required for --format sev-snp/],
    ["nitro is given --collateral", ["--format", "nitro", "--file", "QUOTE", "--collateral", "QUOTE"], /--format nitro takes no --collateral; remove it/],
    ["the dcap collateral is not JSON", ["--format", "dcap", "--file", "QUOTE", "--collateral", "QUOTE"], /--collateral .*DCAP collateral is not JSON/],
    ["the policy file is invalid", ["--format", "nitro", "--file", "QUOTE", "--policy", "BADPOLICY"], /policy file .*debugAllowed: Expected boolean/],
    ["an unknown option is given", ["--format", "nitro", "--file", "QUOTE", "--trust-me"], /unknown option '--trust-me'/],
  ];
  for (const [why, args, message] of usageCases) {
    it(`exits 2 with a message saying what to fix when ${why}`, async () => {
      const badPolicy = join(dir, "bad-policy.json");
      writeFileSync(badPolicy, JSON.stringify({ debugAllowed: "no" }));
      const resolved = args.map((a) => (a === "QUOTE" ? synthetic : a === "BADPOLICY" ? badPolicy : a));
      const run = await audit("verify-evidence", ...resolved);
      expect(run.code).to.equal(2);
      expect(run.err).to.match(message);
      expect(run.out).to.equal("");
    });
  }

  it("exits 0 for evidence that chains to the root given with --trust-anchor", async () => {
    const run = await audit("verify-evidence", "--format", "nitro", "--file", synthetic, "--at", String(T + 60), "--trust-anchor", anchor);
    expect(run.code, run.out).to.equal(0);
    expect(run.out).to.match(/^nitro evidence: VALID at /);
    expect(run.out).to.match(/  PASS  root\.pinned +cabundle\[0\] is the pinned trust anchor "test\.nitro-enclaves"/);
  });

  it("exits 2 when --trust-anchor is not a certificate for a certificate-based format", async () => {
    const run = await audit("verify-evidence", "--format", "nitro", "--file", synthetic, "--trust-anchor", synthetic);
    expect(run.code).to.equal(2);
    expect(run.err).to.match(/trust anchor for AWS Nitro root G1 is not a certificate/);
  });

  it("hands --format dev to the development platform's verifier", async () => {
    const run = await audit("verify-evidence", "--format", "dev", "--file", synthetic, "--at", String(T));
    expect(run.code).to.equal(1);
    expect(run.out).to.match(/^dev evidence: INVALID at /);
  });

  it("exits 0 for --help", async () => {
    const run = await audit("verify-evidence", "--help");
    expect(run.code).to.equal(0);
    expect(run.out).to.include("--format <format>");
  });

  it("exits 2 through bin/oracle for bad usage (a real process exit code)", () => {
    const usage = launcher("verify-evidence", "--format", "dcap", "--file", synthetic);
    expect(usage.code).to.equal(2);
    expect(usage.err).to.include("error: --collateral is required for --format dcap");
  });

  it("exits 1 through `npm run oracle -- audit verify-evidence` for invalid evidence", () => {
    const child = spawnSync("npm", ["run", "--silent", "oracle", "--", "audit", "verify-evidence", "--format", "nitro", "--file", synthetic, "--at", String(T + 60)], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(child.status, child.stderr).to.equal(1);
    expect(child.stdout).to.include("first failed check: root.pinned");
  });
});

describeWithSamples("oracle audit verify-evidence on real samples (CLI)", (manifest) => {
  it("exits 0 for a valid Nitro document and prints its PCRs", async () => {
    const sample = manifest.nitro.find((s) => !s.debugMode)!;
    const run = await audit("verify-evidence", "--format", "nitro", "--file", samplePath(sample.file), "--at", String(sample.verifyAt));
    expect(run.code, run.out).to.equal(0);
    expect(run.out).to.match(/^nitro evidence: VALID at /);
    expect(run.out).to.include(sample.pcr0);
  });

  it("exits 0 for a DCAP quote with collateral, and 1 for the outdated TDX quote naming NoMatchingTcbLevel", async () => {
    const good = manifest.dcap.find((s) => s.tcbStatus === "UpToDate")!;
    const ok = await audit("verify-evidence", "--format", "dcap", "--file", samplePath(good.file), "--collateral", samplePath(good.collateral), "--at", String(good.verifyAt));
    expect(ok.code).to.equal(0);
    const outdated = manifest.dcap.find((s) => s.tcbStatus === "NoMatchingTcbLevel")!;
    const bad = await audit("verify-evidence", "--format", "dcap", "--file", samplePath(outdated.file), "--collateral", samplePath(outdated.collateral), "--at", String(outdated.verifyAt));
    expect(bad.code).to.equal(1);
    expect(bad.out).to.include("first failed check: qvl.tcb-level");
    expect(bad.out).to.include("TCB status NoMatchingTcbLevel");
  });

  it("exits 0 for the SEV-SNP report with collateral and a policy file allowing its debug guest", async () => {
    const sample = manifest.sevSnp[0];
    const dir = mkdtempSync(join(tmpdir(), "audit-cli-snp-"));
    const collateral = join(dir, "collateral.json");
    writeFileSync(collateral, JSON.stringify({ vcek: samplePath(sample.vcek), askArk: samplePath(sample.askArk) }));
    const policy = join(dir, "policy.json");
    writeFileSync(policy, JSON.stringify({ debugAllowed: true, measurement: sample.measurement }));
    const at = String(Date.UTC(2022, 8, 24, 1, 0, 0) / 1000);
    const run = await audit("verify-evidence", "--format", "sev-snp", "--file", samplePath(sample.file), "--collateral", collateral, "--policy", policy, "--at", at);
    expect(run.code, run.out).to.equal(0);
    expect(run.out).to.match(/  PASS  policy\.measurement /);
    const strict = await audit("verify-evidence", "--format", "sev-snp", "--file", samplePath(sample.file), "--collateral", collateral, "--at", at);
    expect(strict.code).to.equal(1);
    expect(strict.out).to.include("first failed check: policy.debug");
  });
});
