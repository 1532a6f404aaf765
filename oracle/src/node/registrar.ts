/**
 * The registrar: a runner serves only while its current signer is registered on-chain
 * (`EnclaveRegistry.registerEnclave` with its attestation report, sent by the operator). Before
 * the first registration it checks the operator's bond (bonding `bondWei` if it is short and that
 * is allowed); a runner that restarts with a new signer is registered again; on close, every
 * signer it registered is retired (`retireSigner`), so none stays "active" after its key is gone.
 * The runner pool (runner-pool.ts) asks it which runners may serve.
 */
import { Contract, type JsonRpcProvider, getAddress } from "ethers";
import type { Logger } from "pino";
import { shortError, sleep, within, withRetry } from "../chain/retry";
import type { Submitter } from "../chain/submitter";
import type { EnclaveEvidence } from "../enclave/backend";
import { ENCLAVE_REGISTRY_ABI, registryInterface } from "../protocol/abi";
import { OracleError } from "../errors";
import { ensureBonded } from "./bond";


export interface RegistrarDeps {
  provider: JsonRpcProvider;
  /** The EnclaveRegistry's address. */
  registry: string;
  /** Sends the operator's transactions (registerEnclave, retireSigner, a bond top-up). */
  submitter: Submitter;
  log: Logger;
  /** Wei to bond if the operator is below the minimum bond at start (ORACLE_BOND_WEI); 0: fail instead. */
  bondWei?: bigint;
}

/** What the registrar reads from a runner: its current signer (none while it restarts) and evidence. */
export interface RegistrableRunner {
  readonly signer: string | undefined;
  /** Throws while the runner restarts. */
  attestation(): EnclaveEvidence;
}

export class RunnerRegistrar {
  /** runner index → the signer registered on-chain for it. */
  private readonly registered = new Map<number, string>();
  private readonly registering = new Map<number, Promise<void>>();
  private readonly registry: Contract;
  private closed = false;

  constructor(private readonly deps: RegistrarDeps) {
    this.registry = new Contract(deps.registry, ENCLAVE_REGISTRY_ABI, deps.provider);
  }

  /** Checks the operator's bond, then registers every runner; resolves when all are (throws if one cannot be). */
  async registerAll(runners: readonly RegistrableRunner[]): Promise<void> {
    const { provider, registry, submitter, log } = this.deps;
    // An RPC hiccup is retried; an error that says what the operator must do (a short bond, an
    // unfunded key: its `advice`) is not, so the operator reads it at once.
    await withRetry(() => ensureBonded({ provider, registry, submitter, bondWei: this.deps.bondWei ?? 0n, log }), {
      what: "operator bond check", log, retryIf: (err) => !(err instanceof OracleError && err.advice !== undefined),
    });
    await Promise.all(runners.map((runner, index) => this.ensureRegistered(index, runner)));
  }

  /** Registers runner `index` if its current signer is not active on-chain; retries until closed. */
  ensureRegistered(index: number, runner: RegistrableRunner): Promise<void> {
    const existing = this.registering.get(index);
    if (existing) return existing;
    const p = (async () => {
      for (let attempt = 1; !this.closed; attempt++) {
        const signer = signerOf(runner);
        try {
          await this.register(index, runner);
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

  /** Runner `index` restarted with a new signer: it does not serve until that one is registered. */
  forget(index: number): void {
    this.registered.delete(index);
  }

  /** True when runner `index`'s current signer is the one registered for it. */
  serves(index: number, runner: RegistrableRunner): boolean {
    return this.registered.get(index) === signerOf(runner);
  }

  /** Signers currently registered and serving. */
  signers(): string[] {
    return [...this.registered.values()];
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

  /**
   * Stops registering and, unless `retire` is false, retires every signer registered here
   * (`retireSigner`, sent by the operator): a signer whose key is about to vanish with its runner
   * must not stay "active" on-chain. Also runs when start fails, so a failed start leaves no live
   * signer. Bounded by `timeoutMs`; a signer that could not be retired (chain unreachable) is logged.
   */
  async close({ retire = true, timeoutMs = 20_000 }: { retire?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.registering.values()]); // a registration in flight finishes first
    const signers = [...new Set(this.registered.values())];
    this.registered.clear();
    if (!retire) return;
    await Promise.all(signers.map((s) => within(this.retire(s), timeoutMs, "timed out").catch((err) =>
      this.deps.log.warn({ signer: s, err: shortError(err) }, "could not retire enclave signer; it stays active on-chain until it expires"))));
  }

  private async register(index: number, runner: RegistrableRunner): Promise<void> {
    const ev = runner.attestation();
    if (await this.isActive(ev.signer)) {
      this.deps.log.info({ runner: index, signer: ev.signer }, "enclave signer already registered");
      return;
    }
    if (ev.format !== "dev") {
      throw new Error(`runner ${index} has ${ev.format} evidence: register it through auditors (registerAttestedEnclave), not registerEnclave`);
    }
    const data = registryInterface.encodeFunctionData("registerEnclave", [
      ev.report, [ev.reportSignature.r, ev.reportSignature.s], ev.certificate,
      [ev.certificateSignature.r, ev.certificateSignature.s], ev.rootId,
    ]);
    const receipt = await this.deps.submitter.sendFromOperator(this.deps.registry, data);
    this.deps.log.info({ runner: index, signer: ev.signer, measurement: ev.measurement, tx: receipt.hash }, "enclave registered on-chain");
  }

  /** Sends `retireSigner(signer)` from the operator key, unless the signer is no longer active. */
  private async retire(signer: string): Promise<void> {
    try {
      if (!(await this.isActive(signer))) return;
      const receipt = await this.deps.submitter.sendFromOperator(this.deps.registry, registryInterface.encodeFunctionData("retireSigner", [signer]));
      this.deps.log.info({ signer, tx: receipt.hash }, "enclave signer retired on-chain");
    } catch (err) {
      this.deps.log.warn({ signer, err: shortError(err) }, "retiring enclave signer failed");
      throw err;
    }
  }
}

/** The runner's current signer, checksummed; the zero address while it restarts (never registered). */
function signerOf(runner: RegistrableRunner): string {
  return getAddress(runner.signer ?? "0x0000000000000000000000000000000000000000");
}
