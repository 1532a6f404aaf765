/**
 * A verification report as one self-contained HTML page (inline CSS, no scripts, no external
 * assets): the verdict (saying SIMULATION when the development platform attested), the chain of
 * trust as a diagram from the vendor root to the enclave signer, every check with its evidence
 * (folded, the failed one open), and the facts (folded). Every time is shown one way: ISO 8601 UTC.
 * Everything drawn from the evidence, the chain or a model file is escaped.
 */
import { isoTime } from "./checks";
import { checkStatus, flattenFacts } from "./text-report";
import type { Check, EvidenceValue, TrustLink, VerificationReport } from "./types";

const FORMAT_NAMES: Record<string, string> = {
  dev: "Development platform report (simulation)",
  nitro: "AWS Nitro Enclaves attestation document",
  dcap: "Intel SGX / TDX DCAP quote",
  "sev-snp": "AMD SEV-SNP attestation report",
};

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

const anchorId = (name: string) => `check-${name.replace(/[^a-zA-Z0-9-]/g, "_")}`;

/** What the arrow between two links of the chain means. */
function edgeLabel(from: TrustLink, to: TrustLink): string {
  if (to.edge) return to.edge;
  if (to.role === "measurement") return "contains";
  if (to.role === "signer") return "binds";
  if (from.role === "evidence" && to.role === "evidence") return "vouches for";
  return "signs";
}

const ROLE_LABEL: Record<TrustLink["role"], string> = {
  root: "pinned root",
  intermediate: "intermediate",
  leaf: "leaf certificate",
  evidence: "evidence",
  measurement: "measurement",
  signer: "enclave signer",
};

function linkState(link: TrustLink): { css: string; mark: string; words: string } {
  if (link.ok === true) return { css: "pass", mark: "✔", words: "verified" };
  if (link.ok === false) return { css: "fail", mark: "✘", words: "failed" };
  return { css: "none", mark: "–", words: "not checked" };
}

/** Boxes per row of the diagram: a row never ends in an arrow; the next row starts with one that turns (↪). */
const PER_ROW = 5;

function renderChain(chain: TrustLink[]): string {
  if (chain.length === 0) return `<p class="muted">The evidence did not decode far enough to show a chain of trust.</p>`;
  const rows: string[] = [];
  for (let start = 0; start < chain.length; start += PER_ROW) {
    const steps = chain.slice(start, start + PER_ROW).map((link, j) => {
      const i = start + j;
      // The arrow belongs to the box it points at, so no arrow is ever left without its box.
      const edge = i === 0 ? ""
        : `<div class="edge" aria-hidden="true"><span>${escapeHtml(edgeLabel(chain[i - 1], link))}</span><b>${j === 0 ? "↪" : "→"}</b></div>`;
      const state = linkState(link);
      const title = link.check ? `<a href="#${anchorId(link.check)}">${escapeHtml(link.title)}</a>` : escapeHtml(link.title);
      return `<div class="step">${edge}` +
        `<div class="node ${state.css}" title="${escapeHtml(`${link.title}: ${state.words}${link.check ? ` (${link.check})` : ""}`)}">` +
        `<div class="role">${escapeHtml(ROLE_LABEL[link.role])}<span class="mark">${state.mark}</span></div>` +
        `<div class="title">${title}</div>` +
        `<div class="sub">${escapeHtml(link.subtitle)}</div>` +
        `<div class="by">${link.check ? escapeHtml(link.check) : "&nbsp;"}</div>` +
        `</div></div>`;
    });
    rows.push(`<div class="chain">${steps.join("")}</div>`);
  }
  return rows.join("");
}

const TIME_KEY = /(^|\.)(deadline|expiresAt|issuedAt|registeredAt|signedAt|now|at|timestamp|notBefore|notAfter)$/i;

/**
 * A value for display: a unix time under a time-like key (seconds, or milliseconds as Nitro
 * gives them) is shown in ISO 8601 UTC like every other time on the page.
 */
export function displayValue(key: string, value: EvidenceValue | undefined): string {
  if (value === null || value === undefined) return "(none)";
  if (TIME_KEY.test(key) && /^\d+$/.test(String(value))) {
    const n = Number(value);
    if (n >= 1e9 && n < 1e11) return isoTime(n);
    if (n >= 1e12 && n < 1e14) return new Date(n).toISOString();
  }
  return String(value);
}

