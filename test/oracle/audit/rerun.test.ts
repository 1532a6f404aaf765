/**
 * The auditor re-runs the request's model to compare outputs, and the model is its publisher's
 * upload: it runs in a child process under a memory and a time limit, never in the auditor's (or
 * the console's node's) own process. Attacks: a model that needs gigabytes, one that runs too long.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { RerunError, rerunModel } from "../../../oracle/src/audit/result/rerun";
import { encodeInput } from "../../../oracle/src/models/codec";
import { readModelSpec } from "../../../oracle/src/models/spec";
import { ResultStatus } from "../../../oracle/src/protocol";
import { sha256Hex } from "../../../oracle/src/protocol/bytes";
import { affineModel, hugeTensorModel } from "../models/hostile-fixtures";

describe("an audit's model re-run (a capped child process)", function () {
  this.timeout(120_000);
  let dir: string;
  const good = affineModel("rerun-good");
  const huge = hugeTensorModel(400_000_000); // 1.6 GB of float32 at run time
  const input = encodeInput([2], readModelSpec(good));

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "rerun-"));
    for (const bytes of [good, huge]) writeFileSync(path.join(dir, sha256Hex(bytes).slice(2) + ".onnx"), bytes);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("gives the model's encoded output, as the runner encodes it", async () => {
    const r = await rerunModel(dir, sha256Hex(good), input);
    expect(r.status).to.equal(ResultStatus.Ok);
    expect(BigInt("0x" + r.output.slice(-64))).to.equal(5000n); // 2·2 + 1 at 3 decimals
  });

  it("a model that needs more than the memory limit fails the re-run, not this process, and the next re-run works", async () => {
    const rssBefore = process.memoryUsage().rss;
    const err = await rerunModel(dir, sha256Hex(huge), input, { memoryMb: 768, timeoutMs: 60_000 }).then(() => undefined, (e: Error) => e);
    expect(err, "the re-run of a 1.6 GB model under 768 MiB").to.be.instanceOf(RerunError);
    expect(process.memoryUsage().rss - rssBefore, "this process did not take the model's memory").to.be.below(500 * 1024 * 1024);
    const r = await rerunModel(dir, sha256Hex(good), input, { memoryMb: 768, timeoutMs: 60_000 });
    expect(r.status).to.equal(ResultStatus.Ok);
  });

  it("a re-run that overruns its time limit is killed and named", async () => {
    const err = await rerunModel(dir, sha256Hex(huge), input, { memoryMb: 8192, timeoutMs: 50 }).then(() => undefined, (e: Error) => e);
    expect(err).to.be.instanceOf(RerunError);
    expect(err!.message).to.match(/did not finish re-running within 50 ms \(killed\)/);
    expect((await rerunModel(dir, sha256Hex(good), input)).status).to.equal(ResultStatus.Ok);
  });
});
