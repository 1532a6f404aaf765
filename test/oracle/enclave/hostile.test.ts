/**
 * Untrusted models cannot hurt the node, and a host cannot change what the runner signs.
 * Hostile models are built here: a huge tensor, an unknown operator, a file that is not ONNX.
 */
import { expect } from "chai";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { EnclaveHost } from "../../../oracle/src/enclave/host";
import { createDevPlatform } from "../../../oracle/src/enclave/platform";
import { ModelQuarantinedError, ModelRejectedError } from "../../../oracle/src/enclave/errors";
import { encodeInput } from "../../../oracle/src/models/codec";
import { readModelSpec } from "../../../oracle/src/models/spec";
import { ResultStatus } from "../../../oracle/src/protocol";
import { sha256Hex } from "../../../oracle/src/protocol/bytes";
import { affineModel, hugeTensorModel, notOnnx, unknownOpModel } from "../models/hostile-fixtures";
import { forkRawRunner, models, nextMessage, repoRoot, sampleInput } from "./helpers";

const CHAIN_ID = 31337n;
const ORACLE = "0x" + "5a".repeat(20);

describe("hostile models in the runner", function () {
  this.timeout(180_000);
  let dir: string;
  let host: EnclaveHost;
  const good = affineModel("good-neighbour");
  const huge = hugeTensorModel(400_000_000); // 1.6 GB of float32 at run time
  const unknownOp = unknownOpModel();
  const junk = notOnnx();
  const input = encodeInput([2], readModelSpec(good));

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hostile-"));
    for (const bytes of [good, huge, unknownOp, junk]) writeFileSync(path.join(dir, sha256Hex(bytes).slice(2) + ".onnx"), bytes);
    host = await EnclaveHost.start({
      platform: createDevPlatform(), chainId: CHAIN_ID, oracleAddress: ORACLE, modelsDir: dir,
      limits: { maxRunnerMemoryMb: 768, timeoutMs: 20_000 },
    });
  });
  after(async () => {
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a file that is not ONNX and an unknown operator as MODEL_REJECTED (permanent), and keeps serving", async () => {
    const e1 = await host.infer({ requestId: 1n, modelHash: sha256Hex(junk), input }).catch((e) => e);
    expect(e1).to.be.instanceOf(ModelRejectedError);
    expect(e1.transient).to.equal(false);
    expect(e1.message).to.match(/not an ONNX model/);
    const e2 = await host.infer({ requestId: 2n, modelHash: sha256Hex(unknownOp), input }).catch((e) => e);
    expect(e2).to.be.instanceOf(ModelRejectedError);
    expect(e2.message).to.match(/onnxruntime refused the model/);
    expect((await host.infer({ requestId: 3n, modelHash: sha256Hex(good), input })).status).to.equal(ResultStatus.Ok);
  });

  it("a model that explodes memory hits the runner's memory cap, is quarantined on its second failure, and the runner serves the next model", async () => {
    const hash = sha256Hex(huge);
    const first = await host.infer({ requestId: 4n, modelHash: hash, input }).catch((e) => e);
    expect(first.transient, String(first)).to.equal(true); // one failure may be the machine's fault
    expect(host.quarantined().has(hash)).to.equal(false);
    const err = await host.infer({ requestId: 4n, modelHash: hash, input }).catch((e) => e);
    expect(err, String(err)).to.be.instanceOf(ModelQuarantinedError);
    expect(err.message).to.match(/INFERENCE_FAILED|RUNNER_CRASHED/);
    expect(err.transient).to.equal(false);
    expect(host.quarantined().has(hash)).to.equal(true);
    const ok = await host.infer({ requestId: 6n, modelHash: sha256Hex(good), input });
    expect(ok.status).to.equal(ResultStatus.Ok);
    expect(BigInt("0x" + ok.output.slice(-64))).to.equal(5000n); // 2·2 + 1 at 3 decimals
    // Declined by the host from now on: the runner never sees it again, so it neither crashes nor restarts.
    const [pid, restarts] = [host.runnerPid, host.restarts];
    for (const requestId of [7n, 8n]) {
      expect(await host.infer({ requestId, modelHash: hash, input }).catch((e) => e)).to.be.instanceOf(ModelQuarantinedError);
    }
    expect(host.runnerPid, "the same runner process").to.equal(pid).and.not.equal(undefined);
    expect(host.restarts, "no restart").to.equal(restarts);
  });

  it("a batch mixing a suspect model with others is refused as a whole (permanent), so each job runs alone", async () => {
    const hash = sha256Hex(huge);
    // quarantined by the test above: a batch with it fails as a whole, permanently
    const mixed = await host.inferBatch([{ requestId: 31n, modelHash: sha256Hex(good), input }, { requestId: 32n, modelHash: hash, input }]).catch((e) => e);
    expect(mixed.transient).to.equal(false);
    expect(mixed.code).to.be.oneOf(["SUSPECT_MODEL_BATCH", "MODEL_QUARANTINED"]);
    const alone = await host.inferBatch([{ requestId: 31n, modelHash: sha256Hex(good), input }]);
    expect(alone.results[0].status).to.equal(ResultStatus.Ok);
  });
});

