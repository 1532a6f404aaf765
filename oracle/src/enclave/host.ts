/**
 * The enclave host: measures the runner's code, launches it as a separate OS process, has it
 * attested over the measurement the HOST computed (as TEE hardware measures enclave pages; the
 * runner's own claims are not trusted) and the operator the host is configured with (the one
 * account that may register the runner's signer; the runner never sees it and signs only
 * results), and passes jobs to it. Launching and stopping one process is runner-process.ts; this
 * file supervises it (restarts) and owns the job path (checks, queue, reply check, journal).
 *
 * Limits: an input over `maxInputBytes` is refused before it reaches the runner; a call that runs
 * past `timeoutMs` kills the runner (onnxruntime cannot be interrupted) and fails with
 * RunnerTimeoutError; a runner that dies fails its job with RunnerCrashedError. Either way a fresh
 * runner is measured, started and attested in its place (a new key, unless sealed), and the host
 * emits `restarted` with the new signer so the node can register it. The host never crashes.
 *
 * Untrusted models: the runner process runs under an OS data-segment limit (`prlimit --data`,
 * `maxRunnerMemoryMb`: heap and anonymous mappings, so onnxruntime's allocations too), and a
 * model file larger than `maxModelBytes` is refused before a session is created. A call that
 * crashes the runner, times out or fails inside onnxruntime gives each of its models a strike and
 * puts it under suspicion (the error stays transient: a machine under load, or someone killing
 * the process, is not the model's fault). A suspect model runs only in calls of its own, so a
 * mixed batch never fails twice for one culprit; a model that fails a call of its own twice in a
 * row is quarantined: declined at once from then on (ModelQuarantinedError, permanent). A call
 * that succeeds clears its models (quarantine.ts).
 *
 * Events:
 *   restarted     ({ signer, previousSigner, attestation, reason, restarts })
 *   restartFailed ({ error, attempt, retryInMs })
 */
import { EventEmitter } from "node:events";
import * as path from "node:path";
import { ZeroAddress, getAddress, getBytes } from "ethers";
import { ResultHasher, oracleDomain } from "../protocol/eip712";
import { initKeccak } from "../protocol/bytes";
import type { EnclaveEvidence } from "./backend";
import {
  HostClosedError,
  InputTooLargeError,
  InvalidJobError,
  RunnerMisbehavedError,
  RunnerUnavailableError,
  EquivocationRefusedError,
} from "./errors";
import { REPO_ROOT } from "../paths";
import { DEFAULT_LIMITS, type EnclaveHostOptions, type EnclaveLimits, type EnclaveLogger, type EnclaveTestHooks } from "./host-options";
import { SignatureJournal } from "./journal";
import { ModelQuarantine } from "./quarantine";
import { mapRunnerError, sendRequest } from "./runner-ipc";
import { attestRunner, launchRunner, stopRunner, type LaunchSettings, type RunnerProcess } from "./runner-process";
import type { HostMessage, InferReply, RunnerReply, WireJob } from "./ipc";
import { hashInputs, packJobs } from "./wire";
import type { RunnerMeasurement } from "./measure";
import { verifyReply, type SentBatch, type SignedResult } from "./verify-reply";

export type { SignedResult } from "./verify-reply";

/**
 * One inference for the enclave to run: request R, model M (sha256 of the .onnx file), input X
 * (`abi.encode(int256[])`). (The queue's job, queue/types.ts, is the whole request as the watcher
 * saw it; the node turns it into this.)
 */
export interface EnclaveJob {
  requestId: bigint;
  modelHash: string;
  input: string | Uint8Array;
}

/** A single result with its own signature over `InferenceResult` (for `fulfil`). */
export interface SignedInference extends SignedResult {
  signature: string;
  signer: string;
}

/** Results with one signature over `InferenceBatch` (for `fulfilBatch`). */
export interface SignedBatch {
  /** One per job, in order, for that job's request, model and input (checked by verify-reply.ts). */
  results: SignedResult[];
  signature: string;
  /** The key the signature recovers to: the runner's attested signer when it signed. */
  signer: string;
}

export interface RestartedEvent {
  signer: string;
  previousSigner: string;
  attestation: EnclaveEvidence;
  reason: string;
  restarts: number;
}

const HASH_RE = /^0x[0-9a-fA-F]{64}$/;
const NULL_LOGGER: EnclaveLogger = { debug() {}, info() {}, warn() {}, error() {} };
const RESTART_BACKOFF_MS = [0, 500, 2_000, 5_000, 15_000, 30_000];

