/**
 * The composition root: builds every part of the node from the configuration and wires them
 * together — watcher → queue → runner pool → submitter, plus the HTTP API — and returns a handle
 * whose `close()` shuts them down in order. Each part takes its dependencies as arguments; this is
 * the only file that knows them all.
 */
import * as fs from "node:fs";
import path from "node:path";
import { Contract } from "ethers";
import type { Logger } from "pino";
import { startConsole } from "./api/console";
import { startApi, type ApiServer } from "./api/server";
import { CombinedCheckpointStore, FileCheckpointStore, RedisCheckpointStore, type CheckpointStore } from "./chain/checkpoint";
import { loadDeployment, type Deployment } from "./chain/deployment";
import { shortError, withRetry } from "./chain/retry";
import { FastJsonRpcProvider } from "./chain/rpc";
import { Submitter } from "./chain/submitter";
import { Watcher } from "./chain/watcher";
import { OracleConfig, redactedConfig } from "./config";
import { loadDevPlatform } from "./enclave/platform";
import type { AttestationBackend } from "./enclave/backend";
import { createLogger } from "./log";
import { createMetrics, type OracleMetrics } from "./metrics";
import { loadManifest, type ModelManifestEntry } from "./models/manifest";
import { ModelCache } from "./models/cache";
import { ModelFetcher } from "./models/fetch";
import { ModelProvisioner, registryReader } from "./models/provision";
import { PreflightError, checkChainId, publicUrl } from "./node/preflight";
import { Pipeline } from "./node/pipeline";
import { RunnerRegistrar } from "./node/registrar";
import { RunnerPool } from "./node/runner-pool";
import { SignerRefresher } from "./node/signer-refresh";
import { ServabilityChecker, type ServabilityLimits } from "./node/servability";
import { RequestTracker } from "./node/tracker";
import { ORACLE_ABI, RequestState } from "./protocol/abi";
import { decodeCertificate, decodeReport } from "./protocol/report";
import { REPO_ROOT } from "./paths";
import { BullQueue, MemoryQueue, type WorkQueue } from "./queue";


export interface OracleNode {
  config: OracleConfig;
  deployment: Deployment;
  metrics: OracleMetrics;
  tracker: RequestTracker;
  queue: WorkQueue;
  watcher: Watcher;
  runners: RunnerPool;
  submitter: Submitter;
  /** What this node serves: callback gas ceiling (the oracle's own maximum unless lowered), batch gas. */
  limits: ServabilityLimits;
  api: ApiServer;
  log: Logger;
  /** Stops intake, drains in-flight work, closes everything. Idempotent; every step runs even if one throws. */
  close(reason?: string): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Attestation backend instead of the dev platform file. */
  platform?: AttestationBackend;
}

