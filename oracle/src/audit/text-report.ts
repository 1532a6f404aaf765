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

/** `checks: n passed, n failed, n not evaluated`. */
export function checkCounts(checks: Check[]): string {
  const passed = checks.filter((c) => c.ok).length;
  const failed = checks.filter((c) => !c.ok && !c.skipped).length;
  const skipped = checks.filter((c) => c.skipped).length;
  return `checks: ${passed} passed, ${failed} failed, ${skipped} not evaluated`;
}

/** One line per check, names aligned, with the evidence of each failed one under it. */
export function checkLines(checks: Check[]): string[] {
  const width = Math.max(...checks.map((c) => c.name.length), 10);
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`  ${checkStatus(check)}  ${check.name.padEnd(width)}  ${check.detail}`);
    if (!check.ok && !check.skipped && check.evidence) lines.push(...evidenceLines(check.evidence, `        ${" ".repeat(width)}  `));
  }
  return lines;
}

/** The facts section (a blank line, `facts:`, one aligned line per fact), or nothing without facts. */
export function factLines(facts: object): string[] {
  const rows = flattenFacts(facts);
  if (rows.length === 0) return [];
  const width = Math.max(...rows.map(([k]) => k.length));
  return ["", "facts:", ...rows.map(([key, value]) => `  ${key.padEnd(width)}  ${value}`)];
}

/** The report as text lines joined by newlines. */
export function formatReportText(report: VerificationReport): string {
  return [
    `${report.format} evidence: ${report.valid ? "VALID" : "INVALID"} at ${isoTime(report.at)} (unix ${report.at})`,
    ...(report.failedCheck ? [`first failed check: ${report.failedCheck}`] : []),
    "",
    checkCounts(report.checks),
    ...checkLines(report.checks),
    ...factLines(report.facts),
  ].join("\n");
}
