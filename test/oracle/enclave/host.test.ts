import { expect } from "chai";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { serialize } from "node:v8";
import { Writable } from "node:stream";
import pino from "pino";
import { SigningKey, ZeroAddress, computeAddress, getAddress, keccak256, recoverAddress } from "ethers";
import { forkRawRunner, models, nextMessage, otherMeasurementCheckout, repoRoot, sampleInput, writeTracer } from "./helpers";
import { EnclaveHost, type SignedBatch } from "../../../oracle/src/enclave/host";
import { verifyDevEvidence } from "../../../oracle/src/enclave/dev-evidence";
import { createDevPlatform, createDevRoot } from "../../../oracle/src/enclave/platform";
import { measureRunner } from "../../../oracle/src/enclave/measure";
import { unsealKey, type SealedKeyFile } from "../../../oracle/src/enclave/sealing";
import { ResultHasher } from "../../../oracle/src/protocol/eip712";
import { InputTooLargeError, ModelRejectedError, RunnerCrashedError, RunnerMisbehavedError, RunnerTimeoutError } from "../../../oracle/src/enclave/errors";
import type { DevEvidence } from "../../../oracle/src/enclave/backend";
import { batchDigest, decodeReport, oracleDomain, ResultStatus, TeeType } from "../../../oracle/src/protocol";

const CHAIN_ID = 31337n;
const ORACLE = "0x" + "5a".repeat(20);
const domain = oracleDomain(CHAIN_ID, ORACLE);
/** The operator the hosts are configured with: the account that will register their signers. */
const OPERATOR = getAddress("0x" + "0b".repeat(20));

function bigintJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v));
}

