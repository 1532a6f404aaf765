/** How an enclave host is configured: its limits, logger, test hooks and options. */
import type { AttestationBackend } from "./backend";

/** Limits the host enforces. */
export interface EnclaveLimits {
  /** Largest input, in bytes, that reaches the runner. Default 64 KiB. */
  maxInputBytes: number;
  /** Time one job may take, from dispatch to answer; a batch gets `timeoutMs` × its size. Default 10 s. */
  timeoutMs: number;
  /** Most jobs in one batch. Default 256. */
  maxBatchSize: number;
  /** Time for a runner to start, unseal or create its key, and be attested. Default 60 s. */
  startTimeoutMs: number;
  /** OS data-segment limit of the runner process, in MiB (prlimit --data); 0 = none. Default 4096. */
  maxRunnerMemoryMb: number;
  /** Largest model file the runner loads, in bytes. Default 64 MiB. */
  maxModelBytes: number;
}

export const DEFAULT_LIMITS: EnclaveLimits = {
  maxInputBytes: 64 * 1024,
  timeoutMs: 10_000,
  maxBatchSize: 256,
  startTimeoutMs: 60_000,
  maxRunnerMemoryMb: 4096,
  maxModelBytes: 64 * 1024 * 1024,
};

/** A structured logger (pino's shape). */
export interface EnclaveLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Test-only switches; honoured only when ORACLE_ENCLAVE_TEST_HOOKS=1 is set in the host's
 * environment, and refused otherwise so production cannot slow or instrument a runner by accident.
 */
export interface EnclaveTestHooks {
  /** The runner sleeps `delayMs` before the job of request `requestId` (a slow model). */
  slowJob?: { requestId: bigint; delayMs: number };
  /** Extra Node options for the runner (e.g. a preload that records loaded modules). */
  execArgv?: string[];
  /** Extra environment for the runner. */
  env?: Record<string, string>;
  /** Sees every IPC message, both ways, exactly as sent. */
  onIpc?: (direction: "toRunner" | "fromRunner", message: unknown) => void;
  /** Sees every chunk the runner writes to stdout or stderr. */
  onOutput?: (stream: "stdout" | "stderr", chunk: Buffer) => void;
}

export interface EnclaveHostOptions {
  /** Attests the runner: the development platform (a simulation) or a real TEE backend. */
  platform: AttestationBackend;
  /**
   * The operator that will register the runner's signer: the node's sending address. The
   * development platform signs it into every report, and the EnclaveRegistry accepts the report
   * only from that address, so a copy of it (mempool, `/v1/attestation`) is useless to anyone
   * else. Without it a dev report names the zero address and cannot be registered at all.
   */
  operator?: string;
  /** Folder of the models and their manifest; default `<repo>/models`. */
  modelsDir?: string;
  limits?: Partial<EnclaveLimits>;
  /** Oracle EIP-712 domain the runner signs under. */
  chainId: bigint | number;
  oracleAddress: string;
  /** Keep the runner key across restarts, sealed to the platform and the measurement. */
  sealedKeyPath?: string;
  /**
   * Folder of the signature journal (journal.ts): every released signature is appended there
   * first, and a result contradicting one the same key signed for the same request is withheld.
   * Keep it with the sealed key. Default: the journal lives in memory (the guard lasts as long as
   * the host).
   */
  journalDir?: string;
  logger?: EnclaveLogger;
  /** Checkout whose runner is measured and launched; default this one. */
  repoRoot?: string;
  /** Recover each signature in the host and compare with the attested signer. Default true. */
  verifySignatures?: boolean;
  testHooks?: EnclaveTestHooks;
}
