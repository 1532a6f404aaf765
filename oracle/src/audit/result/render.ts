/**
 * The result audit's report in words (one line per link, then every check) and as a
 * self-contained HTML page with the request's input and output values; used by
 * `oracle audit verify-result`, the demo and the console.
 */
import { isoTime } from "../checks";
import { escapeHtml, renderHtmlReport } from "../html-report";
import { checkCounts, checkLines, factLines } from "../text-report";
import type { VerificationReport } from "../types";
import { describeInput, describeTensor, type ModelView, type TensorView } from "../../models/view";
import { linkOf, RESULT_LINKS, type ResultFacts, type ResultReport } from "./report";

/** The chain in one line, a mark per link: ✔ held, ✘ broke, – not reached. */
export function linkLine(report: ResultReport): string {
  return RESULT_LINKS.map((link) => {
    const checks = report.checks.filter((c) => linkOf(c.name) === link);
    if (checks.length === 0) return null;
    const mark = checks.some((c) => !c.ok && !c.skipped) ? "✘" : checks.every((c) => c.ok) ? "✔" : "–";
    return `${link} ${mark}`;
  }).filter(Boolean).join(" → ");
}

/** The facts gathered per link (the network, chain id and oracle head the report instead). */
function linkFacts(f: ResultFacts): object {
  return { request: f.request, submissions: f.submissions, measurement: f.measurement, model: f.model, rerun: f.rerun, callback: f.callback };
}

/** The report in words: verdict, the broken link, every check, the facts. */
export function formatResultText(report: ResultReport): string {
  const f = report.facts;
  return [
    `request ${report.requestId} on ${f.network} (chain ${f.chainId}, oracle ${f.oracle}): ` +
      (report.valid ? "VERIFIED, every link holds" : `BROKEN at link "${report.brokenLink ?? "?"}" (first failed check: ${report.failedCheck})`),
    `verified at ${isoTime(report.at)}`,
    `chain: ${linkLine(report)}`,
    "",
    checkCounts(report.checks),
    ...checkLines(report.checks),
    ...factLines(linkFacts(f)),
  ].join("\n");
}

/**
 * The report as one self-contained HTML page, drawn by the evidence report's renderer: the
 * verdict (SIMULATION when the development platform attested the signer), the request's input and
 * output as values with the model's names, the chain request → fulfilment → signer → registration
 * → attestation → measurement → model → output → callback, every check with its evidence, and the
 * facts. `model` (from the manifest entry with the request's model hash) names the values; without
 * it they are shown by position.
 */
export function renderResultHtml(report: ResultReport, options: { model?: ModelView; back?: { href: string; text: string } } = {}): string {
  const f = report.facts;
  return renderHtmlReport(report as unknown as VerificationReport, {
    heading: `Result of request ${report.requestId} on ${f.network}`,
    verdictWords: { ok: "VERIFIED", broken: "BROKEN" },
    simulation: report.simulation,
    preamble: renderValues(report, options.model),
    facts: linkFacts(f),
    factsTitle: "Facts read from the chain and the checkout",
    back: options.back,
    footer: `Attested inference oracle · end-to-end audit of request ${escapeHtml(report.requestId)} on chain ${f.chainId}, oracle <code>${escapeHtml(f.oracle)}</code>. ` +
      "The same report in words: <code>oracle audit verify-result --request " + escapeHtml(report.requestId) + "</code>.",
  });
}

function valuesTable(caption: string, view: TensorView | undefined, hex: unknown): string {
  const raw = typeof hex === "string" ? `<details class="ev"><summary>raw bytes (abi.encode(int256[]))</summary><code class="sub">${escapeHtml(hex)}</code></details>` : "";
  if (!view) return `<div><table><caption>${escapeHtml(caption)}</caption><tbody><tr><td class="muted">not available</td></tr></tbody></table>${raw}</div>`;
  const rows = view.values.map((v) => `<tr${view.top === v.name ? ' class="top"' : ""}><td>${escapeHtml(v.name)}</td><td class="v">${escapeHtml(v.value)}</td></tr>`).join("");
  const top = view.top ? ` — ${escapeHtml(view.top)}` : "";
  return `<div><table><caption>${escapeHtml(caption)}${top}</caption><tbody>${rows}</tbody></table>${raw}</div>`;
}

function renderValues(report: ResultReport, model: ModelView | undefined): string {
  const r = report.facts.request;
  const decimals = model?.decimals ?? (typeof report.facts.model.decimals === "number" ? report.facts.model.decimals : 0);
  const input = typeof r.input !== "string" ? undefined
    : model ? describeInput(r.input, model) : describeTensor(r.input, decimals);
  const output = typeof r.output === "string" && r.status === 0 ? describeTensor(r.output, decimals, { labels: model?.labels }) : undefined;
  const name = model?.name ?? (report.facts.model.name as string | undefined) ?? `model ${r.modelId ?? "?"}`;
  const meta = [
    `model <b>${escapeHtml(name)}</b> (id ${escapeHtml(String(r.modelId ?? "?"))}, ${decimals} decimals)`,
    r.requester ? `requested by <code>${escapeHtml(String(r.requester))}</code> in block ${escapeHtml(String(r.block))}` : "",
    typeof r.deadline === "number" ? `deadline ${isoTime(r.deadline)}` : "",
    r.status !== undefined && r.status !== 0 ? `result status ${escapeHtml(String(r.status))} (no output)` : "",
  ].filter(Boolean).join(" · ");
  return `<section><h2>Request and result</h2><p>${meta}</p><div class="values">${valuesTable("Input", input, r.input)}${valuesTable("Output", output, r.output)}</div></section>`;
}
