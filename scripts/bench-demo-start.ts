/**
 * How soon `npm run demo` says something: milliseconds from spawning the command to its first
 * line on stdout, for the launcher (`node bin/demo.js`, what `npm run demo` runs) and for the
 * TypeScript entry run directly (`ts-node scripts/demo.ts`, what `npm run demo` ran before).
 * Each is stopped at its first line. Prints a table and saves bench/demo-start.json.
 *
 *   npx ts-node scripts/bench-demo-start.ts [runs=5]
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const COMMANDS: Record<string, string[]> = {
  "node bin/demo.js (npm run demo now)": [process.execPath, path.join(ROOT, "bin", "demo.js")],
  "ts-node scripts/demo.ts (before)": [process.execPath, path.join(ROOT, "node_modules", ".bin", "ts-node"), "scripts/demo.ts"],
};

/** Milliseconds until the command's first stdout byte; the command's process group is then killed. */
function firstLineMs(argv: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, REDIS_URL: "" } });
  return new Promise((resolve, reject) => {
    child.stdout!.once("data", () => {
      resolve(Number(process.hrtime.bigint() - t0) / 1e6);
      try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ }
    });
    child.once("exit", (code) => reject(new Error(`${argv.join(" ")} exited with ${code} before printing`)));
  });
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 5);
  const results: Record<string, { runs: number[]; medianMs: number }> = {};
  for (const [name, argv] of Object.entries(COMMANDS)) {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) ms.push(Math.round(await firstLineMs(argv)));
    const sorted = [...ms].sort((a, b) => a - b);
    results[name] = { runs: ms, medianMs: sorted[Math.floor(sorted.length / 2)] };
    console.log(`${name.padEnd(40)} first line after ${results[name].medianMs} ms (median of ${runs}: ${ms.join(", ")})`);
  }
  const out = path.join(ROOT, "bench", "demo-start.json");
  fs.writeFileSync(out, JSON.stringify({ measuredAt: new Date().toISOString(), node: process.version, results }, null, 2) + "\n");
  console.log(`saved ${path.relative(ROOT, out)}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
