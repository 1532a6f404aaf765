/**
 * The enclave runner: a separate OS process, forked by {@link EnclaveHost} after the host has
 * measured this file and everything it imports (see measure.ts).
 *
 * - It creates its secp256k1 signing key inside itself (crypto.randomBytes) or unseals it with
 *   the sealing key the platform derived for its measurement. The key is held in this module's
 *   closure; no message, log line, file or error carries it (only the AES-256-GCM sealed form).
 * - It offers exactly one operation: run model M (by sha256) on input X for request R and return
 *   the output with its EIP-712 signature, computed here from the result it produced itself; for
 *   a batch, one signature over the `InferenceBatch`. It never signs a digest handed to it.
 * - `attest` returns a report request (its signer address) for the platform to sign.
 * - Models are loaded by ModelStore only after the file's sha256 equals the asked hash.
 *
 * Keep the imports of this file small: every repo file it imports is part of the measurement.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, existsSync, renameSync } from "node:fs";
import { SigningKey, computeAddress, getBytes, keccak256 } from "ethers";
import { ModelStore } from "../models/store";
import { oracleDomain } from "../protocol/eip712";
import { ResultHasher } from "./digest";
import { sealKey, unsealKey, UnsealError, type SealedKeyFile } from "./sealing";
import type { ErrorReply, HostMessage, InferRequest, InitRequest, RunnerErrorCode, RunnerMessage, WireResult } from "./ipc";

const HASH_RE = /^0x[0-9a-fA-F]{64}$/;
const UINT256_MAX = (1n << 256n) - 1n;

class RequestError extends Error {
  constructor(readonly code: RunnerErrorCode, message: string) {
    super(message);
  }
}

interface RunnerState {
  key: SigningKey;
  signer: string;
  store: ModelStore;
  hasher: ResultHasher;
}

/**
 * Test hook: a slow model. The job for one request id sleeps before it runs, as a model that
 * runs too long would. Honoured only when the test switch is set in this process's environment.
 */
