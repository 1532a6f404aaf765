/**
 * The host's side of the wire: its checked jobs packed into one `infer` request (see the message
 * types in ipc.ts), and its own keccak of each input. Apart from ipc.ts so that the runner's
 * measured code holds only what the runner runs.
 */
import { fromHex, keccak256Bytes } from "../protocol/bytes";
import { uint256Word } from "../protocol/eip712";
import type { InferRequest, WireJob } from "./ipc";

/** The jobs part of an {@link InferRequest}. */
export type PackedJobs = Pick<InferRequest, "count" | "requestIds" | "modelHashes" | "inputs" | "inputEnds">;

/** keccak256 of each job's input, packed (32 bytes per job). */
export function hashInputs(jobs: WireJob[]): Uint8Array {
  const out = new Uint8Array(32 * jobs.length);
  for (let i = 0; i < jobs.length; i++) out.set(keccak256Bytes(jobs[i].input), 32 * i);
  return out;
}

/** The jobs as one IPC message's packed arrays (see {@link InferRequest}). */
export function packJobs(jobs: WireJob[]): PackedJobs {
  const count = jobs.length;
  const requestIds = new Uint8Array(32 * count);
  const modelHashes = new Uint8Array(32 * count);
  const inputEnds = new Uint32Array(count);
  let size = 0;
  for (let i = 0; i < count; i++) {
    size += jobs[i].input.length;
    inputEnds[i] = size;
  }
  const inputs = new Uint8Array(size);
  let lastHash = "";
  let lastBytes: Uint8Array = new Uint8Array(32);
  for (let i = 0; i < count; i++) {
    const job = jobs[i];
    uint256Word(job.requestId, requestIds, 32 * i);
    if (job.modelHash !== lastHash) {
      lastHash = job.modelHash;
      lastBytes = fromHex(job.modelHash);
    }
    modelHashes.set(lastBytes, 32 * i);
    inputs.set(job.input, i === 0 ? 0 : inputEnds[i - 1]);
  }
  return { count, requestIds, modelHashes, inputs, inputEnds };
}
