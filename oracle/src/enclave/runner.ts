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
 * - Models are loaded by ModelStore only after the file's sha256 equals the asked hash; each
 *   model's spec (shapes, types, decimals, bounds, encoding) is read from the file itself. No
 *   message can carry a model parameter: a request with a field the runner does not know is
 *   refused, so what it signs is a function of (model file bytes, input bytes) alone.
 *
 * Keep the imports of this file small: every repo file it imports is part of the measurement.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, existsSync, renameSync } from "node:fs";
import { SigningKey, computeAddress, getBytes, keccak256 } from "ethers";
import { ModelStore } from "../models/store";
import { ResultHasher, oracleDomain, uint256Word } from "../protocol/eip712";
import type { EncodedOutputBytes } from "../models/codec";
import { fromHex, initKeccak, keccak256Bytes, toHex } from "../protocol/bytes";
import { signDigest } from "./ecdsa";
import { sealKey, unsealKey, UnsealError, type SealedKeyFile } from "./sealing";
import type { ErrorReply, HostMessage, InferReply, InferRequest, InitRequest, RunnerErrorCode, RunnerMessage } from "./ipc";


class RequestError extends Error {
  constructor(readonly code: RunnerErrorCode, message: string) {
    super(message);
  }
}

interface RunnerState {
  key: SigningKey;
  /** The same private key as 32 bytes, for tiny-secp256k1; never leaves this process. */
  secret: Uint8Array;
  /** False if the start-up check found tiny-secp256k1 signing unlike ethers: sign with ethers. */
  fastSign: boolean;
  signer: string;
  store: ModelStore;
  hasher: ResultHasher;
}

/**
 * Test hook: a slow model. The job for one request id sleeps before it runs, as a model that
 * runs too long would. Honoured only when the test switch is set in this process's environment.
 */
function testDelay(): { requestIds: Uint8Array[]; ms: number } | undefined {
  if (process.env.ORACLE_ENCLAVE_TEST_HOOKS !== "1") return undefined;
  const ms = Number(process.env.ORACLE_RUNNER_TEST_DELAY_MS ?? "0");
  const id = process.env.ORACLE_RUNNER_TEST_SLOW_REQUEST_ID;
  if (!Number.isFinite(ms) || ms <= 0 || id === undefined) return undefined;
  return { requestIds: [uint256Word(BigInt(id))], ms };
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
  const secret = fromHex(key.privateKey);
  const sealed = sealKey(sealingKey, msg.measurement, computeAddress(key.publicKey), secret);
  secret.fill(0);
  const tmp = `${msg.sealedKeyPath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(sealed, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, msg.sealedKeyPath);
  return { key, unsealed: false };
}

const MAX_JOBS = 4096;

/** The only fields each request may carry. */
const ALLOWED_FIELDS = new Map<unknown, ReadonlySet<string>>([
  ["init", new Set(["type", "id", "chainId", "oracleAddress", "modelsDir", "maxModelBytes", "sealingKey", "measurement", "sealedKeyPath"])],
  ["attest", new Set(["type", "id"])],
  ["infer", new Set(["type", "id", "mode", "count", "requestIds", "modelHashes", "inputs", "inputEnds"])],
]);

/** Refuses a request carrying a field the runner does not know (e.g. a host trying to set decimals). */
function checkFields(msg: HostMessage): void {
  const allowed = ALLOWED_FIELDS.get(msg.type);
  if (!allowed) return;
  const extra = Object.keys(msg).filter((k) => !allowed.has(k));
  if (extra.length) throw new RequestError("BAD_REQUEST", `${msg.type} takes no ${extra.join(", ")}: a model's parameters come from its file only`);
}

/** Validates the packed layout of an infer request; returns the job count. */
function checkJobs(msg: InferRequest): number {
  if (msg.mode !== "single" && msg.mode !== "batch") throw new RequestError("BAD_REQUEST", "mode must be single or batch");
  const count = msg.count;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_JOBS) throw new RequestError("BAD_REQUEST", "no jobs, or too many");
  if (msg.mode === "single" && count !== 1) throw new RequestError("BAD_REQUEST", "single mode takes one job");
  if (!(msg.requestIds instanceof Uint8Array) || msg.requestIds.length !== 32 * count) throw new RequestError("BAD_REQUEST", "requestIds must be 32 bytes per job");
  if (!(msg.modelHashes instanceof Uint8Array) || msg.modelHashes.length !== 32 * count) throw new RequestError("BAD_REQUEST", "modelHashes must be 32 bytes per job");
  if (!(msg.inputs instanceof Uint8Array)) throw new RequestError("BAD_REQUEST", "inputs must be bytes");
  if (!(msg.inputEnds instanceof Uint32Array) || msg.inputEnds.length !== count) throw new RequestError("BAD_REQUEST", "inputEnds must hold one end per job");
  let prev = 0;
  for (let i = 0; i < count; i++) {
    if (msg.inputEnds[i] < prev) throw new RequestError("BAD_REQUEST", "inputEnds must not decrease");
    prev = msg.inputEnds[i];
  }
  if (prev !== msg.inputs.length) throw new RequestError("BAD_REQUEST", "inputEnds must end at the inputs' length");
  return count;
}

/** Maps a ModelStore failure to the answer's code (by error name: models/errors.ts). */
function modelFailure(modelHash: string, err: unknown): RequestError {
  const name = err instanceof Error ? err.name : "";
  const text = err instanceof Error ? err.message.split("\n")[0] : String(err);
  if (name === "UnknownModelError" || name === "ModelHashMismatchError" || name === "ModelSpecError" || name === "ModelLoadError" || name === "ModelTooLargeError") {
    return new RequestError("MODEL_REJECTED", `model ${modelHash}: ${text}`);
  }
  if (name === "InputEncodingError") return new RequestError("INPUT_REJECTED", `model ${modelHash}: ${text}`);
  return new RequestError("INFERENCE_FAILED", `model ${modelHash}: ${name || "error"}: ${text}`);
}