describe("enclave host and runner process", function () {
  this.timeout(180_000);
  const root = createDevRoot();
  const platform = createDevPlatform({ root });
  let dir: string;
  let host: EnclaveHost;
  const ipc: Buffer[] = [];
  const ipcText: string[] = [];
  const output: Buffer[] = [];
  const logLines: string[] = [];
  const apiOutput: string[] = [];
  let sealedPath: string;
  let traceFile: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "enclave-host-"));
    sealedPath = path.join(dir, "runner.sealed.json");
    traceFile = path.join(dir, "trace.json");
    const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(chunk.toString()); cb(); } });
    host = await EnclaveHost.start({
      platform,
      operator: OPERATOR.toLowerCase(),
      chainId: CHAIN_ID,
      oracleAddress: ORACLE,
      sealedKeyPath: sealedPath,
      logger: pino({ level: "debug" }, sink),
      testHooks: {
        execArgv: ["-r", writeTracer(dir, traceFile)],
        env: { RUNNER_TRACE: "1" },
        onIpc: (_d, m) => {
          ipc.push(serialize(m));
          ipcText.push(bigintJson(m));
        },
        onOutput: (_s, chunk) => output.push(chunk),
      },
    });
    apiOutput.push(bigintJson(host.attestation()));
  });
  after(async () => {
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is attested by the platform over the measurement the host computed, not one the runner claims", () => {
    const att = host.attestation() as DevEvidence;
    const report = decodeReport(att.report);
    const measured = measureRunner();
    expect(att.format).to.equal("dev");
    expect(report.measurement).to.equal(measured.measurement);
    expect(report.runtime).to.equal(measured.runtime);
    expect(report.enclaveSigner).to.equal(host.signer);
    expect(report.teeType).to.equal(TeeType.DevSimulated);
    const verified = verifyDevEvidence(att, { roots: [root.publicKey], allowedMeasurements: [measured.measurement], expectedSigner: host.signer });
    expect(verified.valid, bigintJson(verified.checks)).to.equal(true);
  });

  it("has the platform bind the operator the host is configured with; the runner never sees it", () => {
    const att = host.attestation() as DevEvidence;
    expect(host.operator).to.equal(OPERATOR);
    expect(att.operator).to.equal(OPERATOR);
    expect(decodeReport(att.report).operator).to.equal(OPERATOR);
    const verified = verifyDevEvidence(att, { roots: [root.publicKey], expectedOperator: OPERATOR });
    expect(verified.valid, bigintJson(verified.checks)).to.equal(true);
    expect(verified.facts.operator).to.equal(OPERATOR);
    const wrong = verifyDevEvidence(att, { roots: [root.publicKey], expectedOperator: ORACLE });
    expect(wrong.failedCheck).to.equal("policy.operator");
    // The operator is the host's configuration, put in the report by the platform: no IPC message carries it.
    expect(ipcText.length).to.be.greaterThan(0);
    for (const text of ipcText) expect(text.toLowerCase()).to.not.include(OPERATOR.slice(2).toLowerCase());
  });

  it("refuses an operator that is not an address, or the zero address, before launching a runner", async () => {
    const sent = ipc.length;
    for (const operator of ["0x1234", "not an address", ZeroAddress]) {
      const err = await EnclaveHost.start({ platform, operator, chainId: CHAIN_ID, oracleAddress: ORACLE }).catch((e) => e);
      expect(err).to.be.instanceOf(Error);
      expect(err.message).to.match(/operator/);
    }
    expect(ipc.length).to.equal(sent);
  });

  for (const entry of models) {
    it(`gives one output hash in 1,000 signed runs of ${entry.name} (batches of 50, one signature each)`, async () => {
      const input = sampleInput(entry);
      const hashes = new Set<string>();
      let id = 0n;
      for (let b = 0; b < 20; b++) {
        const jobs = Array.from({ length: 50 }, () => ({ requestId: ++id, modelHash: entry.sha256, input }));
        const batch: SignedBatch = await host.inferBatch(jobs);
        expect(batch.results).to.have.length(50);
        for (const r of batch.results) {
          expect(r.status).to.equal(ResultStatus.Ok);
          hashes.add(r.outputHash);
        }
        const digest = batchDigest(domain, batch.results);
        expect(recoverAddress(digest, batch.signature)).to.equal(host.signer);
        if (b === 0) apiOutput.push(bigintJson(batch));
      }
      expect([...hashes]).to.have.length(1);
    });
  }

  it("signs a single result over its InferenceResult and returns the output bytes", async () => {
    const entry = models[0];
    const input = sampleInput(entry);
    const r = await host.infer({ requestId: 77n, modelHash: entry.sha256, input });
    apiOutput.push(bigintJson(r));
    expect(r.inputHash).to.equal(keccak256(input));
    expect(r.outputHash).to.equal(keccak256(r.output));
    const digest = new ResultHasher(domain).resultDigest(r);
    expect(recoverAddress(digest, r.signature)).to.equal(host.signer);
    // the runner signs with tiny-secp256k1: its start-up check against ethers passed
    expect(Buffer.concat(output).toString("utf8")).to.not.include("disagrees");
  });

  it("loads no repo file outside the measured set and reads only measured files and model files", async () => {
    await host.close(); // the tracer writes on exit
    const trace = JSON.parse(readFileSync(traceFile, "utf8")) as { modules: string[]; reads: string[]; writes: string[] };
    const measured = new Set(measureRunner().files.map((f) => f.path));
    const inRepo = (p: string) => p.startsWith(repoRoot + path.sep) && !p.includes(`${path.sep}node_modules${path.sep}`);
    const rel = (p: string) => path.relative(repoRoot, p).split(path.sep).join("/");
    const loaded = trace.modules.filter(inRepo).map(rel);
    expect(loaded).to.include("oracle/src/enclave/runner.ts");
    expect(loaded.filter((p) => !measured.has(p)), "repo modules the runner loaded outside the measured set").to.deep.equal([]);
    const read = trace.reads.filter(inRepo).map(rel).filter((p) => !measured.has(p));
    // package.json: Node and ts-node look up the module type of each folder (none sets "type")
    const allowed = (p: string) => /^models\/[^/]+\.onnx$/.test(p) || p === "models" || /(^|\/)package\.json$/.test(p) || !p.includes(".");
    expect(read.filter((p) => !allowed(p)), "repo files the runner read outside the measured set").to.deep.equal([]);
    expect(trace.writes.map((p) => path.resolve(p)).filter((p) => p !== traceFile).every((p) => p.startsWith(sealedPath)), bigintJson(trace.writes)).to.equal(true);
  });

  it("never lets the signing key out: not in IPC, output, logs, files or API results (hex, raw, base64)", () => {
    const sealed = JSON.parse(readFileSync(sealedPath, "utf8")) as SealedKeyFile;
    const measurement = measureRunner().measurement;
    const secret = unsealKey(platform.sealingKey(measurement), measurement, sealed);
    // the unsealed key is the attested signer's: so the search below looks for the right bytes
    expect(computeAddress(new SigningKey(secret).publicKey)).to.equal(apiOutput.length ? JSON.parse(apiOutput[0]).signer : "");
    const forms = [secret.toString("hex"), secret.toString("hex").toUpperCase(), secret.toString("base64"), secret.toString("base64url")];
    const files = readdirSync(dir).map((f) => readFileSync(path.join(dir, f)));
    const haystacks: Buffer[] = [...ipc, ...output, ...files, ...[...ipcText, ...logLines, ...apiOutput].map((t) => Buffer.from(t))];
    expect(ipc.length).to.be.greaterThan(60);
    expect(logLines.length).to.be.greaterThan(0);
    for (const hay of haystacks) {
      expect(hay.includes(secret), "raw key bytes found").to.equal(false);
      for (const form of forms) expect(hay.toString("latin1").includes(form), `key found as ${form.slice(0, 4)}…`).to.equal(false);
    }
    secret.fill(0);
  });
});

