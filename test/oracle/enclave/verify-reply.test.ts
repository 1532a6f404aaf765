import { expect } from "chai";
import { SigningKey, Wallet, computeAddress, getBytes, toBeHex } from "ethers";
import { RunnerMisbehavedError } from "../../../oracle/src/enclave/errors";
import type { InferReply, WireJob } from "../../../oracle/src/enclave/ipc";
import { hashInputs, packJobs } from "../../../oracle/src/enclave/wire";
import { verifyReply, type SentBatch } from "../../../oracle/src/enclave/verify-reply";
import { fromHex, initKeccak, keccak256Bytes, toHex } from "../../../oracle/src/protocol/bytes";
import { ResultHasher, encodeTensor, oracleDomain } from "../../../oracle/src/protocol/eip712";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const hasher = new ResultHasher(oracleDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3"));
const model = "0x" + "ab".repeat(32);
const otherModel = "0x" + "cd".repeat(32);

function job(requestId: bigint, values: bigint[], modelHash = model): WireJob {
  return { requestId, modelHash, input: fromHex(encodeTensor(values)) };
}

function sentOf(jobs: WireJob[]): SentBatch {
  return { jobs, packed: packJobs(jobs), inputHashes: hashInputs(jobs) };
}

/** A reply as an honest runner with `key` builds it: outputs, their hashes, one signature. */
function honestReply(sent: SentBatch, outputs: Uint8Array[], key: SigningKey, mode: "single" | "batch", statuses = outputs.map(() => 0)): InferReply {
  const count = sent.jobs.length;
  const outputEnds = new Uint32Array(count);
  let size = 0;
  outputs.forEach((o, i) => (outputEnds[i] = size += o.length));
  const all = new Uint8Array(size);
  outputs.forEach((o, i) => all.set(o, i === 0 ? 0 : outputEnds[i - 1]));
  const outputHashes = new Uint8Array(32 * count);
  outputs.forEach((o, i) => outputHashes.set(keccak256Bytes(o), 32 * i));
  const structHashes = new Uint8Array(32 * count);
  for (let i = 0; i < count; i++) {
    const w = 32 * i;
    hasher.structHashRaw(sent.packed.requestIds.subarray(w, w + 32), sent.packed.modelHashes.subarray(w, w + 32), sent.inputHashes.subarray(w, w + 32), outputHashes.subarray(w, w + 32), statuses[i], structHashes, w);
  }
  const digest = mode === "single" ? hasher.resultDigestRaw(structHashes) : hasher.batchDigestRaw(structHashes);
  return { id: 1, ok: true, type: "infer", statuses: Uint8Array.from(statuses), outputs: all, outputEnds, inputHashes: sent.inputHashes.slice(), outputHashes, signature: key.sign(digest).serialized };
}

describe("enclave reply verification (verify-reply.ts)", () => {
  const key = new SigningKey(Wallet.createRandom().privateKey);
  const signer = computeAddress(key.publicKey);
  const jobs = [job(1n, [1n, 2n]), job(2n, [3n]), job(1n << 255n, [-4n], otherModel)];
  const outputs = [fromHex(encodeTensor([5n])), fromHex(encodeTensor([6n, 7n])), fromHex(encodeTensor([-8n]))];
  const batch = { signer, mode: "batch" as const, checkSignature: true };

  before(async () => {
    await initKeccak();
  });

  it("accepts a batch the attested signer signed and returns each result with the host's own hashes", () => {
    const sent = sentOf(jobs);
    const results = verifyReply(hasher, sent, honestReply(sent, outputs, key, "batch"), batch);
    expect(results.map((r) => r.requestId)).to.deep.equal([1n, 2n, 1n << 255n]);
    expect(results.map((r) => r.output)).to.deep.equal(outputs.map(toHex));
    expect(results[2].modelHash).to.equal(otherModel);
    expect(results[1].inputHash).to.equal(toHex(keccak256Bytes(jobs[1].input)));
    expect(results[0].outputHash).to.equal(toHex(keccak256Bytes(outputs[0])));
  });

  it("accepts one job signed over its InferenceResult in single mode", () => {
    const sent = sentOf(jobs.slice(0, 1));
    const [result] = verifyReply(hasher, sent, honestReply(sent, outputs.slice(0, 1), key, "single"), { ...batch, mode: "single" });
    expect(result.status).to.equal(0);
  });

  it("refuses a runner that signs with a key other than the attested one", () => {
    const sent = sentOf(jobs);
    const intruder = new SigningKey(Wallet.createRandom().privateKey);
    expect(() => verifyReply(hasher, sent, honestReply(sent, outputs, intruder, "batch"), batch)).to.throw(RunnerMisbehavedError, /recovers to .* the attested signer is/);
  });

  it("refuses a runner that changes an output after hashing and signing it", () => {
    const sent = sentOf(jobs);
    const reply = honestReply(sent, outputs, key, "batch");
    reply.outputs[reply.outputs.length - 1] ^= 1;
    expect(() => verifyReply(hasher, sent, reply, batch)).to.throw(RunnerMisbehavedError, /result 2 has wrong hashes/);
  });

  it("refuses a runner that signs the hash of an input other than the one the host sent", () => {
    const sent = sentOf(jobs);
    const forged = { ...sent, inputHashes: sent.inputHashes.slice() };
    forged.inputHashes[32] ^= 1;
    const reply = honestReply(forged, outputs, key, "batch");
    expect(() => verifyReply(hasher, sent, reply, batch)).to.throw(RunnerMisbehavedError, /result 1 has wrong hashes/);
  });

  it("refuses a runner that flips a status after signing", () => {
    const sent = sentOf(jobs);
    const reply = honestReply(sent, outputs, key, "batch");
    reply.statuses[0] = 1;
    expect(() => verifyReply(hasher, sent, reply, batch)).to.throw(RunnerMisbehavedError, /recovers to/);
  });

  it("refuses a batch signature offered as a single result's signature (another digest)", () => {
    const sent = sentOf(jobs.slice(0, 1));
    const reply = honestReply(sent, outputs.slice(0, 1), key, "batch");
    expect(() => verifyReply(hasher, sent, reply, { ...batch, mode: "single" })).to.throw(RunnerMisbehavedError, /recovers to/);
  });

  it("refuses a malleated signature (high s) the chain would refuse too", () => {
    const sent = sentOf(jobs);
    const reply = honestReply(sent, outputs, key, "batch");
    const sig = getBytes(reply.signature);
    const s = BigInt(toHex(sig.subarray(32, 64)));
    sig.set(getBytes(toBeHex(N - s, 32)), 32);
    sig[64] = sig[64] === 27 ? 28 : 27;
    reply.signature = toHex(sig);
    expect(() => verifyReply(hasher, sent, reply, batch)).to.throw(RunnerMisbehavedError, /recovers to no key/);
  });

  it("refuses a signature that is not hex", () => {
    const sent = sentOf(jobs);
    const reply = { ...honestReply(sent, outputs, key, "batch"), signature: "0xzz" };
    expect(() => verifyReply(hasher, sent, reply, batch)).to.throw(RunnerMisbehavedError, /does not parse/);
  });

  it("refuses a reply with fewer results than jobs, or hashes of the wrong size", () => {
    const sent = sentOf(jobs);
    const reply = honestReply(sent, outputs, key, "batch");
    expect(() => verifyReply(hasher, sent, { ...reply, statuses: reply.statuses.subarray(0, 2) }, batch)).to.throw(RunnerMisbehavedError, /returned 2 results for 3 jobs/);
    expect(() => verifyReply(hasher, sent, { ...reply, outputHashes: reply.outputHashes.subarray(0, 64) }, batch)).to.throw(RunnerMisbehavedError, /malformed/);
  });

  it("refuses output ranges that go backwards or past the outputs", () => {
    const sent = sentOf(jobs);
    const reply = honestReply(sent, outputs, key, "batch");
    const backwards = Uint32Array.from([reply.outputEnds[0], reply.outputEnds[0] - 1, reply.outputEnds[2]]);
    expect(() => verifyReply(hasher, sent, { ...reply, outputEnds: backwards }, batch)).to.throw(RunnerMisbehavedError, /result 1 has a bad output range/);
    const past = Uint32Array.from([reply.outputEnds[0], reply.outputEnds[1], reply.outputEnds[2] + 1]);
    expect(() => verifyReply(hasher, sent, { ...reply, outputEnds: past }, batch)).to.throw(RunnerMisbehavedError, /result 2 has a bad output range/);
  });

  it("without signature checking (benchmarks), still refuses wrong hashes", () => {
    const sent = sentOf(jobs);
    const intruder = new SigningKey(Wallet.createRandom().privateKey);
    const reply = honestReply(sent, outputs, intruder, "batch");
    expect(verifyReply(hasher, sent, reply, { ...batch, checkSignature: false })).to.have.length(3);
    reply.outputs[0] ^= 1;
    expect(() => verifyReply(hasher, sent, reply, { ...batch, checkSignature: false })).to.throw(RunnerMisbehavedError, /wrong hashes/);
  });
});
