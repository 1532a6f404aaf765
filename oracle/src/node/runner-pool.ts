/**
 * The node's runners: N enclave hosts (enclave/host.ts: one measured, attested runner process
 * each, restarted by its host when it dies), handed out least busy first, and only while the
 * runner's current signer is registered on-chain (registrar.ts). A runner that restarts with a
 * new signer is taken out of service until the new one is registered; the pool re-emits the
 * restart as `restarted` (index). `close()` retires the signers, then stops the hosts; idempotent.
 */
import { EventEmitter } from "node:events";
import { getAddress } from "ethers";
import type { Logger } from "pino";
import type { AttestationBackend, EnclaveEvidence } from "../enclave/backend";
import { RunnerUnavailableError } from "../enclave/errors";
import { EnclaveHost, type EnclaveJob, type SignedBatch } from "../enclave/host";
import type { OracleMetrics } from "../metrics";
import type { RegistrableRunner, RunnerRegistrar } from "./registrar";

/** One runner as the pool uses it: an {@link EnclaveHost} (tests may give a stand-in). */
export interface PoolRunner extends RegistrableRunner {
  /** Jobs queued or in flight. */
  readonly busy: number;
  /** Results for these jobs, in order, signed by the runner and checked by the host (verify-reply.ts). */
  inferBatch(jobs: EnclaveJob[]): Promise<SignedBatch>;
  /** "restarted": the runner came back with a new signer. */
  on(event: "restarted", listener: () => void): unknown;
  close(): Promise<void>;
}

/** A runner acquired for one batch, with the signer registered for it when it was acquired. */
export interface RunnerLease {
  index: number;
  signer: string;
  inferBatch(jobs: EnclaveJob[]): Promise<SignedBatch>;
}

/** What the pool asks of the registrar (registrar.ts; a test about the runners may give a stand-in). */
export type Registrar = Pick<RunnerRegistrar, "registerAll" | "ensureRegistered" | "forget" | "serves" | "signers" | "close">;

export interface LaunchOptions {
  count: number;
  platform: AttestationBackend;
  /** The node's sending (operator) address: the dev platform signs it into each report, and only it may register them. */
  operator: string;
  chainId: number;
  oracle: string;
  modelsDir: string;
  maxInputBytes: number;
  maxBatchSize: number;
  /** Folder of the hosts' signature journals (see enclave/journal.ts); default in memory. */
  journalDir?: string;
  log: Logger;
}

export interface PoolDeps {
  registrar: Registrar;
  metrics: Pick<OracleMetrics, "runnerRestarts">;
  log: Logger;
}

export class RunnerPool extends EventEmitter {
  private closing?: Promise<void>;

  constructor(readonly hosts: readonly PoolRunner[], private readonly deps: PoolDeps) {
    super();
    hosts.forEach((host, index) => host.on("restarted", () => this.restarted(index)));
  }

  /** Starts `count` enclave hosts in parallel; if one fails to start, the others are stopped. */
  static async launch(opts: LaunchOptions, deps: PoolDeps): Promise<RunnerPool> {
    const started = await Promise.allSettled(Array.from({ length: opts.count }, (_, i) => EnclaveHost.start({
      platform: opts.platform, operator: opts.operator, chainId: opts.chainId, oracleAddress: opts.oracle, modelsDir: opts.modelsDir,
      limits: { maxInputBytes: opts.maxInputBytes, maxBatchSize: Math.max(opts.maxBatchSize, 1) },
      logger: opts.log.child({ runner: i }), ...(opts.journalDir !== undefined ? { journalDir: opts.journalDir } : {}),
    })));
    const hosts = started.filter((s): s is PromiseFulfilledResult<EnclaveHost> => s.status === "fulfilled").map((s) => s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) {
      await Promise.allSettled(hosts.map((h) => h.close()));
      throw failed.reason;
    }
    return new RunnerPool(hosts, deps);
  }

  /** Checks the operator's bond and registers every runner; resolves when all serve (throws if one cannot). */
  register(): Promise<void> {
    return this.deps.registrar.registerAll(this.hosts);
  }

  /** The least busy runner whose current signer is registered; RunnerUnavailableError if none is. */
  acquire(): RunnerLease {
    const ready = this.hosts.map((host, index) => ({ host, index })).filter(({ host, index }) => this.deps.registrar.serves(index, host));
    if (!ready.length) throw new RunnerUnavailableError("no registered runner is ready");
    const { host, index } = ready.reduce((a, b) => (b.host.busy < a.host.busy ? b : a));
    return { index, signer: getAddress(host.signer!), inferBatch: (jobs) => host.inferBatch(jobs) };
  }

  /** True when every runner is registered with its current signer. */
  allRegistered(): boolean {
    return this.hosts.length > 0 && this.hosts.every((host, index) => this.deps.registrar.serves(index, host));
  }

  /** Signers currently registered and serving. */
  signers(): string[] {
    return this.deps.registrar.signers();
  }

  /** Each runner's current evidence; undefined while it restarts. */
  evidence(): { index: number; evidence?: EnclaveEvidence }[] {
    return this.hosts.map((host, index) => {
      try {
        return { index, evidence: host.attestation() };
      } catch {
        return { index };
      }
    });
  }

  /** The runners' measurement (one source tree, so one measurement for all of them). */
  measurement(): string {
    const ready = this.evidence().find((r) => r.evidence);
    if (!ready) throw new RunnerUnavailableError("no runner has evidence yet (restarting)");
    return ready.evidence!.measurement;
  }

  /**
   * Retires the signers registered (unless `retire` is false: `oracle register-enclave` leaves
   * them), then stops every host. Idempotent: a second call waits for the first.
   */
  close({ retire = true }: { retire?: boolean } = {}): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.deps.registrar.close({ retire });
      } finally {
        await Promise.allSettled(this.hosts.map((h) => h.close()));
      }
    })();
    return this.closing;
  }

  private restarted(index: number): void {
    this.deps.metrics.runnerRestarts.inc();
    this.deps.registrar.forget(index);
    this.deps.log.warn({ runner: index }, "runner restarted with a new signer: re-registering before it serves");
    void this.deps.registrar.ensureRegistered(index, this.hosts[index]).catch(() => undefined);
    this.emit("restarted", index);
  }
}