describe("the runner's IPC surface", function () {
  this.timeout(60_000);

  it("refuses to sign a digest it is handed, or any operation but init, attest and infer", async () => {
    const child = forkRawRunner();
    try {
      await nextMessage(child, (m) => m.type === "ready");
      const before = nextMessage(child, (m) => m.id === 1);
      child.send({ type: "attest", id: 1 });
      expect(await before).to.include({ ok: false, code: "NOT_INITIALISED" });
      const init = nextMessage(child, (m) => m.id === 2);
      child.send({ type: "init", id: 2, chainId: CHAIN_ID, oracleAddress: ORACLE, modelsDir: path.join(repoRoot, "models") });
      const { signer } = await init;
      const digest = keccak256("0x1234");
      for (const [i, msg] of [
        { type: "sign", digest },
        { type: "signDigest", digest },
        { type: "exportKey" },
        { type: "__proto__" },
        { digest },
      ].entries()) {
        const reply = nextMessage(child, (m) => m.id === 10 + i);
        child.send({ ...msg, id: 10 + i });
        const r = await reply;
        expect(r).to.include({ ok: false, code: "UNKNOWN_OPERATION" });
        expect(r).to.not.have.property("signature");
      }
      // a signature can only come from infer, over a result the runner computed itself
      const entry = models[0];
      const reply = nextMessage(child, (m) => m.id === 20);
      const input = Buffer.from(sampleInput(entry).slice(2), "hex");
      const requestIds = new Uint8Array(32);
      requestIds[31] = 1;
      const job = { mode: "single", count: 1, requestIds, modelHashes: Buffer.from(entry.sha256.slice(2), "hex"), inputs: input, inputEnds: Uint32Array.of(input.length) };
      // an infer carrying a digest to sign is refused outright
      child.send({ type: "infer", id: 20, digest, ...job });
      const refused = await reply;
      expect(refused).to.include({ ok: false, code: "BAD_REQUEST" });
      expect(refused).to.not.have.property("signature");
      const clean = nextMessage(child, (m) => m.id === 21);
      child.send({ type: "infer", id: 21, ...job });
      const r = await clean;
      expect(r.ok).to.equal(true);
      expect(recoverAddress(digest, r.signature)).to.not.equal(signer);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("enclave host limits and recovery", function () {
  this.timeout(180_000);
  const platform = createDevPlatform();
  const entry = models[0];
  const input = sampleInput(entry);
  let host: EnclaveHost;
  const toRunner: unknown[] = [];

  before(async () => {
    host = await EnclaveHost.start({
      platform,
      operator: OPERATOR,
      chainId: CHAIN_ID,
      oracleAddress: ORACLE,
      limits: { timeoutMs: 2_000, maxInputBytes: 1024 },
      testHooks: { slowJob: { requestId: 666n, delayMs: 30_000 }, onIpc: (d, m) => d === "toRunner" && toRunner.push(m) },
    });
  });
  after(() => host?.close());

  it("refuses an oversize input before it reaches the runner, as a permanent error", async () => {
    const big = "0x" + "00".repeat(1025);
    const sent = toRunner.length;
    const err = await host.infer({ requestId: 5n, modelHash: entry.sha256, input: big }).catch((e) => e);
    expect(err).to.be.instanceOf(InputTooLargeError);
    expect(err.transient).to.equal(false);
    expect(err.message).to.match(/1025 bytes exceeds the limit of 1024/);
    expect(toRunner.length).to.equal(sent);
  });

  it("fails a job that runs past its time limit, replaces the runner with a newly keyed one, and runs the next job", async () => {
    const oldSigner = host.signer!;
    const restarted = new Promise<any>((resolve) => host.once("restarted", resolve));
    const err = await host.infer({ requestId: 666n, modelHash: entry.sha256, input }).catch((e) => e);
    expect(err).to.be.instanceOf(RunnerTimeoutError);
    expect(err.transient).to.equal(true);
    const event = await restarted;
    expect(event.previousSigner).to.equal(oldSigner);
    expect(event.signer).to.not.equal(oldSigner);
    expect(decodeReport((event.attestation as DevEvidence).report).enclaveSigner).to.equal(event.signer);
    expect(decodeReport((event.attestation as DevEvidence).report).operator).to.equal(OPERATOR);
    const r = await host.infer({ requestId: 6n, modelHash: entry.sha256, input });
    expect(r.signer).to.equal(event.signer);
    expect(host.restarts).to.equal(1);
  });

  it("fails the job in flight when the runner is SIGKILLed, and the next job succeeds on a fresh runner", async () => {
    const oldSigner = host.signer!;
    const restarted = new Promise<any>((resolve) => host.once("restarted", resolve));
    const inflight = host.infer({ requestId: 666n, modelHash: entry.sha256, input }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(host.runnerPid!, "SIGKILL");
    const err = await inflight;
    expect(err).to.be.instanceOf(RunnerCrashedError);
    expect(err.transient).to.equal(true);
    expect(err.message).to.match(/SIGKILL/);
    // a job sent while the runner restarts waits for the fresh one
    const next = await host.infer({ requestId: 7n, modelHash: entry.sha256, input });
    const event = await restarted;
    expect(next.signer).to.equal(event.signer).and.not.equal(oldSigner);
    expect(host.restarts).to.equal(2);
  });

  it("closes idempotently and refuses jobs after", async () => {
    await Promise.all([host.close(), host.close()]);
    await host.close();
    const err = await host.infer({ requestId: 8n, modelHash: entry.sha256, input }).catch((e) => e);
    expect(err.code).to.equal("HOST_CLOSED");
  });
});

describe("model files and sealing through the host", function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), "enclave-models-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a tampered model file and still serves the untouched ones", async () => {
    const modelsDir = path.join(dir, "models");
    cpSync(path.join(repoRoot, "models"), modelsDir, { recursive: true });
    const [tampered, intact] = models;
    // a file under the tampered model's hash name whose bytes are not that model's
    const bytes = readFileSync(path.join(modelsDir, tampered.file));
    bytes[bytes.length - 1] ^= 0x01;
    writeFileSync(path.join(modelsDir, tampered.sha256.slice(2) + ".onnx"), bytes);
    const host = await EnclaveHost.start({ platform: createDevPlatform(), chainId: CHAIN_ID, oracleAddress: ORACLE, modelsDir });
    try {
      // No operator configured: the report names the zero address, which no account can register.
      expect(host.operator).to.equal(undefined);
      expect((host.attestation() as DevEvidence).operator).to.equal(ZeroAddress);
      const err = await host.infer({ requestId: 1n, modelHash: tampered.sha256, input: sampleInput(tampered) }).catch((e) => e);
      expect(err).to.be.instanceOf(ModelRejectedError);
      expect(err.transient).to.equal(false);
      expect(err.message).to.match(/refused: sha256 is 0x[0-9a-f]{64}, expected/);
      const ok = await host.infer({ requestId: 2n, modelHash: intact.sha256, input: sampleInput(intact) });
      expect(ok.status).to.equal(ResultStatus.Ok);
      const unknown = await host.infer({ requestId: 3n, modelHash: "0x" + "77".repeat(32), input: sampleInput(intact) }).catch((e) => e);
      expect(unknown).to.be.instanceOf(ModelRejectedError);
    } finally {
      await host.close();
    }
  });

  it("keeps the signer across restarts when sealed, and a runner of another measurement cannot unseal it", async () => {
    const platform = createDevPlatform();
    const sealedKeyPath = path.join(dir, "sealed.json");
    const first = await EnclaveHost.start({ platform, chainId: CHAIN_ID, oracleAddress: ORACLE, sealedKeyPath });
    const signer = first.signer;
    await first.close();
    expect(existsSync(sealedKeyPath)).to.equal(true);
    const second = await EnclaveHost.start({ platform, chainId: CHAIN_ID, oracleAddress: ORACLE, sealedKeyPath });
    expect(second.signer).to.equal(signer);
    await second.close();

    // another measurement: runner code that differs by one byte is another runner
    const otherRoot = otherMeasurementCheckout(path.join(dir, "checkout-other"));
    const err = await EnclaveHost.start({ platform, chainId: CHAIN_ID, oracleAddress: ORACLE, sealedKeyPath, repoRoot: otherRoot, modelsDir: path.join(repoRoot, "models") }).catch((e) => e);
    expect(err.code).to.equal("RUNNER_START_FAILED");
    expect(err.message).to.match(/UNSEAL_FAILED: sealed key belongs to measurement/);
    // and another platform with the same measurement cannot either
    const err2 = await EnclaveHost.start({ platform: createDevPlatform(), chainId: CHAIN_ID, oracleAddress: ORACLE, sealedKeyPath }).catch((e) => e);
    expect(err2.message).to.match(/UNSEAL_FAILED: .*authentication failed/);
  });
});

describe("the host's signature check (tiny-secp256k1 recovery)", function () {
  this.timeout(120_000);
  const entry = models[0];
  let dir: string;
  let host: EnclaveHost;
  let modeFile: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "enclave-tamper-"));
    modeFile = path.join(dir, "mode");
    writeFileSync(modeFile, "none");
    // A preload in the runner that rewrites the signature of infer replies as the mode file says.
    const preload = path.join(dir, "tamper-preload.js");
    writeFileSync(preload, `
const fs = require("fs");
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const send = process.send.bind(process);
process.send = (m, ...rest) => {
  if (m && m.type === "infer" && m.ok) {
    const mode = fs.readFileSync(${JSON.stringify(modeFile)}, "utf8");
    const b = Buffer.from(m.signature.slice(2), "hex");
    if (mode === "flip") b[5] ^= 1; // r of another point, or none
    if (mode === "twin") { // n - s with the other v: the same key's malleable twin, high s
      const s = N - BigInt("0x" + b.subarray(32, 64).toString("hex"));
      Buffer.from(s.toString(16).padStart(64, "0"), "hex").copy(b, 32);
      b[64] = b[64] === 27 ? 28 : 27;
    }
    if (mode === "v01") b[64] -= 27; // ethers accepts v = 0/1, ecrecover (and fulfil) does not
    if (mode === "short") m = { ...m, signature: "0x" + b.subarray(0, 64).toString("hex") };
    else if (mode !== "none") m = { ...m, signature: "0x" + b.toString("hex") };
  }
  return send(m, ...rest);
};
`);
    host = await EnclaveHost.start({ platform: createDevPlatform(), operator: OPERATOR, chainId: CHAIN_ID, oracleAddress: ORACLE, testHooks: { execArgv: ["-r", preload] } });
  });
  after(async () => {
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts the runner's signatures and refuses a tampered, high-s, v 0/1 or short one as RunnerMisbehavedError", async () => {
    let id = 1n;
    const job = () => ({ requestId: id++, modelHash: entry.sha256, input: sampleInput(entry) });
    const ok = await host.inferBatch([job(), job(), job()]);
    expect(recoverAddress(batchDigest(domain, ok.results), ok.signature)).to.equal(host.signer);
    for (const mode of ["flip", "twin", "v01", "short"]) {
      writeFileSync(modeFile, mode);
      const single = await host.infer(job()).catch((e) => e);
      expect(single, mode).to.be.instanceOf(RunnerMisbehavedError);
      const batch = await host.inferBatch([job(), job()]).catch((e) => e);
      expect(batch, mode).to.be.instanceOf(RunnerMisbehavedError);
      expect(batch.message, mode).to.match(mode === "flip" ? /recovers to (0x[0-9a-fA-F]{40}, the attested signer|no key)/ : /does not parse or recovers to no key/);
    }
    writeFileSync(modeFile, "none");
    const again = await host.infer(job());
    expect(again.signer).to.equal(host.signer);
    expect(host.restarts).to.equal(0);
  });
});

