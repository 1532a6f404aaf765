/**
 * What an operator reads when something is wrong: advice that is never cut, metric names that
 * standard Node.js dashboards find, and usage errors (exit 2) for ids that are not a uint256.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { shortError } from "../../../oracle/src/chain/retry";
import { SubmitError } from "../../../oracle/src/chain/submitter";
import { createMetrics } from "../../../oracle/src/metrics";
import { devAccount, freePort } from "../../../oracle/src/dev/devchain";
import { REPO_ROOT } from "../../../oracle/src/paths";

const run = promisify(execFile);

describe("operator-facing errors", function () {
  this.timeout(60_000);

  it("an unfunded key's long RPC error keeps its whole advice (fund it, or set ORACLE_PRIVATE_KEY)", () => {
    const rpcSays = `Sender doesn't have enough funds to send tx. The max upfront cost is: 3000000000000000 and the sender's account only has: 0 ${"x".repeat(400)}`;
    const advice = " (the sending account 0xabc cannot pay for gas: fund it, or set ORACLE_PRIVATE_KEY to a funded key)";
    const err = new SubmitError(`sending operator transaction failed: ${rpcSays}`, { advice });
    const line = shortError(err);
    expect(line.endsWith(advice), line).to.equal(true);
    expect(line.length).to.be.below(300 + advice.length + 2);
  });

  it("process metrics carry the standard names (process_cpu_seconds_total), not a doubled prefix", async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).to.match(/^process_cpu_seconds_total /m);
    expect(text).to.match(/^nodejs_heap_size_used_bytes /m);
    expect(text).to.not.include("oracle_process_process");
  });

  it("oracle request against a chain that does not answer names the URL and what to fix (exit 1), and sends nothing", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oracle-request-"));
    const deployment = path.join(dir, "localhost.json");
    const zero = "0x" + "11".repeat(20);
    fs.writeFileSync(deployment, JSON.stringify({
      network: "localhost", chainId: 31337, deploymentBlock: 0, contracts: { InferenceOracle: zero, ModelRegistry: zero, EnclaveRegistry: zero },
      models: { "iris-classifier": 1 },
    }));
    const port = await freePort(); // nothing listens there
    const res = await run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "request", "--deployment", deployment, "--model", "iris-classifier", "--input", "5.1,3.5,1.4,0.2"], {
      cwd: REPO_ROOT, env: { ...process.env, RPC_URL: `http://127.0.0.1:${port}`, ORACLE_REQUESTER_KEY: devAccount(12).privateKey },
    }).then(() => ({ code: 0, stderr: "" }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    fs.rmSync(dir, { recursive: true, force: true });
    expect(res.code).to.equal(1);
    expect(res.stderr).to.include(`RPC_URL http://127.0.0.1:${port} does not answer eth_chainId`).and.to.include("start the chain's node or fix RPC_URL");
  });

  it("oracle audit verify-result --request 2^256 is a usage error (exit 2) with a message, not a broken link", async () => {
    const tooBig = (1n << 256n).toString();
    const res = await run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "audit", "verify-result", "--network", "localhost", "--request", tooBig], { cwd: REPO_ROOT })
      .then(() => ({ code: 0, stderr: "" }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    expect(res.code).to.equal(2);
    expect(res.stderr).to.include("a request id is a uint256: at most 2^256-1");
    expect(res.stderr).to.not.include("BUFFER_OVERRUN");
  });
});
