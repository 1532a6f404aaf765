/**
 * Prints the runner measurement of this checkout (what the attestation report carries).
 *   npm run measure                  → the measurement
 *   npm run measure -- --verbose     → also the runtime hash, the files and runtime identifiers
 *   npm run measure -- --json        → all of it as JSON
 * Runner code and runtime only: models are data, bound per result by their sha256 (docs/attestation.md).
 */
import { measureRunner } from "../oracle/src/enclave/measure";

function main(argv: string[]): void {
  const m = measureRunner();
  if (argv.includes("--json")) {
    const { listing: _listing, ...rest } = m;
    process.stdout.write(JSON.stringify(rest, null, 2) + "\n");
    return;
  }
  process.stdout.write(m.measurement + "\n");
  if (!argv.includes("--verbose")) return;
  process.stdout.write(`runtime ${m.runtime}\n`);
  for (const f of m.files) process.stdout.write(`${f.sha256}  ${f.path}\n`);
  for (const r of m.runtimeIds) process.stdout.write(`@runtime/${r.name}  ${r.version}\n`);
}

main(process.argv.slice(2));
