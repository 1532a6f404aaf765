/**
 * A request's end-to-end audit as a page: the auditor's `verifyResult` (what
 * `oracle audit verify-result` runs) over the node's own chain connection, this checkout and its
 * models, rendered by the auditor's HTML report. Audits run one at a time (each re-runs a model and,
 * the first time, measures the runner from source) and a page is kept for a minute.
 */
import type { Provider } from "ethers";
import type { Logger } from "pino";
import { AuditError } from "../../audit/errors";
import { escapeHtml } from "../../audit/html-report";
import { renderResultHtml } from "../../audit/result/render";
import { verifyResult } from "../../audit/result/verify-result";
import type { Deployment } from "../../chain/deployment";
import { measureRunner, type RunnerMeasurement } from "../../enclave/measure";
import type { ModelManifestEntry } from "../../models/manifest";
import { modelView } from "../../models/view";

export interface AuditPagesDeps {
  provider: Provider;
  deployment: Deployment;
  /** Checkout whose runner is measured and compared with the registered measurement. */
  sourceDir: string;
  modelsDir: string;
  manifest: { models: ModelManifestEntry[] };
  log: Logger;
}

export interface AuditPage {
  status: number;
  html: string;
}

const KEEP_MS = 60_000;
const MAX_PAGES = 200;
/** Audits waiting their turn beyond which a new one is refused (503) rather than queued. */
const MAX_WAITING = 8;

export class AuditPages {
  private readonly pages = new Map<string, { at: number; page: AuditPage }>();
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private measurement?: RunnerMeasurement;

  constructor(private readonly deps: AuditPagesDeps) {}

  /** The audit page of request `id` (200 verified or broken, 404 unknown request, 503 too many audits waiting). */
  page(id: bigint): Promise<AuditPage> {
    const key = id.toString();
    const kept = this.pages.get(key);
    if (kept && Date.now() - kept.at < KEEP_MS) return Promise.resolve(kept.page);
    if (this.waiting >= MAX_WAITING) {
      return Promise.resolve({ status: 503, html: errorPage(`Request ${key} cannot be audited now`, `${this.waiting} audits are waiting their turn; try again in a few seconds`) });
    }
    this.waiting++;
    const run = this.tail.then(() => this.audit(id)).finally(() => { this.waiting--; });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async audit(id: bigint): Promise<AuditPage> {
    const key = id.toString();
    const kept = this.pages.get(key);
    if (kept && Date.now() - kept.at < KEEP_MS) return kept.page; // audited while this one waited
    const { provider, deployment, sourceDir, modelsDir } = this.deps;
    if (!this.measurement) {
      try {
        this.measurement = measureRunner({ repoRoot: sourceDir });
      } catch {
        // verifyResult measures again and reports why it cannot, as the check that fails
      }
    }
    let page: AuditPage;
    try {
      const report = await verifyResult({ provider, deployment, requestId: id, sourceDir, modelsDir, measurement: this.measurement });
      const hash = String(report.facts.request.modelHash ?? "").toLowerCase();
      const entry = this.deps.manifest.models.find((m) => m.sha256 === hash);
      page = { status: 200, html: renderResultHtml(report, { model: entry ? modelView(entry) : undefined, back: { href: "/console/", text: "← console" } }) };
      this.deps.log.info({ requestId: key, valid: report.valid, failedCheck: report.failedCheck }, "console: audited request");
    } catch (err) {
      if (!(err instanceof AuditError)) throw err;
      page = { status: 404, html: errorPage(`Request ${key} cannot be audited`, err.message) };
    }
    this.pages.set(key, { at: Date.now(), page });
    if (this.pages.size > MAX_PAGES) this.pages.delete(this.pages.keys().next().value!);
    return page;
  }
}

/** A short page for an audit that could not run (styled by the console's sheet, no inline style). */
function errorPage(title: string, message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<link rel="stylesheet" href="/console/assets/console.css"></head><body><main class="narrow"><h1>${escapeHtml(title)}</h1>` +
    `<p>${escapeHtml(message)}</p><p><a href="/console/">Back to the console</a></p></main></body></html>`;
}
