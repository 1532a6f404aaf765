/**
 * A verification report as one self-contained HTML page (inline CSS, no scripts, no external
 * assets): the verdict, the chain of trust as a diagram from the vendor root to the enclave
 * signer, every check with its evidence, and the facts.
 */
import { isoTime } from "./checks";
import { checkStatus, flattenFacts } from "./text-report";
import type { Check, TrustLink, VerificationReport } from "./types";

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

function renderChain(chain: TrustLink[]): string {
  if (chain.length === 0) return `<p class="muted">The evidence did not decode far enough to show a chain of trust.</p>`;
  const parts: string[] = [];
  chain.forEach((link, i) => {
    if (i > 0) parts.push(`<div class="edge" aria-hidden="true"><span>${escapeHtml(edgeLabel(chain[i - 1], link))}</span><b>→</b></div>`);
    const state = linkState(link);
    const title = link.check ? `<a href="#${anchorId(link.check)}">${escapeHtml(link.title)}</a>` : escapeHtml(link.title);
    parts.push(
      `<div class="node ${state.css}" title="${escapeHtml(`${link.title}: ${state.words}${link.check ? ` (${link.check})` : ""}`)}">` +
        `<div class="role">${escapeHtml(ROLE_LABEL[link.role])}<span class="mark">${state.mark}</span></div>` +
        `<div class="title">${title}</div>` +
        `<div class="sub">${escapeHtml(link.subtitle)}</div>` +
        `<div class="by">${link.check ? escapeHtml(link.check) : "&nbsp;"}</div>` +
        `</div>`,
    );
  });
  return `<div class="chain">${parts.join("")}</div>`;
}

function renderEvidence(check: Check): string {
  if (!check.evidence || Object.keys(check.evidence).length === 0) return "";
  const rows = Object.entries(check.evidence)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v === null ? "(none)" : String(v))}</dd>`)
    .join("");
  return `<dl class="evidence">${rows}</dl>`;
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
        `<td class="detail">${escapeHtml(check.detail)}${renderEvidence(check)}</td>` +
        `</tr>`
      );
    })
    .join("");
  return `<table class="checks"><thead><tr><th>Result</th><th>Check</th><th>What was checked, and the evidence</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderFacts(report: VerificationReport): string {
  const facts = flattenFacts(report.facts);
  if (facts.length === 0) return `<p class="muted">No facts: the evidence did not decode.</p>`;
  return `<table class="facts"><tbody>${facts.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</tbody></table>`;
}

const STYLE = `
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
.chain{display:flex;flex-wrap:wrap;align-items:stretch;row-gap:14px}
.node{width:170px;border:2px solid;border-radius:8px;padding:8px 10px;background:var(--none-bg);display:flex;flex-direction:column}
.node.pass{border-color:var(--pass);background:var(--pass-bg)}.node.fail{border-color:var(--fail);background:var(--fail-bg)}.node.none{border-color:var(--none);border-style:dashed}
.role{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#57606a;display:flex;justify-content:space-between}
.mark{font-size:16px;font-weight:700}.pass .mark{color:var(--pass)}.fail .mark{color:var(--fail)}.none .mark{color:var(--none)}
.title{font-weight:600;margin:2px 0}.title a{color:inherit}
.sub{font-size:11px;word-break:break-all;color:#424a53;flex:1}
.by{font-size:10px;color:#6e7781;margin-top:4px}
.edge{display:flex;flex-direction:column;align-items:center;justify-content:center;width:64px;color:#57606a;font-size:11px}
.edge b{font-size:22px;line-height:1}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:7px 10px;border-bottom:1px solid var(--line)}
thead th{background:#f6f8fa;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#57606a}
tr.fail td{background:#fff5f5}tr.skip td{color:#6e7781}
.status{width:96px}.name{width:230px}.name code{font-size:12.5px}
.pill{display:inline-block;padding:2px 9px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap}
.pill.pass{background:var(--pass-bg);color:var(--pass)}.pill.fail{background:var(--fail);color:#fff}.pill.skip{background:var(--skip-bg);color:var(--skip)}
.first{display:inline-block;margin-left:6px;font-size:11px;color:var(--fail);font-weight:600}
.evidence{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0 0;font-size:12px}
.evidence dt{color:#57606a}.evidence dd{margin:0;word-break:break-all}
.facts th{width:230px;font-weight:500;color:#424a53}.facts td{word-break:break-all;font-size:12.5px}
.legend,.muted,footer{color:#57606a;font-size:12px}
footer{margin-top:28px;border-top:1px solid var(--line);padding-top:10px}
`;

/** Renders a report as a self-contained HTML page. */
export function renderHtmlReport(report: VerificationReport): string {
  const passed = report.checks.filter((c) => c.ok).length;
  const failed = report.checks.filter((c) => !c.ok && !c.skipped).length;
  const skipped = report.checks.filter((c) => c.skipped).length;
  const verdict = report.valid ? "VALID" : "INVALID";
  const formatName = FORMAT_NAMES[report.format] ?? report.format;
  const summary = [
    `Verified at ${isoTime(report.at)} (unix ${report.at})`,
    `${passed} passed, ${failed} failed${skipped ? `, ${skipped} not evaluated` : ""}`,
    report.failedCheck ? `first failure: <a href="#${anchorId(report.failedCheck)}"><code>${escapeHtml(report.failedCheck)}</code></a>` : "every check passed",
  ].join(" · ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${verdict}: ${escapeHtml(formatName)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header class="verdict ${report.valid ? "valid" : "invalid"}">
<div class="badge">${report.valid ? "✔" : "✘"} ${verdict}</div>
<div><h1>${escapeHtml(formatName)}</h1><p>${summary}</p></div>
</header>
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
<h2>Facts reported by the evidence</h2>
${renderFacts(report)}
</section>
<footer>Attested inference oracle · auditor's evidence report (format <code>${escapeHtml(report.format)}</code>). Facts are what the evidence says; only the checks above say whether to trust it.</footer>
</main>
</body>
</html>
`;
}
