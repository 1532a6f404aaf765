/**
 * The one-command demo: `npm run demo`.
 *
 * Starts a local Hardhat chain (child process), deploys the contracts, registers the models and
 * the development platform (a SIMULATION of TEE hardware), starts the oracle node in this process
 * (its runner is a separate, measured process, registered on-chain from its attestation), sends
 * requests of every model through the example consumers, waits for the callbacks and verifies
 * each result from the chain alone: the signer recovered from the submitted calldata, its
 * registration and measurement, the model hash, the output (re-run locally), the callback.
 *
 * Exits 0 only when every result verifies. Cleans up every process it started, also on Ctrl-C.
 * With REDIS_URL set the node uses BullMQ (with a throw-away key prefix), otherwise its in-process queue.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import cliProgress from "cli-progress";
import IORedis from "ioredis";
import pino from "pino";
import { Contract, Interface, JsonRpcProvider, NonceManager, TransactionReceipt, getAddress, keccak256, recoverAddress, sha256 } from "ethers";
import { deployNetwork, REPO_ROOT } from "./deploy";
import { ORACLE_ABI, ENCLAVE_REGISTRY_ABI } from "../oracle/src/protocol/abi";
import { loadConfig } from "../oracle/src/config";
import { startNode, type OracleNode } from "../oracle/src/main";
import { loadManifest, type ModelManifestEntry } from "../oracle/src/models/manifest";
import { ModelStore } from "../oracle/src/models/store";
import { devAccount, rpc, startDevChain, type DevChain } from "../oracle/src/node/devchain";
import { batchDigest, decodeTensor, encodeTensor, oracleDomain, type InferenceResult } from "../oracle/src/protocol/eip712";
import { ResultStatus } from "../oracle/src/protocol/constants";

const oracleIface = new Interface(ORACLE_ABI);

/** What the demo checks for one request, each line a fact read from the chain or recomputed. */
export interface Verification {
  requestId: bigint;
  ok: boolean;
  lines: string[];
  problems: string[];
}

export interface VerifyContext {
  provider: JsonRpcProvider;
  oracle: string;
  registry: string;
  chainId: number;
  /** Signers and measurements the runner attested (from the node's /v1/attestation). */
  attested: { signer: string; measurement: string }[];
  /** Allowed measurement from the deployment. */
  measurement: string;
  manifest: ModelManifestEntry[];
  modelsDir: string;
  store?: ModelStore;
}

/**
 * Verifies one fulfilled request from the chain: recovers the batch signer from the fulfilBatch
 * calldata, checks it against the ResultSubmitted event, the EnclaveRegistry and the runner's
 * attestation, checks the model hash against the model file, re-runs the model on the request's
 * input and compares output hashes, and reads the callback's outcome.
 */