function renderEvidence(check: Check, open: boolean): string {
  if (!check.evidence || Object.keys(check.evidence).length === 0) return "";
  const rows = Object.entries(check.evidence)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(displayValue(k, v))}</dd>`)
    .join("");
  return `<details class="ev"${open ? " open" : ""}><summary>evidence</summary><dl class="evidence">${rows}</dl></details>`;
}

function renderChecks(report: VerificationReport): string {
  const rows = report.checks
    .map((check) => {
      const status = checkStatus(check);
      const css = status.toLowerCase();
      const first = check.name === report.failedCheck ? ' <span class="first">first failure</span>' : "";
      return (
        `<tr id="${anchorId(check.name)}" class="${css}">` +
        `<td class="status"><span class="pill ${css}">${status === "PASS" ? "✔ pass" : status === "FAIL" ? "✘ fail" : "– skipped"}</span></td>` +
        `<td class="name"><code>${escapeHtml(check.name)}</code>${first}</td>` +
        `<td class="detail">${escapeHtml(check.detail)}${renderEvidence(check, status === "FAIL")}</td>` +
        `</tr>`
      );
    })
    .join("");
  return `<table class="checks"><thead><tr><th>Result</th><th>Check</th><th>What was checked, and the evidence</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderFacts(facts: object, title: string): string {
  const rows = flattenFacts(facts);
  if (rows.length === 0) return `<h2>${escapeHtml(title)}</h2><p class="muted">No facts: the evidence did not decode.</p>`;
  return `<details class="facts"><summary><h2>${escapeHtml(title)} <span class="muted">(${rows.length}, click to show)</span></h2></summary>` +
    `<table class="facts"><tbody>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(displayValue(k, v))}</td></tr>`).join("")}</tbody></table></details>`;
}

/** The style sheet of the page (inline; a Content-Security-Policy may allow it by its sha256). */
export const REPORT_STYLE = `
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--none:#57606a;--none-bg:#f6f8fa;--skip:#9a6700;--skip-bg:#fff8c5;--line:#d0d7de;--text:#1f2328}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--text);background:#fff}
main{max-width:1200px;margin:0 auto;padding:24px}
code,.sub,.by,dd,.facts td{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.verdict{display:flex;gap:20px;align-items:center;padding:20px 24px;border-radius:10px;border:2px solid}
.verdict.valid{border-color:var(--pass);background:var(--pass-bg)}
.verdict.invalid{border-color:var(--fail);background:var(--fail-bg)}
.badge{font-size:28px;font-weight:700;padding:10px 18px;border-radius:8px;color:#fff;white-space:nowrap}
.valid .badge{background:var(--pass)}.invalid .badge{background:var(--fail)}
.verdict h1{margin:0 0 4px;font-size:20px}.verdict p{margin:0}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
.chain{display:flex;flex-wrap:wrap;align-items:stretch;row-gap:14px;margin-bottom:14px}
.step{display:flex;align-items:stretch}
.node{width:160px;border:2px solid;border-radius:8px;padding:8px 10px;background:var(--none-bg);display:flex;flex-direction:column}
.node.pass{border-color:var(--pass);background:var(--pass-bg)}.node.fail{border-color:var(--fail);background:var(--fail-bg)}.node.none{border-color:var(--none);border-style:dashed}
.role{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#57606a;display:flex;justify-content:space-between}
.mark{font-size:16px;font-weight:700}.pass .mark{color:var(--pass)}.fail .mark{color:var(--fail)}.none .mark{color:var(--none)}
.title{font-weight:600;margin:2px 0}.title a{color:inherit}
.sub{font-size:11px;word-break:break-all;color:#424a53;flex:1}
.by{font-size:10px;color:#6e7781;margin-top:4px}
.edge{display:flex;flex-direction:column;align-items:center;justify-content:center;width:58px;color:#57606a;font-size:11px;text-align:center;line-height:1.15}
.edge b{font-size:22px;line-height:1}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:7px 10px;border-bottom:1px solid var(--line)}
thead th{background:#f6f8fa;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#57606a}
tr.fail td{background:#fff5f5}tr.skip td{color:#6e7781}
.status{width:96px}.name{width:230px}.name code{font-size:12.5px}
.pill{display:inline-block;padding:2px 9px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap}
.pill.pass{background:var(--pass-bg);color:var(--pass)}.pill.fail{background:var(--fail);color:#fff}.pill.skip{background:var(--skip-bg);color:var(--skip)}
.first{display:inline-block;margin-left:6px;font-size:11px;color:var(--fail);font-weight:600}
.ev summary{cursor:pointer;color:#57606a;font-size:12px;margin-top:2px}
.evidence{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0 0;font-size:12px}
.evidence dt{color:#57606a}.evidence dd{margin:0;word-break:break-all}
details.facts summary{cursor:pointer;list-style:none}details.facts summary h2{display:block}
.facts th{width:230px;font-weight:500;color:#424a53;padding:3px 10px}.facts td{word-break:break-all;font-size:12px;padding:3px 10px}
.sim{display:inline-block;margin-left:8px;font-size:13px;font-weight:700;padding:3px 9px;border-radius:6px;background:var(--skip-bg);color:var(--skip);border:1px solid var(--skip);vertical-align:middle}
.values{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
.values table td,.values table th{padding:3px 10px}.values td.v{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;text-align:right}
.values caption{text-align:left;font-weight:600;padding:4px 0}.values tr.top td{font-weight:700;background:var(--pass-bg)}
.back{margin:-8px 0 10px;font-size:13px}
.legend,.muted,footer{color:#57606a;font-size:12px}
footer{margin-top:28px;border-top:1px solid var(--line);padding-top:10px}
`;

/** How a page differs from the evidence report's defaults. */
export interface HtmlReportOptions {
  /** Heading under the verdict (default: the evidence format's name). */
  heading?: string;
  /** Verdict words (default VALID / INVALID). */
  verdictWords?: { ok: string; broken: string };
  /** The development platform attested: the banner says SIMULATION (default: format "dev"). */
  simulation?: boolean;
  /** A section (HTML, already escaped) drawn between the verdict and the diagram. */
  preamble?: string;
  /** Facts to list (default report.facts) and their section's title. */
  facts?: object;
  factsTitle?: string;
  /** The footer's words (HTML, already escaped). */
  footer?: string;
  /** A link above the verdict (e.g. back to the console that served the page). */
  back?: { href: string; text: string };
}

/** Renders a report as a self-contained HTML page. */
export function renderHtmlReport(report: VerificationReport, options: HtmlReportOptions = {}): string {
  const passed = report.checks.filter((c) => c.ok).length;
  const failed = report.checks.filter((c) => !c.ok && !c.skipped).length;
  const skipped = report.checks.filter((c) => c.skipped).length;
  const verdict = report.valid ? options.verdictWords?.ok ?? "VALID" : options.verdictWords?.broken ?? "INVALID";
  const formatName = options.heading ?? FORMAT_NAMES[report.format] ?? report.format;
  const simulation = options.simulation ?? report.format === "dev";
  const simBadge = simulation ? `<span class="sim">SIMULATION</span>` : "";
  const simNote = simulation
    ? `<p><b>Simulation:</b> attested by the development platform, a software simulation of TEE hardware. The checks hold, but no hardware vouches for the enclave.</p>`
    : "";
  const summary = [
    `Verified at ${isoTime(report.at)}`,
    `${passed} passed, ${failed} failed${skipped ? `, ${skipped} not evaluated` : ""}`,
    report.failedCheck ? `first failure: <a href="#${anchorId(report.failedCheck)}"><code>${escapeHtml(report.failedCheck)}</code></a>` : "every check passed",
  ].join(" · ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${verdict}${simulation ? " (simulation)" : ""}: ${escapeHtml(formatName)}</title>
<style>${REPORT_STYLE}</style>
</head>
<body>
<main>
${options.back ? `<nav class="back"><a href="${escapeHtml(options.back.href)}">${escapeHtml(options.back.text)}</a></nav>` : ""}
<header class="verdict ${report.valid ? "valid" : "invalid"}">
<div class="badge">${report.valid ? "✔" : "✘"} ${verdict}</div>
<div><h1>${escapeHtml(formatName)}${simBadge}</h1><p>${summary}</p>${simNote}</div>
</header>
${options.preamble ?? ""}
<section>
<h2>Chain of trust</h2>
${renderChain(report.chain)}
<p class="legend">Solid green: verified · solid red: failed · dashed grey: not checked (no policy value, or an earlier failure). Each box names the check that establishes it; click to jump to it.</p>
</section>
<section>
<h2>Checks</h2>
${renderChecks(report)}
</section>
<section>
${renderFacts(options.facts ?? report.facts, options.factsTitle ?? "Facts reported by the evidence")}
</section>
<footer>${options.footer ?? `Attested inference oracle · auditor's evidence report (format <code>${escapeHtml(report.format)}</code>). Facts are what the evidence says; only the checks above say whether to trust it.`}</footer>
</main>
</body>
</html>
`;
}
