/**
 * Runner throughput and latency, side by side in one run, on the smallest model:
 *   inferenceOnlyPerSec         raw onnxruntime session.run, batch 1, in this process
 *   signedResultsPerSec         through the runner process, one signature per result
 *   signedResultsPerSecBatched  through the runner process, batches of 50, one signature each
 *   signedResultsPerSecBatchedTwoInFlight  the same with two callers, so the host checks batch k
 *                               while the runner computes batch k+1 (as a node with a deep queue does)
 *   p50LatencyMs / p99LatencyMs of single signed results (host → runner → host)
 *   rssMb                       resident memory of the runner process
 *   breakdown                   µs per item of a batch: decode, run, encode, hashes, sign, recover, IPC
 * Each rate is the median of `--rounds` rounds (default 5), the three measured side by side per round.
 * Prints ONE JSON object on stdout and writes it to bench/runner.json; progress goes to stderr.
 *   npm run bench:runner [-- --seconds 5 --rounds 5]
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { EnclaveHost, type EnclaveJob } from "../oracle/src/enclave/host";
import { createDevPlatform } from "../oracle/src/enclave/platform";
import { REPO_ROOT } from "../oracle/src/paths";
import { loadManifest, type ModelManifestEntry } from "../oracle/src/models/manifest";
import { getBytes } from "ethers";
import { allocateTensor, decodeInput, decodeInto, encodeOutputBytes } from "../oracle/src/models/codec";
import { ModelStore } from "../oracle/src/models/store";
import { ResultHasher } from "../oracle/src/protocol/eip712";
import { encodeTensor, oracleDomain, ResultStatus } from "../oracle/src/protocol";
import { fromHex, initKeccak, keccak256Bytes, keccakBackend } from "../oracle/src/protocol/bytes";
import { recoverSigner, signDigest } from "../oracle/src/enclave/ecdsa";

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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Mean µs per call of `f` over about `ms` milliseconds. */
async function usPer(ms: number, f: () => unknown | Promise<unknown>): Promise<number> {
  for (let i = 0; i < 50; i++) await f();
  let n = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(ms * 1e6);
  while (process.hrtime.bigint() < until) {
    await f();
    n++;
  }
  return Number(process.hrtime.bigint() - start) / 1e3 / n;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const secondsAt = process.argv.indexOf("--seconds");
  const seconds = secondsAt >= 0 ? Number(process.argv[secondsAt + 1]) : 5;
  const roundsAt = process.argv.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(process.argv[roundsAt + 1]) : 5;
  const perRound = seconds / rounds;
  const repo = REPO_ROOT;
  const modelsDir = path.join(repo, "models");
  const manifest = loadManifest(modelsDir);
  const entry = [...manifest.models].sort((a, b) => statSync(path.join(modelsDir, a.file)).size - statSync(path.join(modelsDir, b.file)).size)[0];
  const input = validInput(entry);
  const inputBytes = fromHex(input);
  progress(`smallest model: ${entry.name} (${statSync(path.join(modelsDir, entry.file)).size} bytes); ${rounds} rounds of ${perRound} s per measure`);

  // raw onnxruntime, batch 1, same session options as the model store
  const session = await ort.InferenceSession.create(readFileSync(path.join(modelsDir, entry.file)), {
    graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential",
  });
  const decoded = decodeInput(input, entry);
  if (decoded.status !== ResultStatus.Ok) throw new Error(`bench input is out of range for ${entry.name}`);
  const feeds = { [entry.input.name]: new ort.Tensor(entry.input.type, decoded.data, entry.input.shape) };

  progress("starting the runner …");
  const host = await EnclaveHost.start({ platform: createDevPlatform(), chainId: 31337n, oracleAddress: "0x" + "5a".repeat(20), modelsDir });
  let id = 0n;
  const job = (): EnclaveJob => ({ requestId: ++id, modelHash: entry.sha256, input: inputBytes });
  const raw: number[] = [];
  const single: number[] = [];
  const batched: number[] = [];
  const batched2: number[] = [];
  const latencies: number[] = [];
  try {
    // Side by side: each round measures all three, so load from other processes hits them alike.
    for (let round = 0; round < rounds; round++) {
      raw.push(await rate(perRound, 1, () => session.run(feeds)));
      single.push(
        await rate(perRound, 1, async () => {
          const t = process.hrtime.bigint();
          await host.infer(job());
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        }),
      );
      batched.push(await rate(perRound, BATCH, () => host.inferBatch(Array.from({ length: BATCH }, job))));
      batched2.push(await rate(perRound, 2 * BATCH, () => Promise.all([host.inferBatch(Array.from({ length: BATCH }, job)), host.inferBatch(Array.from({ length: BATCH }, job))])));
      progress(`round ${round + 1}/${rounds}: raw ${Math.round(raw[round])}/s, signed ${Math.round(single[round])}/s, batched ${Math.round(batched[round])}/s, two in flight ${Math.round(batched2[round])}/s`);
    }

    // Breakdown, µs per item of a batch of 50, each stage timed alone in this process with the
    // code the runner and host run (the runner does decode, run, encode, 3 keccaks, 1/50 sign;
    // the host 3 keccaks and 1/50 recover); ipcAndRest is what remains of the batched time.
    progress("breakdown …");
    const ms = Math.max(200, perRound * 200);
    const store = new ModelStore({ dir: modelsDir });
    const inputs = Array.from({ length: BATCH }, () => inputBytes);
    const n = entry.input.length;
    const m = entry.output.length;
    const stacked = allocateTensor(entry.input.type, BATCH * n);
    for (let r = 0; r < BATCH; r++) decodeInto(inputBytes, entry, stacked, r * n);
    const stackedFeeds = { [entry.input.name]: new ort.Tensor(entry.input.type, stacked, [BATCH, n]) };
    const { session: storeSession } = await store.load(entry.sha256);
    const y = (await storeSession.run(stackedFeeds))[entry.output.name].data as Float32Array;
    const out = encodeOutputBytes(y, 0, entry).output;
    const hasher = new ResultHasher(oracleDomain(31337n, "0x" + "5a".repeat(20)));
    const word = new Uint8Array(32);
    const structs = new Uint8Array(32 * BATCH);
    await initKeccak(); // as the runner and the host do (EnclaveHost.start already has)
    const secret = getBytes("0x" + "11".repeat(32));
    const digest = hasher.batchDigestRaw(structs);
    const sig = signDigest(digest, secret)!;
    const decodeUs = await usPer(ms, () => decodeInto(inputBytes, entry, stacked, 0));
    const runUs = (await usPer(ms, () => storeSession.run(stackedFeeds))) / BATCH;
    const encodeUs = await usPer(ms, () => encodeOutputBytes(y, 0, entry));
    const keccakUs = await usPer(ms, () => {
      keccak256Bytes(inputBytes);
      keccak256Bytes(out);
      hasher.structHashRaw(word, word, word, word, 0, structs, 0);
    });
    const batchDigestUs = (await usPer(ms, () => hasher.batchDigestRaw(structs))) / BATCH;
    const signUs = (await usPer(ms, () => signDigest(digest, secret))) / BATCH;
    const recoverUs = (await usPer(ms, () => recoverSigner(digest, sig))) / BATCH;
    const inferStackedUs = (await usPer(ms, () => store.inferStacked(entry.sha256, inputs))) / BATCH;
    await store.close();
    const batchedUsPerItem = 1e6 / median(batched);
    const breakdown = {
      note: "µs per item in a batch of 50; each stage timed alone (same code as the runner/host); runner stages: decode, run, encode, runnerHash, sign; host stages: hostHash (its input hash, a third of it, runs while the runner works), recover; ipcAndRest = batched time per item - all of them",
      decode: r2(decodeUs),
      run: r2(runUs),
      encode: r2(encodeUs),
      inferStackedTotal: r2(inferStackedUs),
      runnerHash: r2(keccakUs + batchDigestUs),
      sign: r2(signUs),
      hostHash: r2(keccakUs + batchDigestUs),
      recover: r2(recoverUs),
      ipcAndRest: r2(batchedUsPerItem - (decodeUs + runUs + encodeUs + 2 * (keccakUs + batchDigestUs) + signUs + recoverUs)),
      batchedTotal: r2(batchedUsPerItem),
      rawBatch1PerItem: r2(1e6 / median(raw)),
      keccak: keccakBackend(),
      ecdsa: "tiny-secp256k1",
    };

    latencies.sort((a, b) => a - b);
    const inferenceOnlyPerSec = median(raw);
    const signedResultsPerSecBatched = median(batched);
    const result = {
      model: entry.name,
      inferenceOnlyPerSec: Math.round(inferenceOnlyPerSec),
      signedResultsPerSec: Math.round(median(single)),
      signedResultsPerSecBatched: Math.round(signedResultsPerSecBatched),
      batchSize: BATCH,
      batchedShareOfRaw: Math.round((signedResultsPerSecBatched / inferenceOnlyPerSec) * 1000) / 1000,
      signedResultsPerSecBatchedTwoInFlight: Math.round(median(batched2)),
      twoInFlightShareOfRaw: Math.round((median(batched2) / inferenceOnlyPerSec) * 1000) / 1000,
      p50LatencyMs: Math.round(percentile(latencies, 50) * 1000) / 1000,
      p99LatencyMs: Math.round(percentile(latencies, 99) * 1000) / 1000,
      rssMb: rssMb(host.runnerPid!),
      breakdown,
      rounds: { raw: raw.map(Math.round), single: single.map(Math.round), batched: batched.map(Math.round), batchedTwoInFlight: batched2.map(Math.round) },
      node: process.versions.node,
      onnxruntimeNode: (JSON.parse(readFileSync(path.join(repo, "node_modules/onnxruntime-node/package.json"), "utf8")) as { version: string }).version,
      secondsPerMeasure: seconds,
      roundsPerMeasure: rounds,
    };
    const text = JSON.stringify(result, null, 2);
    mkdirSync(path.join(repo, "bench"), { recursive: true });
    writeFileSync(path.join(repo, "bench", "runner.json"), text + "\n");
    process.stdout.write(text + "\n");
  } finally {
    await session.release();
    await host.close();
  }
}

main().catch((err) => {
  process.stderr.write(`bench:runner failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