export async function verifyFulfilment(ctx: VerifyContext, requestId: bigint): Promise<Verification & { output?: bigint[]; model?: ModelManifestEntry }> {
  const lines: string[] = [];
  const problems: string[] = [];
  const check = (ok: boolean, good: string, bad: string) => { if (ok) lines.push(`✔ ${good}`); else { lines.push(`✘ ${bad}`); problems.push(bad); } };
  const topicId = "0x" + requestId.toString(16).padStart(64, "0");
  const logs = await ctx.provider.getLogs({ address: ctx.oracle, fromBlock: 0, toBlock: "latest", topics: [null, topicId] });
  const parsed = logs.map((l) => ({ log: l, ev: oracleIface.parseLog(l)! })).filter((x) => x.ev);
  const req = parsed.find((x) => x.ev.name === "InferenceRequested");
  const fulfilled = parsed.filter((x) => x.ev.name === "InferenceFulfilled");
  const submitted = parsed.find((x) => x.ev.name === "ResultSubmitted");
  const callback = parsed.find((x) => x.ev.name === "CallbackCompleted");
  if (!req) return { requestId, ok: false, lines, problems: ["no InferenceRequested event"] };
  check(fulfilled.length === 1, `fulfilled exactly once (tx ${fulfilled[0]?.log.transactionHash.slice(0, 18)}…, block ${fulfilled[0]?.log.blockNumber})`,
    `InferenceFulfilled events: ${fulfilled.length}, expected 1`);
  if (!fulfilled.length || !submitted) return { requestId, ok: false, lines, problems: [...problems, "no fulfilment"] };

  // 1. Recover the signer from the submitted calldata (never trusting the node's word).
  const tx = await ctx.provider.getTransaction(fulfilled[0].log.transactionHash);
  const call = oracleIface.parseTransaction({ data: tx!.data })!;
  let signer = "";
  let item: { output: string; status: number } | undefined;
  if (call.name === "fulfilBatch") {
    const results: InferenceResult[] = call.args.results.map((r: { request: { requestId: bigint; modelHash: string; inputHash: string }; output: string; status: bigint }) => ({
      requestId: r.request.requestId, modelHash: r.request.modelHash, inputHash: r.request.inputHash, outputHash: keccak256(r.output), status: Number(r.status),
    }));
    signer = recoverAddress(batchDigest(oracleDomain(ctx.chainId, ctx.oracle), results), call.args.signature);
    const i = call.args.results.findIndex((r: { request: { requestId: bigint } }) => r.request.requestId === requestId);
    item = { output: call.args.results[i].output, status: Number(call.args.results[i].status) };
    lines.push(`  batch of ${results.length} result(s) under one signature; signer recovered from calldata: ${signer}`);
  } else {
    problems.push(`fulfilled by ${call.name}, expected fulfilBatch`);
  }
  check(getAddress(submitted.ev.args.signer) === getAddress(signer), "recovered signer equals the ResultSubmitted signer", `ResultSubmitted names ${submitted.ev.args.signer}, calldata recovers ${signer}`);

  // 2. The signer is registered, with the allowed measurement, and is the runner that attested.
  const registry = new Contract(ctx.registry, ENCLAVE_REGISTRY_ABI, ctx.provider);
  const [operator, measurement] = await registry.activeEnclave(signer).catch(() => [undefined, undefined]);
  check(measurement === ctx.measurement, `signer registered in EnclaveRegistry (operator ${operator}) with measurement ${String(measurement).slice(0, 18)}…`,
    `signer not active in the EnclaveRegistry or measurement ${measurement} differs from ${ctx.measurement}`);
  const att = ctx.attested.find((a) => getAddress(a.signer) === getAddress(signer));
  check(!!att && att.measurement === ctx.measurement, "signer is the runner's attested signer (dev platform report)", "signer is not among the runners' attested signers");

  // 3. The model: the committed hash is the sha256 of the model file.
  const modelHash: string = req.ev.args.modelHash;
  const model = ctx.manifest.find((m) => m.sha256 === modelHash);
  const fileHash = model ? sha256(fs.readFileSync(path.join(ctx.modelsDir, model.file))) : "";
  check(!!model && fileHash === modelHash, `model ${model?.name}: sha256 of models/${model?.file} = committed modelHash ${modelHash.slice(0, 18)}…`, `model hash ${modelHash} does not match any model file`);

  // 4. The output: as event says, decodes, and equals a local re-run of the model.
  const output: string = fulfilled[0].ev.args.output;
  check(keccak256(output) === fulfilled[0].ev.args.outputHash && item?.output === output, "output bytes match the outputHash and the signed calldata", "output hash mismatch");
  let values: bigint[] | undefined;
  if (Number(fulfilled[0].ev.args.status) === ResultStatus.Ok) values = decodeTensor(output);
  if (ctx.store && model) {
    const rerun = await ctx.store.infer(modelHash, req.ev.args.input);
    check(keccak256(rerun.output) === keccak256(output) && rerun.status === Number(fulfilled[0].ev.args.status),
      "re-ran the model locally on the request's input: same output", "local re-run gives a different output");
  }

  // 5. The callback.
  if (callback) {
    const ok = callback.ev.args.success as boolean;
    const cbGas = Number(req.ev.args.callbackGasLimit);
    check(ok || cbGas === 0, `callback ${cbGas === 0 ? "skipped (no callback asked)" : `succeeded, ${callback.ev.args.gasUsed} gas of ${cbGas}`}`, `callback failed (gas used ${callback.ev.args.gasUsed})`);
  } else {
    check(Number(req.ev.args.callbackGasLimit) === 0, "no callback asked", "no CallbackCompleted event");
  }
  return { requestId, ok: problems.length === 0, lines, problems, output: values, model };
}

function describeOutput(model: ModelManifestEntry | undefined, values: bigint[] | undefined): string {
  if (!model || !values) return "(no output)";
  const scale = 10 ** model.decimals;
  const nums = values.map((v) => Number(v) / scale);
  const labels = (model.output as { labels?: string[] }).labels;
  if (labels && labels.length === nums.length && nums.length > 1) {
    const best = nums.indexOf(Math.max(...nums));
    return `${labels[best]} (${nums.map((n, i) => `${labels[i]} ${model.decimals ? n.toFixed(4) : n}`).join(", ")})`;
  }
  return `${labels?.[0] ?? "value"}: ${nums.map((n) => n.toFixed(4)).join(", ")}`;
}

const fx = (x: number, decimals: number) => BigInt(Math.round(x * 10 ** decimals));