/** Starts a node. On failure, whatever was started is closed again before the error is thrown. */
export async function startNode(config: OracleConfig, opts: StartOptions = {}): Promise<OracleNode> {
  const log = opts.log ?? createLogger({ level: config.logLevel });
  log.info({ config: redactedConfig(config) }, "starting oracle node");
  const cleanups: [string, () => Promise<unknown>][] = [];
  const runCleanups = async () => {
    for (const [name, fn] of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ step: name, err: shortError(err) }, "cleanup step failed");
      }
    }
  };
  try {
    const deployment = loadDeployment(config.deploymentPath);
    const oracle = deployment.contracts.InferenceOracle;
    const provider = new FastJsonRpcProvider(config.rpcUrl, deployment.chainId, { staticNetwork: true, batchMaxCount: 50, pollingInterval: 250 });
    cleanups.push(["provider", async () => provider.destroy()]);
    // Before anything else: the RPC serves the deployment's chain, and Redis answers.
    await checkChainId(provider.rpc, config.rpcUrl, { chainId: deployment.chainId, file: config.deploymentPath }, config.startupTimeoutMs);
    const metrics = createMetrics();
    const tracker = new RequestTracker();
    const queue = createQueue(config, log);
    cleanups.push(["queue", () => queue.close()]);
    if (queue instanceof BullQueue) {
      await queue.waitReady(config.startupTimeoutMs).catch((err) => {
        throw new PreflightError(`REDIS_URL ${publicUrl(config.redisUrl!)} does not answer within ${config.startupTimeoutMs / 1000} s (${shortError(err)}): start Redis or fix REDIS_URL (nothing was registered on-chain)`);
      });
    }

    const cpName = `checkpoint-${deployment.network}-${oracle.toLowerCase()}.json`;
    const stores: CheckpointStore[] = [new FileCheckpointStore(path.join(config.dataDir, cpName))];
    if (queue instanceof BullQueue) {
      stores.push(new RedisCheckpointStore(queue.redis, `${config.queuePrefix}:${config.queueName}:checkpoint:${deployment.chainId}:${oracle.toLowerCase()}`));
    }
    const checkpoints = new CombinedCheckpointStore(stores, log);

    const submitter = new Submitter(
      { provider, oracle, chainId: deployment.chainId, keys: config.privateKeys, metrics, log: log.child({ part: "submitter" }) },
      { gasHeadroomPercent: config.gasHeadroomPercent, txTimeoutMs: config.txTimeoutMs, feeBumpPercent: config.feeBumpPercent },
    );

    // Models: the cache the runners read (by hash), the bundled ones copied in, the rest fetched by URI.
    const modelCache = new ModelCache(path.join(config.dataDir, "models"));
    modelCache.importDir(config.modelsDir);
    const fetcher = new ModelFetcher({ cache: modelCache, mirrors: config.modelMirrors, limits: { maxBytes: config.maxModelBytes, timeoutMs: config.modelFetchTimeoutMs } });
    const modelsLog = log.child({ part: "models" });
    const provisioner = new ModelProvisioner({
      fetcher, registration: registryReader(provider, deployment.contracts.ModelRegistry),
      onDecline: (err) => modelsLog.warn({ modelHash: err.modelHash, reason: err.reason }, err.message),
    });

    const platformFile = config.platformFile ? path.resolve(config.platformFile)
      : deployment.devPlatform?.stateFile ? path.resolve(REPO_ROOT, deployment.devPlatform.stateFile) : undefined;
    if (!opts.platform && !platformFile) throw new Error("no attestation platform: set ORACLE_PLATFORM_FILE or deploy with a dev platform");
    const platform = opts.platform ?? loadDevPlatform(platformFile!);
    const runnersLog = log.child({ part: "runners" });
    const registrar = new RunnerRegistrar({ provider, registry: deployment.contracts.EnclaveRegistry, submitter, log: runnersLog, bondWei: BigInt(config.bondWei) });
    const runners = await RunnerPool.launch({
      count: config.runners, platform, operator: submitter.operator, chainId: deployment.chainId, oracle, modelsDir: modelCache.dir,
      maxInputBytes: config.maxInputBytes, maxBatchSize: config.batchSize, log: log.child({ part: "enclave" }),
      journalDir: path.join(config.dataDir, "signatures"),
    }, { registrar, metrics, log: runnersLog });
    cleanups.push(["runners", () => runners.close()]);
    await runners.register();
    // After a revocation, or a serving operator's bond falling short, the registry re-checks every
    // signer on every result until it is refreshed: the node refreshes its own once per such move.
    const refresher = new SignerRefresher({
      provider, registry: deployment.contracts.EnclaveRegistry, submitter, signers: () => runners.signers(), log: log.child({ part: "runners" }),
    });
    await withRetry(() => refresher.start(), { what: "registry revocation epoch", log });
    cleanups.push(["signer refresh", async () => refresher.stop()]);

    // The bundled catalogue (names and labels for the API and console; the runner never reads it).
    const manifest = fs.existsSync(path.join(config.modelsDir, "manifest.json")) ? loadManifest(config.modelsDir) : { models: [] as ModelManifestEntry[] };
    const limits = await withRetry(() => servingLimits(provider, oracle, config), { what: "serving limits (config(), block gas limit)", log });
    log.info({ maxCallbackGas: limits.maxCallbackGas, maxBatchGas: limits.maxBatchGas.toString() }, "serving limits");
    const servability = new ServabilityChecker({
      provider, modelRegistry: deployment.contracts.ModelRegistry, models: provisioner, limits, measurement: () => runners.measurement(),
      gasPrice: () => submitter.gasPrice(),
    });
    const pipeline = new Pipeline(
      { provider, oracle, runners, servability, submitter, tracker, metrics, log: log.child({ part: "pipeline" }) },
      { batchSize: config.batchSize, batchWindowMs: config.batchWindowMs, maxBatchGas: limits.maxBatchGas },
    );
    queue.process(pipeline.handle, config.jobConcurrency);
    cleanups.push(["processing", async () => {
      // Stop fetching jobs; while the worker waits for its active jobs, keep flushing partial batches.
      const stopping = queue.stopProcessing();
      let done = false;
      void stopping.finally(() => { done = true; });
      while (!done) {
        pipeline.flush();
        await Promise.race([stopping, new Promise((r) => setTimeout(r, 50))]);
      }
      await pipeline.drain();
    }]);

    const watcher = new Watcher(
      { provider, chainId: deployment.chainId, oracle, queue, checkpoints, tracker, metrics, log: log.child({ part: "watcher" }) },
      {
        confirmations: config.confirmations, pollIntervalMs: config.pollIntervalMs, startBlock: config.startBlock ?? deployment.deploymentBlock,
        maxBlockRange: config.maxBlockRange, reconcileIntervalMs: config.reconcileIntervalMs,
      },
    );
    await watcher.start();
    cleanups.push(["watcher", () => watcher.stop()]);

    const oracleContract = new Contract(oracle, ORACLE_ABI, provider);
    const consoleParts = config.console ? startConsole({
      provider, deployment, tracker, metrics, runners, senders: submitter.addresses, manifest, modelsDir: config.modelsDir, cache: modelCache,
      queue, queueKind: queue.kind, sourceDir: REPO_ROOT, log: log.child({ part: "console" }),
    }) : undefined;
    cleanups.push(["console", async () => consoleParts?.stop()]);
    const api = await startApi({
      registry: metrics.registry,
      log: log.child({ part: "api" }),
      console: consoleParts,
      info: { network: deployment.network, chainId: deployment.chainId, oracle, queue: queue.kind, operator: submitter.operator },
      checks: [
        { name: "rpc", check: async () => (await provider.getBlockNumber()) >= 0 },
        ...(config.redisUrl ? [{ name: "redis", check: () => queue.ping() }] : []),
        { name: "runners", check: async () => ({ ok: runners.allRegistered(), detail: `registered signers: ${runners.signers().join(", ") || "none"}` }) },
        { name: "watcher", check: async () => ({
          ok: Date.now() - watcher.lastPollAt < Math.max(10_000, config.pollIntervalMs * 10),
          detail: `scanned to block ${watcher.scannedBlock}, head ${watcher.lastHead}` }) },
      ],
      attestation: async () => ({
        simulation: deployment.devPlatform ? "development platform: a software simulation of TEE hardware" : undefined,
        runners: runners.evidence().map(({ index, evidence: ev }) => {
          if (!ev) return { index, status: "restarting" };
          const dev = ev.format === "dev" ? ev : undefined;
          return {
            index, signer: ev.signer, measurement: ev.measurement, registered: runners.signers().includes(ev.signer),
            ...(dev ? {
              teeType: dev.teeType, rootId: dev.rootId, report: dev.report, reportSignature: dev.reportSignature,
              reportDecoded: decodeReport(dev.report), certificate: dev.certificate, certificateSignature: dev.certificateSignature,
              certificateDecoded: decodeCertificate(dev.certificate),
            } : { format: ev.format }),
          };
        }),
      }),
      request: async (id) => {
        const rec = tracker.get(id.toString());
        const state = Number(await oracleContract.requestState(id));
        if (!rec && state === RequestState.None) return undefined;
        // Not seen yet: say why, so an operator on a quiet chain (e.g. `hardhat node`, which mines only
        // on transactions) sees that the watcher is waiting for confirmations, not stuck.
        const unseen = `not seen by this node yet: the watcher has scanned to block ${watcher.scannedBlock} `
          + `(head ${watcher.lastHead}, ${config.confirmations} confirmation(s) required)`;
        return { ...(rec ?? { requestId: id.toString(), status: unseen, trail: [] }), onChainState: RequestState[state] };
      },
      models: () => {
        const byHash = new Map(manifest.models.map((m) => [m.sha256, m]));
        return {
          models: modelCache.list().map((c) => {
            const m = byHash.get(c.modelHash);
            return {
              name: m?.name ?? c.name, modelId: m ? deployment.models[m.name] ?? null : null, modelHash: c.modelHash, bytes: c.bytes, pinned: c.pinned,
              ...(m ? { file: m.file, input: m.input, output: m.output, decimals: m.decimals, determinism: m.determinism, description: m.description } : {}),
            };
          }),
          declined: Object.fromEntries(provisioner.declinedModels()),
        };
      },
    }, config.httpPort, config.httpHost);
    cleanups.push(["http", () => api.close()]);
    log.info({ port: api.port, queue: queue.kind, runners: runners.signers(), oracle }, "oracle node ready");

    let closing: Promise<void> | undefined;
    const close = (reason = "close") => {
      closing ??= (async () => {
        log.info({ reason }, "shutting down: stopping intake, draining in-flight work");
        // Order: watcher first (no new jobs), then processing (drain), then queue, runners, http.
        const order = ["watcher", "processing", "http", "console", "queue", "runners", "provider"];
        const byName = new Map(cleanups);
        const timer = setTimeout(() => log.warn({ timeoutMs: config.shutdownTimeoutMs }, "shutdown is taking long; closing anyway"), config.shutdownTimeoutMs);
        for (const name of order) {
          const fn = byName.get(name);
          if (!fn) continue;
          try {
            if (name === "processing") await Promise.race([fn(), new Promise((r) => setTimeout(r, config.shutdownTimeoutMs))]);
            else await fn();
          } catch (err) {
            log.warn({ step: name, err: shortError(err) }, "shutdown step failed; continuing");
          }
        }
        clearTimeout(timer);
        log.info("oracle node stopped");
      })();
      return closing;
    };
    return { config, deployment, metrics, tracker, queue, watcher, runners, submitter, limits, api, log, close };
  } catch (err) {
    await runCleanups();
    throw err;
  }
}

