/**
 * Forks a TypeScript entry of this checkout as a child process held to an OS memory limit: util-linux
 * prlimit(1) sets the data-segment limit and then execs Node, so the child is limited from its first
 * instruction (onnxruntime's native arenas included). The runner runs this way, and so does the
 * auditor's re-run of a model: both execute model files that anyone may have published.
 */
import { fork, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";

/** util-linux prlimit, which sets the child's memory limit before Node starts. */
const PRLIMIT = ["/usr/bin/prlimit", "/bin/prlimit"].find((p) => existsSync(p)) ?? "prlimit";

export interface CappedForkOptions {
  repoRoot: string;
  /** The entry, relative to `repoRoot`. */
  entry: string;
  /** Data-segment limit in MiB; 0 = none. */
  memoryMb: number;
  /** The child's environment (PATH and ts-node's settings are added). */
  env?: Record<string, string>;
  /** More Node options (after ts-node's -r). */
  execArgv?: string[];
  /** The child's stdout and stderr: piped to the parent (default), or discarded. */
  output?: "pipe" | "ignore";
}

export function forkCapped({ repoRoot, entry, memoryMb, env = {}, execArgv = [], output = "pipe" }: CappedForkOptions): ChildProcess {
  const nodeArgs = ["-r", require.resolve("ts-node/register/transpile-only", { paths: [repoRoot] }), ...execArgv];
  const capped = memoryMb > 0;
  return fork(path.join(repoRoot, entry), [], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", TS_NODE_PROJECT: path.join(repoRoot, "tsconfig.json"), TS_NODE_TRANSPILE_ONLY: "true", ...env },
    ...(capped ? { execPath: PRLIMIT } : {}),
    execArgv: capped ? [`--data=${memoryMb * 1024 * 1024}`, "--", process.execPath, ...nodeArgs] : nodeArgs,
    serialization: "advanced",
    stdio: ["ignore", output, output, "ipc"],
  });
}
