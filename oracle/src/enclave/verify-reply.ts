/**
 * Reply verification: the host's security check on every answer of the runner, before a
 * signature leaves the host. The runner is not trusted to report what it signed: the host
 * re-hashes each input (its own bytes, as it sent them) and each output, rebuilds the EIP-712
 * digest of exactly the jobs it sent (`InferenceResult` for one job, `InferenceBatch` for a
 * batch) and recovers the signature, which must come from the attested signer. Any mismatch is
 * `RunnerMisbehavedError`; nothing of such a reply reaches the chain.
 */
import { getAddress } from "ethers";
import { fromHex, keccak256Bytes, toHex } from "../protocol/bytes";
import type { ResultHasher } from "../protocol/eip712";
import { recoverSigner } from "./ecdsa";
import { RunnerMisbehavedError } from "./errors";
import type { InferReply, WireJob } from "./ipc";
import type { PackedJobs } from "./wire";

/** One result as the runner signed it. Hex strings are 0x-prefixed. */
export interface SignedResult {
  requestId: bigint;
  modelHash: string;
  inputHash: string;
  status: number;
  /** 0x hex of `abi.encode(int256[])`, empty when status is not Ok. */
  output: string;
  outputHash: string;
}

/** The jobs as the host sent them: checked, packed, and the host's own keccak of each input (32·n bytes). */
export interface SentBatch {
  jobs: WireJob[];
  packed: PackedJobs;
  inputHashes: Uint8Array;
}

export interface ReplyExpectations {
  /** The attested signer of the runner that answered (0x address). */
  signer: string;
  /** "single": a signature over the one `InferenceResult`; "batch": over the `InferenceBatch`. */
  mode: "single" | "batch";
  /** False only in tests and benchmarks that measure the host without recovery. */
  checkSignature: boolean;
}

/**
 * Checks an `infer` reply against the batch sent: shape, output ranges, input and output hashes,
 * and (unless turned off) that the signature over the rebuilt digest recovers to the attested
 * signer. Returns the results as the runner signed them; throws `RunnerMisbehavedError` naming
 * the first thing wrong.
 */
export function verifyReply(hasher: ResultHasher, sent: SentBatch, reply: InferReply, expect: ReplyExpectations): SignedResult[] {
  const { jobs, packed } = sent;
  const count = jobs.length;
  checkShape(reply, count);
  const { statuses, outputs, outputEnds, inputHashes, outputHashes } = reply;
  const ownInputHashes = sent.inputHashes;
  const ownOutputHashes = new Uint8Array(32 * count);
  const structHashes = new Uint8Array(32 * count);
  let prev = 0;
  for (let i = 0; i < count; i++) {
    const end = outputEnds[i];
    if (end < prev || end > outputs.length || (i === count - 1 && end !== outputs.length)) throw new RunnerMisbehavedError(`result ${i} has a bad output range`);
    const w = 32 * i;
    ownOutputHashes.set(keccak256Bytes(outputs.subarray(prev, end)), w);
    prev = end;
    const inputHash = ownInputHashes.subarray(w, w + 32);
    const outputHash = ownOutputHashes.subarray(w, w + 32);
    if (!equalBytes(inputHash, inputHashes.subarray(w, w + 32)) || !equalBytes(outputHash, outputHashes.subarray(w, w + 32))) {
      throw new RunnerMisbehavedError(`result ${i} has wrong hashes`);
    }
    hasher.structHashRaw(packed.requestIds.subarray(w, w + 32), packed.modelHashes.subarray(w, w + 32), inputHash, outputHash, statuses[i], structHashes, w);
  }
  if (expect.checkSignature) {
    const digest = expect.mode === "single" ? hasher.resultDigestRaw(structHashes) : hasher.batchDigestRaw(structHashes);
    checkSigner(digest, reply.signature, expect.signer);
  }
  return signedResults(jobs, reply, ownInputHashes, ownOutputHashes);
}

/** The reply has one status, output range and pair of hashes per job, in the packed types. */
function checkShape(reply: InferReply, count: number): void {
  const { statuses, outputs, outputEnds, inputHashes, outputHashes } = reply;
  if (!(statuses instanceof Uint8Array) || statuses.length !== count || !(outputEnds instanceof Uint32Array) || outputEnds.length !== count) {
    throw new RunnerMisbehavedError(`returned ${statuses?.length} results for ${count} jobs`);
  }
  if (!(outputs instanceof Uint8Array) || !(inputHashes instanceof Uint8Array) || inputHashes.length !== 32 * count || !(outputHashes instanceof Uint8Array) || outputHashes.length !== 32 * count) {
    throw new RunnerMisbehavedError("the reply is malformed");
  }
}

/** The signature over `digest` recovers to `signer`. */
function checkSigner(digest: Uint8Array, signature: string, signer: string): void {
  let sig: Uint8Array;
  try {
    sig = fromHex(signature);
  } catch {
    throw new RunnerMisbehavedError("the signature does not parse");
  }
  // tiny-secp256k1 recovery (ecdsa.ts): undefined for a signature the chain would refuse too
  // (not 65 bytes, v not 27/28, high s, r or s out of range)
  const recovered = recoverSigner(digest, sig);
  if (recovered === undefined) throw new RunnerMisbehavedError("the signature does not parse or recovers to no key");
  if (!equalBytes(recovered, fromHex(signer))) throw new RunnerMisbehavedError(`signature recovers to ${getAddress(toHex(recovered))}, the attested signer is ${signer}`);
}

/** The checked results as 0x hex: the whole buffers once (one native call each), then a slice per result. */
function signedResults(jobs: WireJob[], reply: InferReply, inputHashes: Uint8Array, outputHashes: Uint8Array): SignedResult[] {
  const { statuses, outputs, outputEnds } = reply;
  const outputsHex = toHex(outputs);
  const inputHashesHex = toHex(inputHashes);
  const outputHashesHex = toHex(outputHashes);
  const results: SignedResult[] = new Array(jobs.length);
  let prev = 0;
  for (let i = 0; i < jobs.length; i++) {
    const end = outputEnds[i];
    const h = 2 + 64 * i;
    results[i] = {
      requestId: jobs[i].requestId,
      modelHash: jobs[i].modelHash,
      inputHash: "0x" + inputHashesHex.slice(h, h + 64),
      status: statuses[i],
      output: "0x" + outputsHex.slice(2 + 2 * prev, 2 + 2 * end),
      outputHash: "0x" + outputHashesHex.slice(h, h + 64),
    };
    prev = end;
  }
  return results;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
