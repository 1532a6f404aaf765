/**
 * What an operator reads when something is wrong: advice that is never cut, metric names that
 * standard Node.js dashboards find, and usage errors (exit 2) for ids that are not a uint256.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { shortError } from "../../../oracle/src/chain/retry";
import { SubmitError } from "../../../oracle/src/chain/submitter";
import { createMetrics } from "../../../oracle/src/metrics";
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

  it("oracle audit verify-result --request 2^256 is a usage error (exit 2) with a message, not a broken link", async () => {
    const tooBig = (1n << 256n).toString();
    const res = await run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "audit", "verify-result", "--network", "localhost", "--request", tooBig], { cwd: REPO_ROOT })
      .then(() => ({ code: 0, stderr: "" }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    expect(res.code).to.equal(2);
    expect(res.stderr).to.include("a request id is a uint256: at most 2^256-1");
    expect(res.stderr).to.not.include("BUFFER_OVERRUN");
  });
});
