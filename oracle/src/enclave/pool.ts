/**
 * A pool of N enclave hosts (N runner processes), each with its own key and attestation.
 * Dispatch goes to the least busy host, ties broken round-robin. Restarts of any host are
 * counted and re-emitted as `restarted` with the host's index, so the node registers new signers.
 */
import { EventEmitter } from "node:events";
import * as path from "node:path";
import type { EnclaveEvidence } from "./backend";
import { HostClosedError, InvalidJobError } from "./errors";
import type { EnclaveHostOptions } from "./host-options";
import { EnclaveHost, type InferenceJob, type RestartedEvent, type SignedBatch, type SignedInference } from "./host";

export interface RunnerPoolOptions extends Omit<EnclaveHostOptions, "sealedKeyPath"> {
  /** Number of runner processes. Default 1. */
  size?: number;
  /** Folder for sealed keys, one file per runner (`runner-<i>.sealed.json`); no sealing if absent. */
  sealedKeyDir?: string;
}

export interface PoolRestartedEvent extends RestartedEvent {
  index: number;
}

export class RunnerPool extends EventEmitter {
  readonly #hosts: EnclaveHost[];
  #next = 0;
  #closing?: Promise<void>;

  private constructor(hosts: EnclaveHost[]) {
    super();
    this.#hosts = hosts;
    hosts.forEach((host, index) => {
      host.on("restarted", (e: RestartedEvent) => this.emit("restarted", { ...e, index } satisfies PoolRestartedEvent));
      host.on("restartFailed", (e: object) => this.emit("restartFailed", { ...e, index }));
    });
  }

  /** Starts `size` hosts in parallel; if one fails to start, the others are closed and the error is thrown. */
  static async start(options: RunnerPoolOptions): Promise<RunnerPool> {
    const size = options.size ?? 1;
    if (!Number.isInteger(size) || size < 1) throw new InvalidJobError(`pool size must be a positive integer, got ${size}`);
    const { sealedKeyDir, size: _size, ...hostOptions } = options;
    const started = await Promise.allSettled(
      Array.from({ length: size }, (_, i) =>
        EnclaveHost.start({
          ...hostOptions,
          ...(sealedKeyDir ? { sealedKeyPath: path.join(sealedKeyDir, `runner-${i}.sealed.json`) } : {}),
        }),
      ),
    );
    const hosts = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) {
      await Promise.allSettled(hosts.map((h) => h.close()));
      throw failed.reason;
    }
    return new RunnerPool(hosts);
  }

  get size(): number {
    return this.#hosts.length;
  }

  /** Total runner restarts across the pool. */
  get restarts(): number {
    return this.#hosts.reduce((n, h) => n + h.restarts, 0);
  }

  /** Jobs queued or in flight across the pool. */
  get busy(): number {
    return this.#hosts.reduce((n, h) => n + h.busy, 0);
  }

  /** The hosts, for their attestations and signers. */
  hosts(): readonly EnclaveHost[] {
    return this.#hosts;
  }

  /** Attestations of the runners that are up (one is missing while its runner restarts). */
  attestations(): EnclaveEvidence[] {
    return this.#hosts.flatMap((h) => (h.signer ? [h.attestation()] : []));
  }

  infer(job: InferenceJob): Promise<SignedInference> {
    return this.#pick().infer(job);
  }

  inferBatch(jobs: InferenceJob[]): Promise<SignedBatch> {
    return this.#pick().inferBatch(jobs);
  }

  /** Closes every host (each close runs even if another throws). Idempotent. */
  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = Promise.allSettled(this.#hosts.map((h) => h.close())).then((outcomes) => {
        const errors = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
        if (errors.length > 0) throw new AggregateError(errors, "some runners failed to close");
      });
    }
    return this.#closing;
  }

  /** Least busy host; among equals, the next in round-robin order. */
  #pick(): EnclaveHost {
    if (this.#closing) throw new HostClosedError();
    let best = -1;
    for (let k = 0; k < this.#hosts.length; k++) {
      const i = (this.#next + k) % this.#hosts.length;
      if (best < 0 || this.#hosts[i].busy < this.#hosts[best].busy) best = i;
    }
    this.#next = (best + 1) % this.#hosts.length;
    return this.#hosts[best];
  }
}