/**
 * Runs a batch: the jobs of each model go through ONE ModelStore.inferStacked call (one
 * session.run for a model with a batch dimension), then each result is hashed once (input,
 * output, struct: keccak over bytes) and the batch, or the single result, is signed once.
 */
async function runJobs(state: RunnerState, msg: InferRequest): Promise<Omit<InferReply, "id" | "ok" | "type">> {
  const count = checkJobs(msg);
  const delay = testDelay();
  const inputs: Uint8Array[] = new Array(count);
  // Group by model, in order of first appearance; the hex of a model hash is computed once.
  const groups = new Map<string, number[]>();
  let lastKey = "";
  let lastHex = "";
  for (let i = 0; i < count; i++) {
    inputs[i] = msg.inputs.subarray(i === 0 ? 0 : msg.inputEnds[i - 1], msg.inputEnds[i]);
    const key = Buffer.from(msg.modelHashes.buffer, msg.modelHashes.byteOffset + 32 * i, 32).toString("latin1");
    if (key !== lastKey) {
      lastKey = key;
      lastHex = "0x" + Buffer.from(key, "latin1").toString("hex");
    }
    let group = groups.get(lastHex);
    if (!group) groups.set(lastHex, (group = []));
    group.push(i);
    if (delay !== undefined && delay.requestIds.some((w) => Buffer.compare(w, msg.requestIds.subarray(32 * i, 32 * i + 32)) === 0)) sleepSync(delay.ms);
  }
  const outcomes: EncodedOutputBytes[] = new Array(count);
  for (const [modelHash, jobs] of groups) {
    let results: EncodedOutputBytes[];
    try {
      results = await state.store.inferStacked(modelHash, jobs.map((i) => inputs[i]));
    } catch (err) {
      throw modelFailure(modelHash, err);
    }
    jobs.forEach((i, k) => (outcomes[i] = results[k]));
  }
  let outputSize = 0;
  for (const o of outcomes) outputSize += o.output.length;
  const outputs = new Uint8Array(outputSize);
  const outputEnds = new Uint32Array(count);
  const statuses = new Uint8Array(count);
  const inputHashes = new Uint8Array(32 * count);
  const outputHashes = new Uint8Array(32 * count);
  const structHashes = new Uint8Array(32 * count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const { status, output } = outcomes[i];
    outputs.set(output, at);
    at += output.length;
    outputEnds[i] = at;
    statuses[i] = status;
    inputHashes.set(keccak256Bytes(inputs[i]), 32 * i);
    outputHashes.set(keccak256Bytes(output), 32 * i);
    state.hasher.structHashRaw(
      msg.requestIds.subarray(32 * i, 32 * i + 32),
      msg.modelHashes.subarray(32 * i, 32 * i + 32),
      inputHashes.subarray(32 * i, 32 * i + 32),
      outputHashes.subarray(32 * i, 32 * i + 32),
      status,
      structHashes,
      32 * i,
    );
  }
  const digest = msg.mode === "single" ? state.hasher.resultDigestRaw(structHashes) : state.hasher.batchDigestRaw(structHashes);
  return { statuses, outputs, outputEnds, inputHashes, outputHashes, signature: sign(state, digest) };
}

/**
 * The 65-byte r ‖ s ‖ v signature of a digest the runner computed, as 0x hex: tiny-secp256k1
 * (libsecp256k1, RFC 6979), equal byte for byte to ethers' `SigningKey.sign(digest).serialized`;
 * ethers itself in the cases {@link signDigest} leaves to it or if the start-up check failed.
 */
function sign(state: RunnerState, digest: Uint8Array): string {
  const fast = state.fastSign ? signDigest(digest, state.secret) : undefined;
  return fast !== undefined ? toHex(fast) : state.key.sign(digest).serialized;
}

/** Start-up check: tiny-secp256k1 signs a fixed digest exactly as ethers does with this key. */
function fastSignAgrees(key: SigningKey, secret: Uint8Array): boolean {
  try {
    const digest = keccak256Bytes(Buffer.from("oracle runner signature self-test"));
    const fast = signDigest(digest, secret);
    return fast !== undefined && toHex(fast) === key.sign(digest).serialized;
  } catch {
    return false;
  }
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
      if (msg !== null && typeof msg === "object") checkFields(msg);
      switch (msg?.type) {
        case "init": {
          if (state !== undefined) throw new RequestError("BAD_REQUEST", "already initialised");
          const { key, unsealed } = loadOrCreateKey(msg);
          await initKeccak(); // WASM keccak from here on (js-sha3 until then, and if it fails)
          const secret = getBytes(key.privateKey);
          const fastSign = fastSignAgrees(key, secret);
          // stderr reaches the host's log; it names no key material
          if (!fastSign) process.stderr.write("runner: tiny-secp256k1 disagrees with ethers on the self-test; signing with ethers\n");
          state = {
            key,
            secret,
            fastSign,
            signer: computeAddress(key.publicKey),
            store: new ModelStore({ dir: msg.modelsDir, ...(msg.maxModelBytes !== undefined ? { maxModelBytes: msg.maxModelBytes } : {}) }),
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
          send({ id, ok: true, type: "infer", ...(await runJobs(state, msg)) });
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
