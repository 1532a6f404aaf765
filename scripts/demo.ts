/**
 * The one-command demo: `npm run demo` (bin/demo.js says so at once, builds the contracts, then runs this).
 *
 * Starts a local Hardhat chain (child process), deploys the contracts, registers the models and
 * the development platform (a SIMULATION of TEE hardware), starts the oracle node in this process
 * (its runner is a separate, measured process, registered on-chain from its attestation), sends
 * requests of every model through the example consumers, waits for the callbacks and verifies
 * each result from the chain alone, as an auditor would (`verifyResult`, what
 * `oracle audit verify-result` runs): the calldata and its signer, its registration and
 * attestation, the runner measured from this source tree, the model file, the output (re-run
 * locally), the callback.
 *
 * Exits 0 only when every result verifies. Cleans up every process it started, also on Ctrl-C.
 * `npm run demo -- --keep` leaves the chain and the node running afterwards, to look at the
 * console (printed address, /console/) until Ctrl-C.
 * With REDIS_URL set the node uses BullMQ (with a throw-away key prefix), otherwise its in-process queue.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import cliProgress from "cli-progress";
import IORedis from "ioredis";
import pino from "pino";
import { Contract, JsonRpcProvider, NonceManager, TransactionReceipt } from "ethers";
import { deployNetwork } from "./deploy";
import { REPO_ROOT } from "../oracle/src/paths";
import { shortHex } from "../oracle/src/audit/checks";
import { verifyResult } from "../oracle/src/audit/result/verify-result";
import { linkLine } from "../oracle/src/audit/result/render";
import { ORACLE_ABI } from "../oracle/src/protocol/abi";
import { loadConfig } from "../oracle/src/config";
import { measureRunner, type RunnerMeasurement } from "../oracle/src/enclave/measure";
import { startNode, type OracleNode } from "../oracle/src/main";
import { loadManifest, type ModelManifestEntry } from "../oracle/src/models/manifest";
import { loadMnist } from "../oracle/src/models/build/data";
import { encodeInput } from "../oracle/src/models/codec";
import { devAccount, rpc, startDevChain, type DevChain } from "../oracle/src/dev/devchain";
import { decodeTensor, encodeTensor } from "../oracle/src/protocol/eip712";
import { ResultStatus } from "../oracle/src/protocol/constants";
import { quotedOptions, requestInLogs, suggestedMaxGasPrice } from "../oracle/src/protocol/request";

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

/** Runs the demo; `t0` is when the launcher (bin/demo.js) started, so the timestamps count from the command. Resolves with the exit code. */
export async function main(t0 = Date.now()): Promise<number> {
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
    const redisUrl = process.env.REDIS_URL || undefined; // an empty REDIS_URL means none
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
    say(`node ready (${ready.ready ? "readyz 200" : "readyz not ready"}): HTTP API ${api}, console ${api}/console/`);

    // Requests of every model, through the example consumers and one direct request.
    const manifest = loadManifest(path.join(REPO_ROOT, "models"));
    const m = (name: string) => manifest.models.find((x) => x.name === name)!;
    const { iris, lendingPool } = deployed.contracts;
    const oracle = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, deployer);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const sent: { label: string; receipt: TransactionReceipt }[] = [];
    const requestIdOf = (r: TransactionReceipt) => {
      const request = requestInLogs(r.logs, d.contracts.InferenceOracle);
      if (!request) throw new Error(`no InferenceRequested in ${r.hash}`);
      return request.requestId;
    };
    // Every request states the most it pays in fees (the quoted fee: a publisher raising it in
    // between makes the request revert, charging nothing) and the gas price its prepayment is
    // computed at (twice today's fee cap, so the relaying operator is reimbursed in full).
    const maxGasPrice = await suggestedMaxGasPrice(provider);
    const quoteOf = async (model: string, callbackGasLimit: number) =>
      (await quotedOptions(oracle, d.models[model], { callbackGasLimit, deadline, redundancy: 1, maxGasPrice })).quote;
    const irisQuote = await quoteOf("iris-classifier", 100_000);
    const flowers: [string, number[]][] = [["setosa-like", [5.1, 3.5, 1.4, 0.2]], ["versicolor-like", [6.4, 3.2, 4.5, 1.5]], ["virginica-like", [6.3, 3.3, 6.0, 2.5]]];
    for (const [label, f] of flowers) {
      const tx = await iris.classify(f.map((x) => fx(x, m("iris-classifier").decimals)), deadline, irisQuote.fee, maxGasPrice, { value: irisQuote.total });
      sent.push({ label: `IrisClassifierConsumer.classify(${f.join(", ")}) — ${label}`, receipt: (await tx.wait())! });
    }
    const riskQuote = await quoteOf("volatility-risk", 100_000);
    const returns = Array.from({ length: 21 }, (_, i) => 0.018 * Math.sin(i * 1.7) + (i % 3 === 0 ? -0.01 : 0.006));
    const riskTx = await lendingPool.requestRiskUpdate(
      encodeTensor(returns.map((x) => fx(x, m("volatility-risk").decimals))), deadline, riskQuote.fee, maxGasPrice, { value: riskQuote.total },
    );
    sent.push({ label: "RiskScoredLendingPool.requestRiskUpdate(21 daily returns)", receipt: (await riskTx.wait())! });
    const penguins: [string, number[]][] = [["Adelie-like", [391, 187, 181, 3750]], ["Gentoo-like", [475, 150, 222, 5200]]];
    const requester = new NonceManager(devAccount(2).connect(provider));
    const direct = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, requester);
    for (const [label, p] of penguins) {
      const q = await quoteOf("penguins-species-int", 0);
      const opts = { callbackGasLimit: 0, deadline, redundancy: 1, maxFee: q.fee, maxGasPrice };
      const tx = await direct.requestInference(d.models["penguins-species-int"], encodeTensor(p.map(BigInt)), opts, { value: q.total });
      sent.push({ label: `InferenceOracle.requestInference(penguins-species-int, [${p.join(", ")}]) from an EOA — ${label}`, receipt: (await tx.wait())! });
    }
    // A 28×28 digit the model never saw in training (the fifth image of a 7: held out), sent as
    // 784 packed int8 bytes, the encoding the model declares in its file.
    const mnist = loadMnist();
    const seven = mnist.features[mnist.labels.indexOf(7) + 4];
    const digitInput = encodeInput(seven, m("mnist-digits-int"));
    const dq = await quoteOf("mnist-digits-int", 0);
    const digitTx = await direct.requestInference(d.models["mnist-digits-int"], digitInput, { callbackGasLimit: 0, deadline, redundancy: 1, maxFee: dq.fee, maxGasPrice }, { value: dq.total });
    sent.push({ label: `InferenceOracle.requestInference(mnist-digits-int, a held-out 28×28 image of a 7 as ${(digitInput.length - 2) / 2} packed int8 bytes)`, receipt: (await digitTx.wait())! });
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

    // Each result verified from the chain alone, as `oracle audit verify-result` does; the runner
    // is measured from this source tree once, for all of them.
    const modelsDir = path.join(REPO_ROOT, "models");
    let measurement: RunnerMeasurement | undefined;
    try { measurement = measureRunner({ repoRoot: REPO_ROOT }); } catch { /* verifyResult measures and reports why */ }
    const out = (line: string) => process.stdout.write(`${line}\n`);
    let verified = 0;
    out("");
    for (let i = 0; i < ids.length; i++) {
      const report = await verifyResult({ provider, deployment: d, requestId: ids[i], sourceDir: REPO_ROOT, modelsDir, measurement });
      if (report.valid) verified++;
      const { request, submissions } = report.facts;
      const model = manifest.models.find((x) => x.sha256 === request.modelHash);
      const values = request.status === ResultStatus.Ok && typeof request.output === "string" ? decodeTensor(request.output) : undefined;
      out(`request ${ids[i]}: ${sent[i].label}`);
      out(`  result: ${describeOutput(model, values)}`);
      if (i < 3) {
        const cls = await iris.predictedClass(ids[i]).catch(() => undefined);
        if (cls !== undefined) out(`  consumer state: IrisClassifierConsumer.predictedClass(${ids[i]}) = ${cls} (${(m("iris-classifier").output as { labels?: string[] }).labels?.[Number(cls)]})`);
      } else if (i === 3) {
        out(`  consumer state: RiskScoredLendingPool.ltvBps() = ${await lendingPool.ltvBps()} bps`);
      }
      for (const s of Object.values(submissions)) out(`  signed by enclave ${s.signer}, ${s.call ?? "calldata not decoded"}, tx ${shortHex(String(s.tx))}`);
      out(`  audit: ${linkLine(report)}`);
      const failed = report.checks.find((c) => c.name === report.failedCheck);
      out(`  ${report.valid ? `VERIFIED (${report.checks.length} checks passed)` : `NOT VERIFIED: ${report.failedCheck}: ${failed?.detail ?? ""}`}\n`);
    }
    const trail = (await (await fetch(`${api}/v1/requests/${ids[0]}`)).json()) as { trail: { step: string }[] };
    say(`node trail of request ${ids[0]}: ${trail.trail.map((t) => t.step).join(" → ")}`);
    const ok = verified === ids.length;
    if (process.argv.includes("--keep")) {
      say(`${verified}/${ids.length} results verified; the chain and the node keep running: open ${api}/console/ (Ctrl-C stops them)`);
      // The README's next commands, against this chain (its RPC port is not the default 8545; the
      // key is a development account of the local chain, funded, published with Hardhat).
      say("try, from another shell in this folder:");
      out(`  RPC_URL=${chain.url} ORACLE_REQUESTER_KEY=${devAccount(12).privateKey} npx oracle request --network localhost --model iris-classifier --input 5.1,3.5,1.4,0.2`);
      out(`  RPC_URL=${chain.url} npm run -s oracle -- audit verify-result --network localhost --request ${ids[0]}`);
      await new Promise(() => undefined); // until the signal handler cleans up and exits
    }
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
  // `ts-node scripts/demo.ts` directly: the contracts must have been built (`npm run demo` builds them).
  main().then((code) => process.exit(code));
}