async function main(): Promise<number> {
  const t0 = Date.now();
  const say = (s: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${s}\n`);
  const cleanups: [string, () => Promise<unknown>][] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const [name, fn] of cleanups.reverse()) {
        try { await fn(); } catch (err) { process.stderr.write(`cleanup ${name}: ${(err as Error).message}\n`); }
      }
    })();
    return cleaning;
  };
  let interrupted = false;
  const onSignal = (sig: string) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${sig}: stopping the node and the chain…\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    say("starting a local Hardhat chain (child process)…");
    const chain: DevChain = await startDevChain();
    cleanups.push(["chain", () => chain.stop()]);
    await rpc(chain.url, "evm_setIntervalMining", [250]); // blocks keep coming, so confirmations advance
    say(`chain up at ${chain.url} (chain id 31337, hardfork osaka)`);

    const provider = new JsonRpcProvider(chain.url, 31337, { staticNetwork: true, pollingInterval: 100 });
    cleanups.push(["provider", async () => provider.destroy()]);
    const deployer = new NonceManager(devAccount(0).connect(provider));
    const deployed = await deployNetwork({ network: "localhost", deployer, log: (l) => say(l) });
    const d = deployed.deployment;

    const dataDir = path.join(REPO_ROOT, ".oracle-data", `demo-${process.pid}`);
    const logFile = path.join(REPO_ROOT, ".oracle-data", "demo-node.log");
    fs.mkdirSync(dataDir, { recursive: true });
    cleanups.push(["data dir", async () => fs.rmSync(dataDir, { recursive: true, force: true })]);
    const redisUrl = process.env.REDIS_URL;
    const prefix = `oracle-demo-${randomBytes(4).toString("hex")}`;
    if (redisUrl) {
      cleanups.push(["redis keys", async () => {
        const r = new IORedis(redisUrl, { maxRetriesPerRequest: 1 });
        try { const keys = await r.keys(`${prefix}:*`); if (keys.length) await r.del(...keys); } finally { r.disconnect(); }
      }]);
    }
    const config = loadConfig({
      env: {},
      overrides: {
        network: "localhost", deploymentFile: deployed.deploymentFile, rpcUrl: chain.url, privateKeys: [devAccount(1).privateKey],
        redisUrl, queuePrefix: prefix, confirmations: 1, pollIntervalMs: 200, batchWindowMs: 300, batchSize: 16, runners: 1,
        httpPort: 0, dataDir, modelsDir: path.join(REPO_ROOT, "models"), logLevel: "info", reconcileIntervalMs: 3000,
      },
    });
    say(`starting the oracle node (queue: ${redisUrl ? `BullMQ on Redis, prefix ${prefix}` : "in-process"}; log: ${path.relative(REPO_ROOT, logFile)})…`);
    const log = pino({ level: "info", redact: { paths: ["privateKeys", "*.privateKeys", "rpcUrl", "*.rpcUrl", "redisUrl", "*.redisUrl"], censor: "[secret]" } },
      pino.destination({ dest: logFile, sync: true }));
    const node: OracleNode = await startNode(config, { log });
    cleanups.push(["node", () => node.close("demo finished")]);
    const api = `http://127.0.0.1:${node.api.port}`;
    const attestation = (await (await fetch(`${api}/v1/attestation`)).json()) as { runners: { signer: string; measurement: string; registered: boolean }[] };
    for (const r of attestation.runners) say(`runner attested by the dev platform (simulation) and registered on-chain: signer ${r.signer}, measurement ${r.measurement.slice(0, 18)}…`);
    const ready = (await (await fetch(`${api}/readyz`)).json()) as { ready: boolean };
    say(`node ready (${ready.ready ? "readyz 200" : "readyz not ready"}): HTTP API ${api}`);

    // Requests of every model, through the example consumers and one direct request.
    const manifest = loadManifest(path.join(REPO_ROOT, "models"));
    const m = (name: string) => manifest.models.find((x) => x.name === name)!;
    const { iris, lendingPool } = deployed.contracts;
    const oracle = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, deployer);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const sent: { label: string; receipt: TransactionReceipt }[] = [];
    const requestIdOf = (r: TransactionReceipt) => {
      for (const l of r.logs) {
        try { const ev = oracleIface.parseLog(l); if (ev?.name === "InferenceRequested") return ev.args.requestId as bigint; } catch { /* other contract */ }
      }
      throw new Error(`no InferenceRequested in ${r.hash}`);
    };
    const irisFee = await oracle.quote(d.models["iris-classifier"], [100_000, deadline, 1]);
    const flowers: [string, number[]][] = [["setosa-like", [5.1, 3.5, 1.4, 0.2]], ["versicolor-like", [6.4, 3.2, 4.5, 1.5]], ["virginica-like", [6.3, 3.3, 6.0, 2.5]]];
    for (const [label, f] of flowers) {
      const tx = await iris.classify(f.map((x) => fx(x, m("iris-classifier").decimals)), deadline, { value: irisFee });
      sent.push({ label: `IrisClassifierConsumer.classify(${f.join(", ")}) — ${label}`, receipt: (await tx.wait())! });
    }
    const riskFee = await oracle.quote(d.models["volatility-risk"], [100_000, deadline, 1]);
    const returns = Array.from({ length: 21 }, (_, i) => 0.018 * Math.sin(i * 1.7) + (i % 3 === 0 ? -0.01 : 0.006));
    const riskTx = await lendingPool.requestRiskUpdate(encodeTensor(returns.map((x) => fx(x, m("volatility-risk").decimals))), deadline, { value: riskFee });
    sent.push({ label: "RiskScoredLendingPool.requestRiskUpdate(21 daily returns)", receipt: (await riskTx.wait())! });
    const penguins: [string, number[]][] = [["Adelie-like", [391, 187, 181, 3750]], ["Gentoo-like", [475, 150, 222, 5200]]];
    const requester = new NonceManager(devAccount(2).connect(provider));
    const direct = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, requester);
    for (const [label, p] of penguins) {
      const opts = [0, deadline, 1];
      const fee = await direct.quote(d.models["penguins-species-int"], opts);
      const tx = await direct.requestInference(d.models["penguins-species-int"], encodeTensor(p.map(BigInt)), opts, { value: fee });
      sent.push({ label: `InferenceOracle.requestInference(penguins-species-int, [${p.join(", ")}]) from an EOA — ${label}`, receipt: (await tx.wait())! });
    }
    const ids = sent.map((s) => requestIdOf(s.receipt));
    say(`sent ${ids.length} requests (ids ${ids.join(", ")}); waiting for the callbacks…`);

    const bar = process.stdout.isTTY
      ? new cliProgress.SingleBar({ format: " fulfilled {bar} {value}/{total} requests | {duration}s", hideCursor: true }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(ids.length, 0);
    let done = 0;
    const waitUntil = Date.now() + 60_000;
    while (done < ids.length && Date.now() < waitUntil) {
      const states = await Promise.all(ids.map((id) => oracle.requestState(id)));
      const now = states.filter((s: bigint) => Number(s) === 2).length;
      if (now !== done) {
        done = now;
        if (bar) bar.update(done); else say(`fulfilled ${done}/${ids.length}`);
      }
      if (done < ids.length) await new Promise((r) => setTimeout(r, 200));
    }
    bar?.stop();
    if (done < ids.length) say(`only ${done}/${ids.length} fulfilled within 60 s`);

    const store = new ModelStore({ dir: path.join(REPO_ROOT, "models") });
    const ctx: VerifyContext = {
      provider, oracle: d.contracts.InferenceOracle, registry: d.contracts.EnclaveRegistry, chainId: d.chainId,
      attested: attestation.runners, measurement: d.measurement!, manifest: manifest.models, modelsDir: path.join(REPO_ROOT, "models"), store,
    };
    let verified = 0;
    process.stdout.write("\n");
    for (let i = 0; i < ids.length; i++) {
      const v = await verifyFulfilment(ctx, ids[i]);
      if (v.ok) verified++;
      process.stdout.write(`request ${ids[i]}: ${sent[i].label}\n`);
      process.stdout.write(`  result: ${describeOutput(v.model, v.output)}\n`);
      for (const l of v.lines) process.stdout.write(`  ${l}\n`);
      if (i < 3) {
        const cls = await iris.predictedClass(ids[i]).catch(() => undefined);
        if (cls !== undefined) process.stdout.write(`  consumer state: IrisClassifierConsumer.predictedClass(${ids[i]}) = ${cls} (${(m("iris-classifier").output as { labels?: string[] }).labels?.[Number(cls)]})\n`);
      } else if (i === 3) {
        process.stdout.write(`  consumer state: RiskScoredLendingPool.ltvBps() = ${await lendingPool.ltvBps()} bps\n`);
      }
      process.stdout.write(`  ${v.ok ? "VERIFIED" : `NOT VERIFIED: ${v.problems.join("; ")}`}\n\n`);
    }
    await store.close();
    const trail = (await (await fetch(`${api}/v1/requests/${ids[0]}`)).json()) as { trail: { step: string }[] };
    say(`node trail of request ${ids[0]}: ${trail.trail.map((t) => t.step).join(" → ")}`);
    const ok = verified === ids.length;
    say(`${verified}/${ids.length} results verified${ok ? "" : " — FAILED"}; shutting down (node drains, runner and chain stop)…`);
    await cleanup();
    say("done");
    return ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`demo failed: ${(err as Error).stack ?? err}\n`);
    await cleanup();
    return 1;
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