/**
 * The node's serving limits: the callback gas ceiling is the oracle's own maximum (its
 * `config().maxCallbackGasLimit`), lowered by ORACLE_MAX_CALLBACK_GAS if set; a batch's gas stays
 * under the per-transaction cap and the block gas limit.
 */
async function servingLimits(provider: FastJsonRpcProvider, oracle: string, config: OracleConfig): Promise<ServabilityLimits> {
  const [cfg, block] = await Promise.all([
    new Contract(oracle, ORACLE_ABI, provider).config() as Promise<{ maxCallbackGasLimit: bigint }>,
    provider.rpc.call<{ gasLimit: string }>("eth_getBlockByNumber", ["latest", false]),
  ]);
  const oracleMax = Number(cfg.maxCallbackGasLimit);
  const maxCallbackGas = Math.min(config.maxCallbackGas ?? oracleMax, oracleMax);
  const blockGas = BigInt(block.gasLimit);
  const txGas = BigInt(config.maxTxGas);
  return { maxInputBytes: config.maxInputBytes, maxCallbackGas, maxBatchGas: txGas < blockGas ? txGas : blockGas };
}

/** BullMQ on Redis when REDIS_URL is set, else the in-process queue. */
function createQueue(config: OracleConfig, log: Logger): WorkQueue {
  const queueOpts = { attempts: config.jobAttempts, backoffMs: config.backoffMs };
  if (!config.redisUrl) return new MemoryQueue(queueOpts, log.child({ part: "queue" }));
  return new BullQueue({
    ...queueOpts, redisUrl: config.redisUrl, name: config.queueName, prefix: config.queuePrefix,
    lockDurationMs: config.lockDurationMs, stalledIntervalMs: config.stalledIntervalMs,
  }, log.child({ part: "queue" }));
}