describe("a host cannot change what the runner signs", function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), "lying-host-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a models folder whose catalogue lies about decimals, shapes and encoding gives the same signed output", async () => {
    const lying = path.join(dir, "models");
    cpSync(path.join(repoRoot, "models"), lying, { recursive: true });
    const catalogue = JSON.parse(readFileSync(path.join(lying, "manifest.json"), "utf8"));
    for (const m of catalogue.models) {
      m.decimals = 2;
      m.input.shape = [1, 1];
      m.input.encoding = "packed-int8";
    }
    writeFileSync(path.join(lying, "manifest.json"), JSON.stringify(catalogue));
    const honestHost = await EnclaveHost.start({ platform: createDevPlatform(), chainId: CHAIN_ID, oracleAddress: ORACLE });
    const lyingHost = await EnclaveHost.start({ platform: createDevPlatform(), chainId: CHAIN_ID, oracleAddress: ORACLE, modelsDir: lying });
    try {
      for (const m of models) {
        const job = { requestId: 9n, modelHash: m.sha256, input: sampleInput(m) };
        const a = await honestHost.infer(job);
        const b = await lyingHost.infer(job);
        expect(b.status, m.name).to.equal(a.status);
        expect(b.output, m.name).to.equal(a.output);
        expect(b.outputHash, m.name).to.equal(a.outputHash);
        expect(b.inputHash, m.name).to.equal(a.inputHash);
      }
    } finally {
      await honestHost.close();
      await lyingHost.close();
    }
  });

  it("refuses an init or infer message that carries a model parameter (decimals, shape, encoding)", async () => {
    const child = forkRawRunner();
    try {
      await nextMessage(child, (m) => m.type === "ready");
      const lyingInit = nextMessage(child, (m) => m.id === 1);
      child.send({ type: "init", id: 1, chainId: CHAIN_ID, oracleAddress: ORACLE, modelsDir: path.join(repoRoot, "models"), decimals: 2 });
      expect(await lyingInit).to.include({ ok: false, code: "BAD_REQUEST" });
      const init = nextMessage(child, (m) => m.id === 2);
      child.send({ type: "init", id: 2, chainId: CHAIN_ID, oracleAddress: ORACLE, modelsDir: path.join(repoRoot, "models") });
      expect(await init).to.include({ ok: true });
      const m = models[0];
      const input = Buffer.from(sampleInput(m).slice(2), "hex");
      const infer = nextMessage(child, (x) => x.id === 3);
      child.send({
        type: "infer", id: 3, mode: "single", count: 1, requestIds: new Uint8Array(32), modelHashes: Buffer.from(m.sha256.slice(2), "hex"),
        inputs: input, inputEnds: Uint32Array.of(input.length), decimals: 0, shape: [1, 4], encoding: "packed-int8",
      });
      const reply = await infer;
      expect(reply).to.include({ ok: false, code: "BAD_REQUEST" });
      expect(reply.message).to.match(/takes no decimals, shape, encoding/);
    } finally {
      child.kill();
    }
  });
});
