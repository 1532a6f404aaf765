/**
 * Keeps this node's enclave signers on the registry's cheap path. The EnclaveRegistry skips the
 * reads that re-check a signer's measurement, root and operator bond while the revocation epoch
 * stamped in the signer's record is the registry's current one. A revocation, or any serving
 * operator's bond falling below the minimum, moves the epoch; from then every result of every signer
 * pays those reads (≈ 6,300 gas per transaction) until `refreshSigner(signer)` stamps it again.
 *
 * This loop reads `revocationEpoch()` every `intervalMs` and, after each move, sends one
 * `refreshSigner` per signer this node has registered (≈ 35k gas once, against ≈ 6.3k saved on every
 * later fulfilment). A refresh the registry refuses says why (the measurement or the root was
 * revoked, or the operator's bond is short): such a signer is no longer active anyway, and the
 * warning names what to fix.
 */
import { Contract, Interface, type Provider } from "ethers";
import EnclaveRegistryAbi from "../../../contracts/abi/EnclaveRegistry.json";
import type { Logger } from "pino";
import { shortError } from "../chain/retry";
import type { Submitter } from "../chain/submitter";
import type { OracleMetrics } from "../metrics";
import { ENCLAVE_REGISTRY_ABI, registryInterface } from "../protocol/abi";

/** The registry's full ABI, errors included, to name why it refuses. */
const registryErrors = new Interface(EnclaveRegistryAbi);

/** The registry's named error in a reverted call, e.g. `OperatorBondsNotBonded(0x…, 0, 1000000000000000000)`. */
function refusal(err: unknown): string {
  const data = (err as { data?: string }).data;
  const parsed = typeof data === "string" ? registryErrors.parseError(data) : null;
  return parsed ? `${parsed.name}(${parsed.args.map(String).join(", ")})` : shortError(err);
}

export interface SignerRefreshDeps {
  provider: Provider;
  registry: string;
  submitter: Pick<Submitter, "sendFromOperator">;
  /** The signers this node has registered and serves with now. */
  signers: () => string[];
  log: Logger;
  metrics?: Pick<OracleMetrics, "signerRefreshes">;
  /** How often the epoch is read (default 30 s). */
  intervalMs?: number;
}

export class SignerRefresher {
  private readonly registry: Contract;
  /** The epoch every signer of this node was last stamped with (or registered under). */
  private epoch?: bigint;
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(private readonly deps: SignerRefreshDeps) {
    this.registry = new Contract(deps.registry, ENCLAVE_REGISTRY_ABI, deps.provider);
  }

  /** Reads the current epoch (the signers were just registered under it) and starts the loop. */
  async start(): Promise<void> {
    this.epoch = BigInt(await this.registry.revocationEpoch());
    const tick = () => {
      this.timer = setTimeout(() => void this.check().catch((err) => {
        this.deps.log.warn({ err: shortError(err) }, "reading the registry's revocation epoch failed; trying again later");
      }).finally(() => { if (this.timer) tick(); }), this.deps.intervalMs ?? 30_000);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Refreshes every signer if the epoch moved since the last look; returns how many were refreshed.
   * The epoch is remembered only once every signer was refreshed or refused: a send that failed for
   * a transient reason is tried again at the next look.
   */
  check(): Promise<number> {
    this.running ??= this.refreshIfMoved().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async refreshIfMoved(): Promise<number> {
    const now = BigInt(await this.registry.revocationEpoch());
    if (this.epoch === now) return 0;
    let refreshed = 0;
    let retry = false;
    for (const signer of this.deps.signers()) {
      const outcome = await this.refresh(signer);
      if (outcome !== "retry") this.deps.metrics?.signerRefreshes.inc({ outcome });
      if (outcome === "refreshed") refreshed++;
      if (outcome === "retry") retry = true;
    }
    if (!retry) this.epoch = now;
    return refreshed;
  }

  private async refresh(signer: string): Promise<"refreshed" | "refused" | "retry"> {
    const { log } = this.deps;
    try {
      // A signer the registry would not stamp (revoked measurement or root, bond short) reverts
      // here with the registry's named error, before anything is sent.
      await this.registry.refreshSigner.staticCall(signer);
    } catch (err) {
      if ((err as { code?: string }).code !== "CALL_EXCEPTION") return "retry";
      log.warn({ signer, reason: refusal(err) }, "the registry refuses to refresh this enclave signer: it is not active (see the reason)");
      return "refused";
    }
    try {
      const receipt = await this.deps.submitter.sendFromOperator(this.deps.registry, registryInterface.encodeFunctionData("refreshSigner", [signer]));
      log.info({ signer, tx: receipt.hash, gasUsed: receipt.gasUsed.toString() }, "enclave signer refreshed after the registry's revocation epoch moved");
      return "refreshed";
    } catch (err) {
      log.warn({ signer, err: shortError(err) }, "refreshing enclave signer failed; trying again at the next look");
      return "retry";
    }
  }
}
