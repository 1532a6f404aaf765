/** Helpers for the enclave tests: test hooks switch, a module/file tracer for the runner, inputs. */
import { fork, type ChildProcess } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { measureRunner, RUNNER_ENTRY } from "../../../oracle/src/enclave/measure";
import { REPO_ROOT } from "../../../oracle/src/paths";
import { loadManifest, type ModelManifestEntry } from "../../../oracle/src/models/manifest";
import { specInputEncoding } from "../../../oracle/src/models/spec";
import { encodeInput as encodeInputValues } from "../../../oracle/src/protocol/input";

process.env.ORACLE_ENCLAVE_TEST_HOOKS = "1";

export const repoRoot = REPO_ROOT;
export const models = loadManifest(path.join(repoRoot, "models")).models;

/** A valid input for a model: the midpoint of its range, or 1.0 in its fixed point. */
export function sampleInput(entry: ModelManifestEntry, salt = 0): string {
  const scale = 10n ** BigInt(entry.decimals);
  const values = Array.from({ length: entry.input.length }, (_, i) => {
    const lo = Array.isArray(entry.input.min) ? entry.input.min[i] : entry.input.min;
    const hi = Array.isArray(entry.input.max) ? entry.input.max[i] : entry.input.max;
    const mid = lo !== undefined && hi !== undefined ? (lo + hi) / 2 : 1;
    const integer = entry.input.type.startsWith("int");
    return integer ? BigInt(Math.round(mid)) + BigInt(salt % 2) : BigInt(Math.round(mid * 1000)) * (scale / 1000n || 1n) + BigInt(salt);
  });
  return encodeInputValues(values, specInputEncoding(entry));
}

/**
 * A checkout of another runner measurement: the measured files copied into `dir` (node_modules
 * linked), with one byte more in its tsconfig.json. Models play no part in a measurement, so a
 * different runner needs different code.
 */
export function otherMeasurementCheckout(dir: string): string {
  for (const f of measureRunner().files) {
    mkdirSync(path.dirname(path.join(dir, f.path)), { recursive: true });
    cpSync(path.join(repoRoot, f.path), path.join(dir, f.path));
  }
  symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
  appendFileSync(path.join(dir, "tsconfig.json"), "\n");
  return dir;
}

/**
 * Writes a preload script (outside the repo) that records, in the runner, every module Node
 * loaded and every file opened through fs, and dumps them as JSON to `traceFile` on exit.
 */
export function writeTracer(dir: string, traceFile: string): string {
  const file = path.join(dir, "trace-preload.js");
  writeFileSync(file, `
const fs = require("fs");
const reads = new Set(), writes = new Set();
const wrap = (obj, name, set) => { const orig = obj[name]; obj[name] = function (p, ...rest) { try { if (typeof p === "string") set.add(require("path").resolve(p)); } catch {} return orig.call(this, p, ...rest); }; };
for (const n of ["readFileSync", "openSync", "readFile", "createReadStream", "statSync", "existsSync"]) wrap(fs, n, reads);
for (const n of ["readFile", "open"]) wrap(fs.promises, n, reads);
for (const n of ["writeFileSync", "appendFileSync", "renameSync", "writeFile", "createWriteStream"]) wrap(fs, n, writes);
for (const n of ["writeFile", "appendFile"]) wrap(fs.promises, n, writes);
const origWrite = fs.writeFileSync;
process.on("exit", () => origWrite(${JSON.stringify(traceFile)}, JSON.stringify({ modules: Object.keys(require.cache), reads: [...reads], writes: [...writes] })));
`);
  return file;
}

/** Forks the runner exactly as the host does, but hands the raw IPC channel to the test. */
export function forkRawRunner(): ChildProcess {
  return fork(path.join(repoRoot, RUNNER_ENTRY), [], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", TS_NODE_PROJECT: path.join(repoRoot, "tsconfig.json"), TS_NODE_TRANSPILE_ONLY: "true" },
    execArgv: ["-r", require.resolve("ts-node/register/transpile-only")],
    serialization: "advanced",
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
}

export function nextMessage(child: ChildProcess, pred: (m: any) => boolean = () => true): Promise<any> {
  return new Promise((resolve) => {
    const on = (m: any) => {
      if (!pred(m)) return;
      child.off("message", on);
      resolve(m);
    };
    child.on("message", on);
  });
}
