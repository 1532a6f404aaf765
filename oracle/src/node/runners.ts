/**
 * Runners as the node uses them: every runner is registered on-chain
 * (`EnclaveRegistry.registerEnclave` with its attestation report) before it serves, and again
 * after it restarts with a new signer. `acquire()` hands out only registered runners.
 *
 * The enclave host (oracle/src/enclave) owns the runner processes; this module adapts whatever
 * host is given to {@link RunnerSource}, so the node can be tested with any runner.
 */
import { EventEmitter } from "node:events";
import { Contract, Interface, JsonRpcProvider, getAddress } from "ethers";
import type { Logger } from "pino";
import { shortError, sleep, withRetry } from "../chain/retry";
import { within } from "./preflight";
import type { Submitter } from "../chain/submitter";
import { NotBondedError, ensureBonded } from "./bond";
import type { EnclaveJob, SignedResult } from "../enclave/host";
import type { OracleMetrics } from "../metrics";
import { ENCLAVE_REGISTRY_ABI } from "../protocol/abi";

/** Evidence of the development platform, as the EnclaveRegistry takes it. */
export interface RunnerEvidence {
  report: string;
  reportSignature: { r: string; s: string };
  certificate: string;
  certificateSignature: { r: string; s: string };
  rootId: string;
  measurement: string;
  signer: string;
  teeType: number;
  issuedAt: bigint;
  expiresAt: bigint;
}

/** One job of a batch, as the enclave host takes it. */
export type BatchJob = EnclaveJob;

/** One signed result of a batch, as the enclave host returns it. */
export type BatchResult = SignedResult;

export interface SignedBatch {
  results: BatchResult[];
  signature: string;
  /** The key the signature recovers to: the runner's attested signer when it signed. */
  signer: string;
}

/** One runner process as the host exposes it. */
export interface RunnerHandle {
  readonly index: number;
  /** The runner's current enclave signer. */
  signer(): string;
  /** Its current attestation evidence (a new one after a restart); hardware evidence has no `report`. */
  evidence(): RunnerEvidence | { format: string; signer: string; measurement: string };
  /**
   * One result per job, in order, for that job's request, model and input; the signature over
   * the batch recovered to `signer` (the enclave host checks both, else RunnerMisbehavedError).
   */
  inferBatch(jobs: BatchJob[]): Promise<SignedBatch>;
}

/** What the node needs from the enclave host. Emits "restarted" (index) when a runner comes back with a new signer. */
export interface RunnerSource extends EventEmitter {
  runners(): RunnerHandle[];
  close(): Promise<void>;
}

export interface ServingRunner {
  index: number;
  signer: string;
  inferBatch(jobs: BatchJob[]): Promise<SignedBatch>;
}

export class RunnerUnavailable extends Error {
  readonly transient = true;
  constructor(message: string) {
    super(message);
    this.name = "RunnerUnavailable";
  }
}

const registryIface = new Interface(ENCLAVE_REGISTRY_ABI);

export class RegisteredRunnerPool {
  /** index → signer registered on-chain for it. */
  private readonly registered = new Map<number, string>();
  private readonly busy = new Map<number, number>();
  private readonly registering = new Map<number, Promise<void>>();
  private readonly registry: Contract;
  private closed = false;

  constructor(
    private readonly deps: {
      source: RunnerSource; provider: JsonRpcProvider; registry: string; submitter: Submitter; metrics: OracleMetrics; log: Logger;
      /** Wei to bond if the operator is below the minimum bond at start (ORACLE_BOND_WEI); 0: fail instead. */
      bondWei?: bigint;
    },
  ) {
    this.registry = new Contract(deps.registry, ENCLAVE_REGISTRY_ABI, deps.provider);
    deps.source.on("restarted", (index: number) => {
      this.deps.metrics.runnerRestarts.inc();
      this.registered.delete(index);
      this.deps.log.warn({ runner: index }, "runner restarted with a new signer: re-registering before it serves");
      void this.ensureRegistered(index).catch(() => undefined);
    });
  }

  /**
   * Checks the operator's bond (bonding `bondWei` if it is short and that is allowed), then
   * registers every runner; resolves when all are registered (throws if one cannot be).
   */
  async start(): Promise<void> {
    const { provider, registry, submitter, log } = this.deps;
    // An RPC hiccup is retried; a bond that is short is not (it says what to do at once).
    await withRetry(() => ensureBonded({ provider, registry, submitter, bondWei: this.deps.bondWei ?? 0n, log }), {
      what: "operator bond check", log, retryIf: (err) => !(err instanceof NotBondedError) && (err as { advice?: string }).advice === undefined,
    });
    await Promise.all(this.deps.source.runners().map((r) => this.ensureRegistered(r.index)));
  }

