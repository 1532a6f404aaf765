/**
 * What the HTTP API answers (api/server.ts), built from the node's parts: the runners'
 * attestation (`/v1/attestation`), one request's status (`/v1/requests/:id`) and the models
 * served (`/v1/models`).
 */
import type { Deployment } from "../chain/deployment";
import type { CachedModel } from "../models/cache";
import type { ModelManifestEntry } from "../models/manifest";
import type { RunnerPool } from "../node/runner-pool";
import type { RequestTracker } from "../node/tracker";
import { RequestState } from "../protocol/abi";
import { decodeCertificate, decodeReport } from "../protocol/report";

/** Each runner's evidence (the dev platform's report and certificate, decoded too), or "restarting". */
export function attestationView(runners: Pick<RunnerPool, "evidence" | "signers">, deployment: Pick<Deployment, "devPlatform">) {
  const registered = runners.signers();
  return {
    simulation: deployment.devPlatform ? "development platform: a software simulation of TEE hardware" : undefined,
    runners: runners.evidence().map(({ index, evidence: ev }) => {
      if (!ev) return { index, status: "restarting" };
      const dev = ev.format === "dev" ? ev : undefined;
      return {
        index, signer: ev.signer, measurement: ev.measurement, registered: registered.includes(ev.signer),
        ...(dev ? {
          teeType: dev.teeType, rootId: dev.rootId, report: dev.report, reportSignature: dev.reportSignature,
          reportDecoded: decodeReport(dev.report), certificate: dev.certificate, certificateSignature: dev.certificateSignature,
          certificateDecoded: decodeCertificate(dev.certificate),
        } : { format: ev.format }),
      };
    }),
  };
}

/** How far the watcher has read, to say why a request is not seen yet. */
export interface WatcherProgress {
  readonly scannedBlock: number;
  readonly lastHead: number;
}

/**
 * One request: what this node knows of it (its trail) and its on-chain state; undefined when
 * neither this node nor the chain knows it.
 */
export async function requestView(
  id: bigint, tracker: RequestTracker, onChainState: (id: bigint) => Promise<number>, watcher: WatcherProgress, confirmations: number,
) {
  const rec = tracker.get(id.toString());
  const state = await onChainState(id);
  if (!rec && state === RequestState.None) return undefined;
  // Not seen yet: say why, so an operator on a quiet chain (e.g. `hardhat node`, which mines only
  // on transactions) sees that the watcher is waiting for confirmations, not stuck.
  const unseen = `not seen by this node yet: the watcher has scanned to block ${watcher.scannedBlock} `
    + `(head ${watcher.lastHead}, ${confirmations} confirmation(s) required)`;
  return { ...(rec ?? { requestId: id.toString(), status: unseen, trail: [] }), onChainState: RequestState[state] };
}

/** The models in the cache, named from the bundled catalogue where it has them, and those declined with why. */
export function modelsView(
  cached: CachedModel[], manifest: { models: ModelManifestEntry[] }, deployment: Pick<Deployment, "models">, declined: Map<string, string>,
) {
  const byHash = new Map(manifest.models.map((m) => [m.sha256, m]));
  return {
    models: cached.map((c) => {
      const m = byHash.get(c.modelHash);
      return {
        name: m?.name ?? c.name, modelId: m ? deployment.models[m.name] ?? null : null, modelHash: c.modelHash, bytes: c.bytes, pinned: c.pinned,
        ...(m ? { file: m.file, input: m.input, output: m.output, decimals: m.decimals, determinism: m.determinism, description: m.description } : {}),
      };
    }),
    declined: Object.fromEntries(declined),
  };
}