export class EnclaveHost extends EventEmitter {
  readonly limits: EnclaveLimits;
  readonly chainId: bigint;
  readonly oracleAddress: string;
  /** The operator every report names (checksummed); undefined if none was configured. */
  readonly operator: string | undefined;
  readonly #options: EnclaveHostOptions;
  readonly #log: EnclaveLogger;
  readonly #hooks: EnclaveTestHooks;
  /** How each runner is launched: measured in, and forked from, this checkout. */
  readonly #launching: LaunchSettings;
  readonly #hasher: ResultHasher;
  #runner?: RunnerProcess;
  /** Resolves when a runner is ready; replaced while one is (re)starting. */
  #ready: Promise<RunnerProcess | undefined>;
  #nextId = 1;
  #queue: Promise<void> = Promise.resolve();
  #queued = 0;
  #restarts = 0;
  #closing?: Promise<void>;
  #closed = false;
  #restartTimer?: NodeJS.Timeout;
  /** The signature journal of the key in use (a restart without a sealed key brings a new one). */
  #signatures?: SignatureJournal;
  /** Which models are suspected or quarantined after failing the runner. */
  readonly #models: ModelQuarantine;
  private constructor(options: EnclaveHostOptions) {
    super();
    this.#options = options;
    this.#log = options.logger ?? NULL_LOGGER;
    this.#models = new ModelQuarantine(this.#log);
    this.limits = { ...DEFAULT_LIMITS, ...(options.limits ?? {}) };
    this.chainId = BigInt(options.chainId);
    this.oracleAddress = getAddress(options.oracleAddress);
    if (options.operator !== undefined) {
      let operator: string;
      try {
        operator = getAddress(options.operator);
      } catch {
        throw new Error(`EnclaveHost: operator ${String(options.operator)} is not an address`);
      }
      if (operator === ZeroAddress) throw new Error("EnclaveHost: the operator cannot be the zero address");
      this.operator = operator;
    }
    this.#hasher = new ResultHasher(oracleDomain(this.chainId, this.oracleAddress));
    if (options.testHooks && process.env.ORACLE_ENCLAVE_TEST_HOOKS !== "1") {
      throw new Error("EnclaveHost: testHooks are for tests only and need ORACLE_ENCLAVE_TEST_HOOKS=1");
    }
    if (options.sealedKeyPath !== undefined && !options.platform.sealingKey) {
      throw new Error(`EnclaveHost: the ${options.platform.name} backend cannot seal; drop sealedKeyPath`);
    }
    this.#hooks = options.testHooks ?? {};
    const repoRoot = path.resolve(options.repoRoot ?? REPO_ROOT);
    this.#launching = {
      repoRoot, modelsDir: path.resolve(options.modelsDir ?? path.join(repoRoot, "models")), limits: this.limits, chainId: this.chainId,
      oracleAddress: this.oracleAddress, operator: this.operator, platform: options.platform, sealedKeyPath: options.sealedKeyPath,
      hooks: this.#hooks, log: this.#log, nextId: () => this.#nextId++,
    };
    this.#ready = Promise.resolve(undefined);
    if (options.platform.bindsOperator && this.operator === undefined) {
      this.#log.warn({ platform: options.platform.name }, "no operator configured: the attestation reports name the zero address and cannot be registered");
    }
  }

  /** Measures, launches and attests a runner; resolves once it can take jobs. */
  static async start(options: EnclaveHostOptions): Promise<EnclaveHost> {
    const host = new EnclaveHost(options);
    await initKeccak(); // the host's own hashing of every result: WASM keccak (js-sha3 if it cannot load)
    const launching = launchRunner(host.#launching);
    host.#ready = launching.catch(() => undefined);
    const runner = await launching;
    host.#install(runner);
    return host;
  }

  /** The current runner's attestation: for the dev platform, the report and certificate to register. */
  attestation(): EnclaveEvidence {
    if (!this.#runner) throw new RunnerUnavailableError("the runner is restarting; wait for the restarted event");
    return this.#runner.attestation;
  }

  /** The current runner's enclave signer. */
  get signer(): string | undefined {
    return this.#runner?.signer;
  }

  /** The measurement the host computed for the current runner. */
  get measurement(): RunnerMeasurement | undefined {
    return this.#runner?.measurement;
  }

  /** Jobs queued or in flight (for least-busy dispatch). */
  get busy(): number {
    return this.#queued;
  }

  /** Runners started after the first (crashes, timeouts). */
  get restarts(): number {
    return this.#restarts;
  }

  /** OS process id of the current runner (tests kill it; the bench reads its memory). */
  get runnerPid(): number | undefined {
    return this.#runner?.exited === false ? this.#runner.child.pid : undefined;
  }

  /** Models declined because they crashed, stalled or failed the runner: hash → reason. */
  quarantined(): ReadonlyMap<string, string> {
    return this.#models.quarantined;
  }

  /** Asks the platform for a fresh report for the current signer (reports expire). */
  async refreshAttestation(): Promise<EnclaveEvidence> {
    const runner = await this.#currentRunner();
    runner.attestation = await attestRunner(this.#launching, runner, runner.signer);
    return runner.attestation;
  }

  /** Runs one job; the result carries its own signature over `InferenceResult`. */
  async infer(job: EnclaveJob): Promise<SignedInference> {
    const { reply, signer, sent } = await this.#enqueue([this.#checkJob(job)], "single");
    const [result] = this.#checkReply(sent, reply, signer, "single");
    this.#journal(signer, [result], reply.signature, "single");
    return { ...result, signature: reply.signature, signer };
  }

  /** Runs a batch; one signature over the `InferenceBatch` of all results. */
  async inferBatch(jobs: EnclaveJob[]): Promise<SignedBatch> {
    if (!Array.isArray(jobs) || jobs.length === 0) throw new InvalidJobError("a batch needs at least one job");
    if (jobs.length > this.limits.maxBatchSize) throw new InvalidJobError(`batch of ${jobs.length} exceeds the limit of ${this.limits.maxBatchSize}`);
    const { reply, signer, sent } = await this.#enqueue(jobs.map((j) => this.#checkJob(j)), "batch");
    const results = this.#checkReply(sent, reply, signer, "batch");
    this.#journal(signer, results, reply.signature, "batch");
    return { results, signature: reply.signature, signer };
  }

  /** Stops intake, fails queued jobs, waits for the job in flight, stops the runner. Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) this.#closing = this.#close();
    return this.#closing;
  }

  // ------------------------------------------------------------------------------------------

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    await this.#queue.catch(() => undefined);
    const runner = this.#runner ?? (await this.#ready);
    this.#runner = undefined;
    if (runner) await stopRunner(runner, "host closed");
  }

  /**
   * The last step before a signature leaves the host: refuses it (EquivocationRefusedError) if one
   * of its results contradicts what the key already signed for that request, else journals it.
   */
  #journal(signer: string, results: SignedResult[], signature: string, mode: "single" | "batch"): void {
    // A new key (a restart without sealing): the old key's runner is gone, so its journal leaves
    // memory (a late reply signed by it reopens the file).
    if (this.#signatures?.signer !== signer) this.#signatures = new SignatureJournal(signer, this.#options.journalDir);
    const journal = this.#signatures;
    const entries = results.map((r) => ({
      requestId: r.requestId.toString(), modelHash: r.modelHash, inputHash: r.inputHash, outputHash: r.outputHash, status: r.status,
    }));
    const conflicts = journal.conflicts(entries);
    if (conflicts.length) {
      this.#log.error({ signer, conflicts }, "runner signed a result that contradicts one already signed for the same request: signature withheld");
      throw new EquivocationRefusedError(signer, conflicts.map((c) => c.requestId));
    }
    journal.append({ signer, mode, signature, results: entries });
  }

  #checkJob(job: EnclaveJob): WireJob {
    if (this.#closed) throw new HostClosedError();
    if (typeof job?.requestId !== "bigint" || job.requestId < 0n || job.requestId >= 1n << 256n) {
      throw new InvalidJobError("requestId must be a uint256 bigint");
    }
    if (typeof job.modelHash !== "string" || !HASH_RE.test(job.modelHash)) throw new InvalidJobError("modelHash must be 0x and 64 hex digits");
    const size = typeof job.input === "string" ? (job.input.length - (job.input.startsWith("0x") ? 2 : 0)) / 2 : job.input?.length;
    if (typeof size !== "number" || !Number.isFinite(size)) throw new InvalidJobError("input must be bytes or 0x hex");
    if (size > this.limits.maxInputBytes) throw new InputTooLargeError(Math.ceil(size), this.limits.maxInputBytes);
    let input: Uint8Array;
    try {
      input = typeof job.input === "string" ? getBytes(job.input) : job.input;
    } catch {
      throw new InvalidJobError("input is not valid hex");
    }
    const modelHash = job.modelHash.toLowerCase();
    this.#models.refuseQuarantined(modelHash);
    return { requestId: job.requestId, modelHash, input };
  }

  /** Serialises calls: one in flight per runner, so a timeout measures the job, not the queue. */
  #enqueue(jobs: WireJob[], mode: "single" | "batch"): Promise<Dispatched> {
    this.#models.refuseMixedSuspects(jobs);
    this.#queued++;
    const run = this.#queue.then(() => this.#dispatch(jobs, mode)).then(
      (answer) => {
        this.#models.cleared(jobs);
        return answer;
      },
      (err) => {
        throw this.#models.blame(jobs, err);
      },
    );
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      this.#queued--;
    });
  }

  async #currentRunner(): Promise<RunnerProcess> {
    if (this.#closed) throw new HostClosedError();
    if (this.#runner && !this.#runner.exited) return this.#runner;
    const waited = await withTimeout(this.#ready, this.limits.startTimeoutMs, undefined);
    if (this.#closed) throw new HostClosedError();
    if (!waited || waited.exited || this.#runner !== waited) throw new RunnerUnavailableError("the runner is restarting");
    return waited;
  }

  async #dispatch(jobs: WireJob[], mode: "single" | "batch"): Promise<Dispatched> {
    const runner = await this.#currentRunner();
    const timeoutMs = this.limits.timeoutMs * jobs.length;
    const packed = packJobs(jobs);
    const answer = this.#call(runner, { type: "infer", id: 0, mode, ...packed }, timeoutMs);
    // The message is on its way: hash the inputs (the host's own hashes, checked against the
    // reply's) while the runner computes, instead of after its answer.
    const sent: SentBatch = { jobs, packed, inputHashes: hashInputs(jobs) };
    const reply = await answer;
    if (!reply.ok) throw mapRunnerError(reply.code, reply.message);
    if (reply.type !== "infer") throw new RunnerMisbehavedError(`answered an infer with ${reply.type}`);
    return { reply, signer: runner.signer, sent };
  }

  /** The reply's security check (verify-reply.ts) against the batch as the host sent it. */
  #checkReply(sent: SentBatch, reply: InferReply, signer: string, mode: "single" | "batch"): SignedResult[] {
    return verifyReply(this.#hasher, sent, reply, { signer, mode, checkSignature: this.#options.verifySignatures !== false });
  }

  /** Sends one request and waits for its answer; a timeout kills the runner. */
  #call(runner: RunnerProcess, msg: HostMessage, timeoutMs: number): Promise<RunnerReply> {
    return sendRequest(runner.child, runner.pending, { ...msg, id: this.#nextId++ }, timeoutMs, this.#hooks, (reason) => {
      runner.killReason = reason;
      runner.child.kill("SIGKILL");
    });
  }

  #install(runner: RunnerProcess): void {
    this.#runner = runner;
    runner.child.once("exit", () => {
      if (this.#runner !== runner || this.#closed) return;
      const reason = runner.killReason ?? "runner exited unexpectedly";
      this.#log.warn({ signer: runner.signer, reason }, "runner lost; starting a fresh one");
      this.#runner = undefined;
      this.#restart(runner.signer, reason, 0);
    });
  }

  #restart(previousSigner: string, reason: string, attempt: number): void {
    const launching = launchRunner(this.#launching);
    this.#ready = launching.then(
      (runner) => runner,
      () => undefined,
    );
    launching.then(
      async (runner) => {
        if (this.#closed) {
          await stopRunner(runner, "host closed");
          return;
        }
        this.#restarts++;
        this.#install(runner);
        const event: RestartedEvent = { signer: runner.signer, previousSigner, attestation: runner.attestation, reason, restarts: this.#restarts };
        this.emit("restarted", event);
      },
      (error: Error) => {
        if (this.#closed) return;
        const retryInMs = RESTART_BACKOFF_MS[Math.min(attempt + 1, RESTART_BACKOFF_MS.length - 1)];
        this.#log.error({ err: error.message, attempt, retryInMs }, "runner restart failed");
        this.emit("restartFailed", { error, attempt, retryInMs });
        this.#restartTimer = setTimeout(() => this.#restart(previousSigner, reason, attempt + 1), retryInMs);
        this.#restartTimer.unref();
      },
    );
  }
}

/** A runner's answer to one call, with the attested signer that gave it and the batch as sent. */
interface Dispatched {
  reply: InferReply;
  signer: string;
  sent: SentBatch;
}

async function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