function testDelay(): { requestId: bigint; ms: number } | undefined {
  if (process.env.ORACLE_ENCLAVE_TEST_HOOKS !== "1") return undefined;
  const ms = Number(process.env.ORACLE_RUNNER_TEST_DELAY_MS ?? "0");
  const id = process.env.ORACLE_RUNNER_TEST_SLOW_REQUEST_ID;
  if (!Number.isFinite(ms) || ms <= 0 || id === undefined) return undefined;
  return { requestId: BigInt(id), ms };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function newSigningKey(): SigningKey {
  for (;;) {
    const secret = randomBytes(32);
    try {
      return new SigningKey(secret);
    } catch {
      // a value of zero or >= the curve order: draw again (probability ~2^-128)
    } finally {
      secret.fill(0);
    }
  }
}

function loadOrCreateKey(msg: InitRequest): { key: SigningKey; unsealed: boolean } {
  if (msg.sealedKeyPath === undefined) return { key: newSigningKey(), unsealed: false };
  if (msg.sealingKey === undefined || msg.measurement === undefined) {
    throw new RequestError("BAD_REQUEST", "sealing needs the platform's sealing key and measurement");
  }
  const sealingKey = Buffer.from(msg.sealingKey);
  if (sealingKey.length !== 32) throw new RequestError("BAD_REQUEST", "sealing key must be 32 bytes");
  if (existsSync(msg.sealedKeyPath)) {
    let sealed: SealedKeyFile;
    try {
      sealed = JSON.parse(readFileSync(msg.sealedKeyPath, "utf8")) as SealedKeyFile;
    } catch {
      throw new RequestError("UNSEAL_FAILED", `sealed key file ${msg.sealedKeyPath} is not valid JSON`);
    }
    try {
      const secret = unsealKey(sealingKey, msg.measurement, sealed);
      const key = new SigningKey(secret);
      secret.fill(0);
      return { key, unsealed: true };
    } catch (err) {
      if (err instanceof UnsealError) throw new RequestError("UNSEAL_FAILED", err.message);
      throw new RequestError("UNSEAL_FAILED", "sealed key file holds no valid key");
    }
  }
  const key = newSigningKey();
  const secret = Buffer.from(key.privateKey.slice(2), "hex");
  const sealed = sealKey(sealingKey, msg.measurement, computeAddress(key.publicKey), secret);
  secret.fill(0);
  const tmp = `${msg.sealedKeyPath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(sealed, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, msg.sealedKeyPath);
  return { key, unsealed: false };
}

function checkJobs(msg: InferRequest): void {
  if (!Array.isArray(msg.jobs) || msg.jobs.length === 0) throw new RequestError("BAD_REQUEST", "no jobs");
  if (msg.mode !== "single" && msg.mode !== "batch") throw new RequestError("BAD_REQUEST", "mode must be single or batch");
  if (msg.mode === "single" && msg.jobs.length !== 1) throw new RequestError("BAD_REQUEST", "single mode takes one job");
  for (const job of msg.jobs) {
    if (typeof job.requestId !== "bigint" || job.requestId < 0n || job.requestId > UINT256_MAX) {
      throw new RequestError("BAD_REQUEST", "requestId must be a uint256 bigint");
    }
    if (typeof job.modelHash !== "string" || !HASH_RE.test(job.modelHash)) throw new RequestError("BAD_REQUEST", "modelHash must be 32-byte hex");
    if (!(job.input instanceof Uint8Array)) throw new RequestError("BAD_REQUEST", "input must be bytes");
  }
}

/** Maps a ModelStore failure to the answer's code (by error name: models/errors.ts). */
function modelFailure(modelHash: string, err: unknown): RequestError {
  const name = err instanceof Error ? err.name : "";
  const text = err instanceof Error ? err.message.split("\n")[0] : String(err);
  if (name === "UnknownModelError" || name === "ModelHashMismatchError") return new RequestError("MODEL_REJECTED", text);
  if (name === "InputEncodingError") return new RequestError("INPUT_REJECTED", `model ${modelHash}: ${text}`);
  return new RequestError("INFERENCE_FAILED", `model ${modelHash}: ${name || "error"}: ${text}`);
}

async function runJobs(state: RunnerState, msg: InferRequest): Promise<{ results: WireResult[]; signature: string }> {
  checkJobs(msg);
  const delay = testDelay();
  const results: WireResult[] = new Array(msg.jobs.length);
  const structHashes: Uint8Array[] = new Array(msg.jobs.length);
  for (let i = 0; i < msg.jobs.length; i++) {
    const job = msg.jobs[i];
    if (delay !== undefined && job.requestId === delay.requestId) sleepSync(delay.ms);
    let outcome: { status: number; output: string };
    try {
      outcome = await state.store.infer(job.modelHash, job.input);
    } catch (err) {
      throw modelFailure(job.modelHash, err);
    }
    const output = getBytes(outcome.output);
    const inputHash = keccak256(job.input);
    const outputHash = keccak256(output);
    const result = { requestId: job.requestId, modelHash: job.modelHash, inputHash, outputHash, status: outcome.status };
    structHashes[i] = state.hasher.structHash(result);
    results[i] = { ...result, output };
  }
  const digest = msg.mode === "single"
    ? state.hasher.resultDigest(results[0])
    : state.hasher.batchDigestOfStructHashes(structHashes);
  return { results, signature: state.key.sign(digest).serialized };
}

/** Starts the runner's message loop on this process's IPC channel. */
export function startRunner(): void {
  const send = (m: RunnerMessage): void => {
    if (process.connected) process.send!(m);
  };
  const fail = (id: number, code: RunnerErrorCode, message: string): void => {
    const reply: ErrorReply = { id, ok: false, code, message };
    send(reply);
  };
  let state: RunnerState | undefined;
  // One request at a time, in arrival order: the host serialises too, this guards a bad host.
  let chain: Promise<void> = Promise.resolve();

  const handle = async (msg: HostMessage): Promise<void> => {
    const id = typeof msg?.id === "number" ? msg.id : -1;
    try {
      switch (msg?.type) {
        case "init": {
          if (state !== undefined) throw new RequestError("BAD_REQUEST", "already initialised");
          const { key, unsealed } = loadOrCreateKey(msg);
          state = {
            key,
            signer: computeAddress(key.publicKey),
            store: new ModelStore({ dir: msg.modelsDir }),
            hasher: new ResultHasher(oracleDomain(msg.chainId, msg.oracleAddress)),
          };
          send({ id, ok: true, type: "init", signer: state.signer, unsealed });
          return;
        }
        case "attest": {
          if (state === undefined) throw new RequestError("NOT_INITIALISED", "init first");
          send({ id, ok: true, type: "attest", signer: state.signer, reportData: keccak256(state.signer) });
          return;
        }
        case "infer": {
          if (state === undefined) throw new RequestError("NOT_INITIALISED", "init first");
          const { results, signature } = await runJobs(state, msg);
          send({ id, ok: true, type: "infer", results, signature });
          return;
        }
        default:
          throw new RequestError("UNKNOWN_OPERATION", `the runner offers init, attest and infer only; "${String((msg as { type?: unknown })?.type)}" refused`);
      }
    } catch (err) {
      if (err instanceof RequestError) fail(id, err.code, err.message);
      // Never echo an unexpected error's message: library errors may quote their arguments.
      else fail(id, "INFERENCE_FAILED", `internal error in the runner (${err instanceof Error ? err.name : typeof err})`);
    }
  };

  process.on("message", (msg: HostMessage) => {
    chain = chain.then(() => handle(msg));
  });
  // The host is gone: a runner never outlives it.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready" });
}

if (require.main === module && typeof process.send === "function") startRunner();
