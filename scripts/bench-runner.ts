/**
 * Runner throughput and latency, side by side in one run, on the smallest model:
 *   inferenceOnlyPerSec         raw onnxruntime session.run, batch 1, in this process
 *   signedResultsPerSec         through the runner process, one signature per result
 *   signedResultsPerSecBatched  through the runner process, batches of 50, one signature each
 *   p50LatencyMs / p99LatencyMs of single signed results (host → runner → host)
 *   rssMb                       resident memory of the runner process
 * Prints ONE JSON object on stdout and writes it to bench/runner.json; progress goes to stderr.
 *   npm run bench:runner [-- --seconds 5]
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { EnclaveHost, type InferenceJob } from "../oracle/src/enclave/host";
import { createDevPlatform } from "../oracle/src/enclave/platform";
import { defaultRepoRoot } from "../oracle/src/enclave/measure";
import { loadManifest, type ModelManifestEntry } from "../oracle/src/models/manifest";
import { decodeInput } from "../oracle/src/models/codec";
import { encodeTensor, ResultStatus } from "../oracle/src/protocol";

const BATCH = 50;

function progress(msg: string): void {
  process.stderr.write(`[bench:runner] ${msg}\n`);
}

function validInput(entry: ModelManifestEntry): string {
  const scale = 10n ** BigInt(entry.decimals);
  const values = Array.from({ length: entry.input.length }, (_, i) => {
    const lo = Array.isArray(entry.input.min) ? entry.input.min[i] : entry.input.min ?? 0;
    const hi = Array.isArray(entry.input.max) ? entry.input.max[i] : entry.input.max ?? 2;
    const mid = (lo + hi) / 2;
    return entry.input.type.startsWith("int") ? BigInt(Math.round(mid)) : (BigInt(Math.round(mid * 1000)) * scale) / 1000n;
  });
  return encodeTensor(values);
}

/** Runs `step` repeatedly for about `seconds` after a warm-up; returns items per second. */
async function rate(seconds: number, itemsPerStep: number, step: () => Promise<unknown>): Promise<number> {
  const warm = Date.now() + Math.min(1000, seconds * 200);
  while (Date.now() < warm) await step();
  let items = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < until) {
    await step();
    items += itemsPerStep;
  }
  return items / (Number(process.hrtime.bigint() - start) / 1e9);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? "0");
  return Math.round((kb / 1024) * 10) / 10;
}

async function main(): Promise<void> {
  const secondsAt = process.argv.indexOf("--seconds");
  const seconds = secondsAt >= 0 ? Number(process.argv[secondsAt + 1]) : 5;
  const repo = defaultRepoRoot();
  const modelsDir = path.join(repo, "models");
  const manifest = loadManifest(modelsDir);
  const entry = [...manifest.models].sort((a, b) => statSync(path.join(modelsDir, a.file)).size - statSync(path.join(modelsDir, b.file)).size)[0];
  const input = validInput(entry);
  progress(`smallest model: ${entry.name} (${statSync(path.join(modelsDir, entry.file)).size} bytes)`);

  // 1. raw onnxruntime, batch 1, same session options as the model store
  const session = await ort.InferenceSession.create(readFileSync(path.join(modelsDir, entry.file)), {
    graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential",
  });
  const decoded = decodeInput(input, entry);
  if (decoded.status !== ResultStatus.Ok) throw new Error(`bench input is out of range for ${entry.name}`);
  const feeds = { [entry.input.name]: new ort.Tensor(entry.input.type, decoded.data, entry.input.shape) };
  progress("raw onnxruntime …");
  const inferenceOnlyPerSec = await rate(seconds, 1, () => session.run(feeds));
  await session.release();

  // 2. through the runner process
  progress("starting the runner …");
  const host = await EnclaveHost.start({ platform: createDevPlatform(), chainId: 31337n, oracleAddress: "0x" + "5a".repeat(20), modelsDir });
  let id = 0n;
  const job = (): InferenceJob => ({ requestId: ++id, modelHash: entry.sha256, input });
  try {
    progress("signed results, one signature each …");
    const latencies: number[] = [];
    const signedResultsPerSec = await rate(seconds, 1, async () => {
      const t = process.hrtime.bigint();
      await host.infer(job());
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    });
    progress(`signed results, batches of ${BATCH} …`);
    const signedResultsPerSecBatched = await rate(seconds, BATCH, () => host.inferBatch(Array.from({ length: BATCH }, job)));
    latencies.sort((a, b) => a - b);
    const result = {
      model: entry.name,
      inferenceOnlyPerSec: Math.round(inferenceOnlyPerSec),
      signedResultsPerSec: Math.round(signedResultsPerSec),
      signedResultsPerSecBatched: Math.round(signedResultsPerSecBatched),
      batchSize: BATCH,
      batchedShareOfRaw: Math.round((signedResultsPerSecBatched / inferenceOnlyPerSec) * 1000) / 1000,
      p50LatencyMs: Math.round(percentile(latencies, 50) * 1000) / 1000,
      p99LatencyMs: Math.round(percentile(latencies, 99) * 1000) / 1000,
      rssMb: rssMb(host.runnerPid!),
      node: process.versions.node,
      onnxruntimeNode: (JSON.parse(readFileSync(path.join(repo, "node_modules/onnxruntime-node/package.json"), "utf8")) as { version: string }).version,
      secondsPerMeasure: seconds,
    };
    const out = JSON.stringify(result, null, 2);
    mkdirSync(path.join(repo, "bench"), { recursive: true });
    writeFileSync(path.join(repo, "bench", "runner.json"), out + "\n");
    process.stdout.write(out + "\n");
  } finally {
    await host.close();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:runner failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