/**
 * Runs a node until SIGINT/SIGTERM: the first signal shuts down gracefully, a second one forces
 * exit at once. Resolves when the node has stopped.
 */
export async function runUntilSignalled(config: OracleConfig, log: Logger): Promise<void> {
  const node = await startNode(config, { log });
  await new Promise<void>((resolve) => {
    let signalled = 0;
    const onSignal = (sig: NodeJS.Signals | "parent exited") => {
      signalled++;
      if (signalled > 1) {
        log.warn({ signal: sig }, "second signal: exiting now");
        log.flush?.();
        process.exit(130);
      }
      clearInterval(orphanWatch);
      void node.close(sig).then(resolve, resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    const orphanWatch = watchNpmParent(() => onSignal("parent exited"));
  });
}

/**
 * `npm run …` and `npx …` start the node through a shell (`sh -c`) that does not pass npm's
 * SIGTERM on: the shell dies and the node would live on as an orphan. Under npm, the node
 * therefore stops (gracefully, as on SIGTERM) when its parent is gone. Outside npm nothing is
 * watched: `nohup oracle start &` must outlive its shell.
 */
function watchNpmParent(onGone: () => void): NodeJS.Timeout | undefined {
  if (!process.env.npm_command) return undefined;
  const parent = process.ppid;
  const timer = setInterval(() => { if (process.ppid !== parent) onGone(); }, 250);
  timer.unref();
  return timer;
}