  /** Registers runner `index` if its current signer is not active on-chain; retries until closed. */
  ensureRegistered(index: number): Promise<void> {
    const existing = this.registering.get(index);
    if (existing) return existing;
    const p = (async () => {
      for (let attempt = 1; !this.closed; attempt++) {
        const runner = this.deps.source.runners().find((r) => r.index === index);
        if (!runner) throw new Error(`no runner ${index}`);
        const signer = getAddress(runner.signer());
        try {
          await this.register(runner);
          this.registered.set(index, signer);
          return;
        } catch (err) {
          this.deps.log.warn({ runner: index, signer, attempt, err: shortError(err) }, "enclave registration failed; retrying");
          if (attempt >= 5) throw err;
          await sleep(500 * attempt);
        }
      }
    })().finally(() => this.registering.delete(index));
    this.registering.set(index, p);
    return p;
  }

  private async register(runner: RunnerHandle): Promise<void> {
    const any = runner.evidence();
    if (await this.isActive(any.signer)) {
      this.deps.log.info({ runner: runner.index, signer: any.signer }, "enclave signer already registered");
      return;
    }
    if (!("report" in any)) {
      throw new Error(`runner ${runner.index} has ${any.format} evidence: register it through auditors (registerAttestedEnclave), not registerEnclave`);
    }
    const ev = any;
    const data = registryIface.encodeFunctionData("registerEnclave", [
      ev.report, [ev.reportSignature.r, ev.reportSignature.s], ev.certificate,
      [ev.certificateSignature.r, ev.certificateSignature.s], ev.rootId,
    ]);
    const receipt = await this.deps.submitter.sendFromOperator(this.deps.registry, data);
    this.deps.log.info({ runner: runner.index, signer: ev.signer, measurement: ev.measurement, tx: receipt.hash }, "enclave registered on-chain");
  }

  /** True when `signer` is an active enclave in the registry. */
  async isActive(signer: string): Promise<boolean> {
    try {
      await this.registry.activeEnclave(signer);
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "CALL_EXCEPTION") return false;
      throw err;
    }
  }

  /** True when every runner is registered with its current signer. */
  allRegistered(): boolean {
    const runners = this.deps.source.runners();
    return runners.length > 0 && runners.every((r) => this.registered.get(r.index) === getAddress(r.signer()));
  }

  /** Signers currently registered and serving. */
  signers(): string[] {
    return [...this.registered.values()];
  }

  /** The least busy registered runner. */
  acquire(): ServingRunner {
    const ready = this.deps.source.runners().filter((r) => this.registered.get(r.index) === getAddress(r.signer()));
    if (!ready.length) throw new RunnerUnavailable("no registered runner is ready");
    const r = ready.reduce((a, b) => ((this.busy.get(b.index) ?? 0) < (this.busy.get(a.index) ?? 0) ? b : a));
    const signer = getAddress(r.signer());
    return {
      index: r.index, signer,
      inferBatch: async (jobs) => {
        this.busy.set(r.index, (this.busy.get(r.index) ?? 0) + 1);
        try {
          return await r.inferBatch(jobs);
        } finally {
          this.busy.set(r.index, (this.busy.get(r.index) ?? 1) - 1);
        }
      },
    };
  }

  /**
   * Stops registering and retires every signer this pool registered (`retireSigner`, sent by the
   * operator): a signer whose key is about to vanish with its runner must not stay "active"
   * on-chain. Also runs when start fails, so a failed start leaves no live signer. Bounded by
   * `timeoutMs`; a signer that could not be retired (chain unreachable) is logged.
   */
  async close(timeoutMs = 20_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.registering.values()]); // a registration in flight finishes first
    const signers = [...new Set(this.registered.values())];
    this.registered.clear();
    await Promise.all(signers.map((s) => within(this.retire(s), timeoutMs, "timed out").catch((err) =>
      this.deps.log.warn({ signer: s, err: shortError(err) }, "could not retire enclave signer; it stays active on-chain until it expires"))));
  }

  /** Sends `retireSigner(signer)` from the operator key, unless the signer is no longer active. */
  private async retire(signer: string): Promise<void> {
    try {
      if (!(await this.isActive(signer))) return;
      const receipt = await this.deps.submitter.sendFromOperator(this.deps.registry, registryIface.encodeFunctionData("retireSigner", [signer]));
      this.deps.log.info({ signer, tx: receipt.hash }, "enclave signer retired on-chain");
    } catch (err) {
      this.deps.log.warn({ signer, err: shortError(err) }, "retiring enclave signer failed");
      throw err;
    }
  }
}
