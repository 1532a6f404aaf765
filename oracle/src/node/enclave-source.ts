/**
 * Adapts the enclave engineer's {@link EnclaveHost} (one measured, attested runner process per
 * host, restarted by the host when it dies) to the node's {@link RunnerSource}: N hosts, one per
 * runner, re-emitting each host's `restarted` with the runner's index.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { AttestationBackend } from "../enclave/backend";
import { EnclaveHost } from "../enclave/host";
import type { BatchJob, RunnerEvidence, RunnerHandle, RunnerSource, SignedBatch } from "./runners";

export interface EnclaveRunnersOptions {
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

export class EnclaveRunners extends EventEmitter implements RunnerSource {
  private closing?: Promise<void>;

  private constructor(private readonly hosts: EnclaveHost[]) {
    super();
    hosts.forEach((host, index) => host.on("restarted", () => this.emit("restarted", index)));
  }

  /** Starts `count` runners in parallel; if one fails to start, the others are stopped. */
  static async start(opts: EnclaveRunnersOptions): Promise<EnclaveRunners> {
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
    return new EnclaveRunners(hosts);
  }

  runners(): RunnerHandle[] {
    return this.hosts.map((host, index) => ({
      index,
      signer: () => host.signer ?? "0x0000000000000000000000000000000000000000",
      evidence: () => host.attestation() as RunnerEvidence,
      inferBatch: (jobs: BatchJob[]): Promise<SignedBatch> => host.inferBatch(jobs),
    }));
  }

  /** Host objects (for the bench: runner pids). */
  get enclaveHosts(): readonly EnclaveHost[] {
    return this.hosts;
  }

  close(): Promise<void> {
    this.closing ??= Promise.allSettled(this.hosts.map((h) => h.close())).then(() => undefined);
    return this.closing;
  }
}
