/**
 * A verification report in words, for terminals and logs: the verdict, every check with its
 * outcome, the evidence of the failed ones, and the facts.
 */
import { isoTime } from "./checks";
import type { Check, EvidenceValue, VerificationReport } from "./types";

/** Flattens nested facts to `key.sub: value` lines. */
export function flattenFacts(facts: object, prefix = ""): [string, string][] {
  const rows: [string, string][] = [];
  for (const [key, value] of Object.entries(facts)) {
    if (value === undefined) continue;
    const name = prefix ? `${prefix}.${key}` : key;
    if (Array.isArray(value)) rows.push([name, value.length ? value.join(", ") : "(none)"]);
    else if (value !== null && typeof value === "object") rows.push(...flattenFacts(value as object, name));
    else rows.push([name, value === null ? "(none)" : String(value)]);
  }
  return rows;
}

/** PASS, FAIL or SKIP. */
export function checkStatus(check: Check): "PASS" | "FAIL" | "SKIP" {
  return check.ok ? "PASS" : check.skipped ? "SKIP" : "FAIL";
}

function evidenceLines(evidence: Record<string, EvidenceValue>, indent: string): string[] {
  return Object.entries(evidence).map(([k, v]) => `${indent}${k}: ${v === null ? "(none)" : String(v)}`);
}

/** The report as text lines joined by newlines. */
export function formatReportText(report: VerificationReport): string {
  const passed = report.checks.filter((c) => c.ok).length;
  const failed = report.checks.filter((c) => !c.ok && !c.skipped).length;
  const skipped = report.checks.filter((c) => c.skipped).length;
  const width = Math.max(...report.checks.map((c) => c.name.length), 10);
  const lines = [
    `${report.format} evidence: ${report.valid ? "VALID" : "INVALID"} at ${isoTime(report.at)} (unix ${report.at})`,
    ...(report.failedCheck ? [`first failed check: ${report.failedCheck}`] : []),
    "",
    `checks: ${passed} passed, ${failed} failed, ${skipped} not evaluated`,
  ];
  for (const check of report.checks) {
    lines.push(`  ${checkStatus(check)}  ${check.name.padEnd(width)}  ${check.detail}`);
    if (!check.ok && !check.skipped && check.evidence) lines.push(...evidenceLines(check.evidence, `        ${" ".repeat(width)}  `));
  }
  const facts = flattenFacts(report.facts);
  if (facts.length > 0) {
    lines.push("", "facts:");
    const factWidth = Math.max(...facts.map(([k]) => k.length));
    for (const [key, value] of facts) lines.push(`  ${key.padEnd(factWidth)}  ${value}`);
  }
  return lines.join("\n");
}
