/**
 * The composition root: builds every part of the node from the configuration and wires them
 * together — watcher → queue → runner pool → submitter, plus the HTTP API — and returns a handle
 * whose `close()` shuts them down in order. Each part takes its dependencies as arguments; this is
 * the only file that knows them all. The operator's one-shot commands (`oracle bond`,
 * `oracle register-enclave`) take their parts from here too.
 */
import * as fs from "node:fs";
import path from "node:path";
import { Contract, type JsonRpcApiProviderOptions } from "ethers";
import type { Logger } from "pino";
import { startConsole } from "./api/console";
import { startApi, type ApiServer, type ReadinessCheck } from "./api/server";
import { attestationView, modelsView, requestView } from "./api/views";
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
import { ORACLE_ABI } from "./protocol/abi";
import { REPO_ROOT } from "./paths";
import { BullQueue, MemoryQueue, type WorkQueue } from "./queue";
import { Started } from "./shutdown";

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

/** The chain a node or command works on: the deployment file's addresses and a provider for RPC_URL. */
export interface Chain {
  deployment: Deployment;
  provider: FastJsonRpcProvider;
  /** The InferenceOracle's address. */
  oracle: string;
}

/** The models the runners read: the cache (by hash) and the provisioner that fills it. */
interface Models {
  cache: ModelCache;
  provisioner: ModelProvisioner;
  /** The bundled catalogue (names and labels for the API and console; the runner never reads it). */
  manifest: { models: ModelManifestEntry[] };
}

/** The node's parts, as startNode's steps build them; a step takes those it needs. */
interface NodeParts {
  chain: Chain;
  queue: WorkQueue;
  runners: RunnerPool;
  models: Models;
  limits: ServabilityLimits;
  submitter: Submitter;
  tracker: RequestTracker;
  metrics: OracleMetrics;
  watcher: Watcher;
  log: Logger;
}

/** Starts a node. On failure, whatever was started is closed again before the error is thrown. */
export async function startNode(config: OracleConfig, opts: StartOptions = {}): Promise<OracleNode> {
  const log = opts.log ?? createLogger({ level: config.logLevel });
  log.info({ config: redactedConfig(config) }, "starting oracle node");
  const started = new Started(log);
  try {
    // Before anything else: the RPC serves the deployment's chain, and Redis answers.
    const chain = await connectChain(config, started);
    const metrics = createMetrics();
    const tracker = new RequestTracker();
    const queue = await openQueue(config, log, started);
    const submitter = operatorSubmitter(config, chain, metrics, log.child({ part: "submitter" }));
    const models = provideModels(config, chain, log.child({ part: "models" }));
    const runners = await launchRunners(config, chain, submitter, metrics, log, {
      modelsDir: models.cache.dir, journalDir: path.join(config.dataDir, "signatures"), platform: opts.platform,
    });
    started.add("runners", () => runners.close());
    await runners.register();
    await startSignerRefresh(chain, submitter, runners, metrics, log, started);
    const limits = await withRetry(() => servingLimits(chain, config), { what: "serving limits (config(), block gas limit)", log });
    log.info({ maxCallbackGas: limits.maxCallbackGas, maxBatchGas: limits.maxBatchGas.toString() }, "serving limits");
    startPipeline(config, { chain, queue, runners, models, limits, submitter, tracker, metrics, log }, started);
    const watcher = await startWatcher(config, { chain, queue, tracker, metrics, log }, started);
    const api = await startHttp(config, { chain, queue, runners, models, submitter, tracker, metrics, watcher, log }, started);
    log.info({ port: api.port, queue: queue.kind, runners: runners.signers(), oracle: chain.oracle }, "oracle node ready");
    const close = shutdown(config, log, started);
    return { config, deployment: chain.deployment, metrics, tracker, queue, watcher, runners, submitter, limits, api, log, close };
  } catch (err) {
    await started.stopAll("cleanup step failed");
    throw err;
  }
}

/** What the operator's one-shot commands send with: the chain and the operator's submitter. */
export interface OperatorClient extends Chain {
  submitter: Submitter;
  metrics: OracleMetrics;
  /** Releases the provider. */
  close(): void;
}

/** For `oracle bond` and `oracle register-enclave`: the chain and the operator's submitter, nothing started. */
export function operatorClient(config: OracleConfig, log: Logger): OperatorClient {
  const chain = openChain(config);
  const metrics = createMetrics({ defaultMetrics: false });
  const submitter = operatorSubmitter(config, chain, metrics, log);
  return { ...chain, submitter, metrics, close: () => chain.provider.destroy() };
}

/**
 * For `oracle register-enclave`: starts the configured runners (models from ORACLE_MODELS_DIR, no
 * signature journal) and registers each signer, the operator's bond checked first. `close()` stops
 * the runners, leaving their signers registered, and releases the provider.
 */
export async function startRegisteredRunners(config: OracleConfig, log: Logger): Promise<{ client: OperatorClient; runners: RunnerPool; close(): Promise<void> }> {
  const client = operatorClient(config, log);
  let runners: RunnerPool | undefined;
  const close = async () => {
    await runners?.close({ retire: false });
    client.close();
  };
  try {
    runners = await launchRunners(config, client, client.submitter, client.metrics, log, { modelsDir: config.modelsDir });
    await runners.register();
  } catch (err) {
    await close();
    throw err;
  }
  return { client, runners, close };
}

// ---------------------------------------------------------------------------------------------
// The steps of startNode, in order.

/** The deployment and a provider for RPC_URL (no call made yet); `oracle status` reads the chain with it. */
export function openChain(config: OracleConfig, options: JsonRpcApiProviderOptions = {}): Chain {
  const deployment = loadDeployment(config.deploymentPath);
  const provider = new FastJsonRpcProvider(config.rpcUrl, deployment.chainId, { staticNetwork: true, ...options });
  return { deployment, provider, oracle: deployment.contracts.InferenceOracle };
}

/** The node's chain, checked to be the deployment's (chain id) before anything else starts. */
async function connectChain(config: OracleConfig, started: Started): Promise<Chain> {
  const chain = openChain(config, { batchMaxCount: 50, pollingInterval: 250 });
  started.add("provider", () => chain.provider.destroy());
  await checkChainId(chain.provider.rpc, config.rpcUrl, { chainId: chain.deployment.chainId, file: config.deploymentPath }, config.startupTimeoutMs);
  return chain;
}

/** The work queue; with Redis, a bounded wait for it to answer. */
async function openQueue(config: OracleConfig, log: Logger, started: Started): Promise<WorkQueue> {
  const queue = createQueue(config, log);
  started.add("queue", () => queue.close());
  if (queue instanceof BullQueue) {
    await queue.waitReady(config.startupTimeoutMs).catch((err) => {
      throw new PreflightError(`REDIS_URL ${publicUrl(config.redisUrl!)} does not answer within ${config.startupTimeoutMs / 1000} s (${shortError(err)}): start Redis or fix REDIS_URL (nothing was registered on-chain)`);
    });
  }
  return queue;
}

/** Sends the node's transactions from ORACLE_PRIVATE_KEY (the first key is the operator). */
function operatorSubmitter(config: OracleConfig, chain: Chain, metrics: OracleMetrics, log: Logger): Submitter {
  return new Submitter(
    { provider: chain.provider, oracle: chain.oracle, chainId: chain.deployment.chainId, keys: config.privateKeys, metrics, log },
    { gasHeadroomPercent: config.gasHeadroomPercent, txTimeoutMs: config.txTimeoutMs, feeBumpPercent: config.feeBumpPercent, maxTxGas: config.maxTxGas },
  );
}

/** The model cache the runners read (by hash), the bundled models copied in, the rest fetched by URI. */
function provideModels(config: OracleConfig, chain: Chain, log: Logger): Models {
  const cache = new ModelCache(path.join(config.dataDir, "models"));
  cache.importDir(config.modelsDir);
  const fetcher = new ModelFetcher({
    cache, mirrors: config.modelMirrors, limits: { maxBytes: config.maxModelBytes, timeoutMs: config.modelFetchTimeoutMs }, privateHosts: config.modelAllowPrivateHosts,
  });
  const provisioner = new ModelProvisioner({
    fetcher, registration: registryReader(chain.provider, chain.deployment.contracts.ModelRegistry),
    onDecline: (err) => log.warn({ modelHash: err.modelHash, reason: err.reason }, err.message),
  });
  const manifest = fs.existsSync(path.join(config.modelsDir, "manifest.json")) ? loadManifest(config.modelsDir) : { models: [] as ModelManifestEntry[] };
  return { cache, provisioner, manifest };
}

/**
 * Launches the configured runners, attested by `platform` or the development platform (from
 * ORACLE_PLATFORM_FILE or the deployment). They serve once `register()` has registered them.
 */
async function launchRunners(
  config: OracleConfig, chain: Chain, submitter: Submitter, metrics: OracleMetrics, log: Logger,
  where: { modelsDir: string; journalDir?: string; platform?: AttestationBackend },
): Promise<RunnerPool> {
  const platform = where.platform ?? loadDevPlatform(platformFile(config, chain.deployment));
  const runnersLog = log.child({ part: "runners" });
  const registrar = new RunnerRegistrar({
    provider: chain.provider, registry: chain.deployment.contracts.EnclaveRegistry, submitter, log: runnersLog, bondWei: BigInt(config.bondWei),
  });
  return RunnerPool.launch({
    count: config.runners, platform, operator: submitter.operator, chainId: chain.deployment.chainId, oracle: chain.oracle, modelsDir: where.modelsDir,
    maxInputBytes: config.maxInputBytes, maxBatchSize: config.batchSize, log: log.child({ part: "enclave" }),
    ...(where.journalDir !== undefined ? { journalDir: where.journalDir } : {}),
  }, { registrar, metrics, log: runnersLog });
}

/**
 * After a revocation, or a serving operator's bond falling short, the registry re-checks every
 * signer on every result until it is refreshed: the node refreshes its own once per such move.
 */
async function startSignerRefresh(
  chain: Chain, submitter: Submitter, runners: RunnerPool, metrics: OracleMetrics, log: Logger, started: Started,
): Promise<void> {
  const refresher = new SignerRefresher({
    provider: chain.provider, registry: chain.deployment.contracts.EnclaveRegistry, submitter, signers: () => runners.signers(),
    metrics, log: log.child({ part: "runners" }),
  });
  await withRetry(() => refresher.start(), { what: "registry revocation epoch", log });
  started.add("signer refresh", () => refresher.stop());
}

/** The development platform's file: ORACLE_PLATFORM_FILE, else the one the deployment names. */
function platformFile(config: OracleConfig, deployment: Deployment): string {
  if (config.platformFile) return path.resolve(config.platformFile);
  if (deployment.devPlatform?.stateFile) return path.resolve(REPO_ROOT, deployment.devPlatform.stateFile);
  throw new Error("no attestation platform: set ORACLE_PLATFORM_FILE or deploy with a dev platform");
}

/**
 * The node's serving limits: the callback gas ceiling is the oracle's own maximum (its
 * `config().maxCallbackGasLimit`), lowered by ORACLE_MAX_CALLBACK_GAS if set; a batch's gas stays
 * under the per-transaction cap and the block gas limit.
 */
async function servingLimits({ provider, oracle }: Chain, config: OracleConfig): Promise<ServabilityLimits> {
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

/** The queue's handler: servability check, batches, runners, submitter. At shutdown it drains. */
function startPipeline(
  config: OracleConfig,
  parts: Omit<NodeParts, "watcher">,
  started: Started,
): void {
  const { chain: { provider, deployment, oracle }, queue, runners, models, limits, submitter, tracker, metrics, log } = parts;
  const servability = new ServabilityChecker({
    provider, modelRegistry: deployment.contracts.ModelRegistry, models: models.provisioner, limits, measurement: () => runners.measurement(),
    gasPrice: () => submitter.gasPrice(),
  });
  const pipeline = new Pipeline(
    { provider, oracle, runners, servability, submitter, tracker, metrics, log: log.child({ part: "pipeline" }) },
    { batchSize: config.batchSize, batchWindowMs: config.batchWindowMs, maxBatchGas: limits.maxBatchGas },
  );
  queue.process(pipeline.handle, config.jobConcurrency);
  // Draining is bounded by ORACLE_SHUTDOWN_TIMEOUT_MS; the stops after it run either way.
  started.add("processing", async () => {
    // Stop fetching jobs; while the worker waits for its active jobs, keep flushing partial batches.
    const stopping = queue.stopProcessing();
    let done = false;
    void stopping.finally(() => { done = true; });
    while (!done) {
      pipeline.flush();
      await Promise.race([stopping, new Promise((r) => setTimeout(r, 50))]);
    }
    await pipeline.drain();
  }, { drains: true, timeoutMs: config.shutdownTimeoutMs });
}

/** The watcher, from its checkpoint (a file, and Redis when the queue is on it). */
async function startWatcher(
  config: OracleConfig,
  { chain: { provider, deployment, oracle }, queue, tracker, metrics, log }: Pick<NodeParts, "chain" | "queue" | "tracker" | "metrics" | "log">,
  started: Started,
): Promise<Watcher> {
  const cpName = `checkpoint-${deployment.network}-${oracle.toLowerCase()}.json`;
  const stores: CheckpointStore[] = [new FileCheckpointStore(path.join(config.dataDir, cpName))];
  if (queue instanceof BullQueue) {
    stores.push(new RedisCheckpointStore(queue.redis, `${config.queuePrefix}:${config.queueName}:checkpoint:${deployment.chainId}:${oracle.toLowerCase()}`));
  }
  const checkpoints = new CombinedCheckpointStore(stores, log);
  const watcher = new Watcher(
    { provider, chainId: deployment.chainId, oracle, queue, checkpoints, tracker, metrics, log: log.child({ part: "watcher" }) },
    {
      confirmations: config.confirmations, pollIntervalMs: config.pollIntervalMs, startBlock: config.startBlock ?? deployment.deploymentBlock,
      maxBlockRange: config.maxBlockRange, reconcileIntervalMs: config.reconcileIntervalMs,
    },
  );
  await watcher.start();
  started.add("watcher", () => watcher.stop(), { drains: true });
  return watcher;
}

/** The HTTP API (health, readiness, metrics, attestation, requests, models) and, if configured, the console. */
async function startHttp(
  config: OracleConfig,
  parts: Omit<NodeParts, "limits">,
  started: Started,
): Promise<ApiServer> {
  const { chain: { provider, deployment, oracle }, queue, runners, models, submitter, tracker, metrics, watcher, log } = parts;
  const consoleParts = config.console ? startConsole({
    provider, deployment, tracker, metrics, runners, senders: submitter.addresses, manifest: models.manifest, modelsDir: config.modelsDir, cache: models.cache,
    queue, queueKind: queue.kind, sourceDir: REPO_ROOT, log: log.child({ part: "console" }),
  }) : undefined;
  started.add("console", () => consoleParts?.stop());
  const oracleContract = new Contract(oracle, ORACLE_ABI, provider);
  const api = await startApi({
    registry: metrics.registry,
    log: log.child({ part: "api" }),
    console: consoleParts,
    info: { network: deployment.network, chainId: deployment.chainId, oracle, queue: queue.kind, operator: submitter.operator },
    checks: readinessChecks(config, parts),
    attestation: async () => attestationView(runners, deployment),
    request: (id) => requestView(id, tracker, async (r) => Number(await oracleContract.requestState(r)), watcher, config.confirmations),
    models: () => modelsView(models.cache.list(), models.manifest, deployment, models.provisioner.declinedModels()),
  }, config.httpPort, config.httpHost);
  started.add("http", () => api.close());
  return api;
}

/** /readyz: the RPC answers, Redis answers (if configured), every runner is registered, the watcher polls. */
function readinessChecks(
  config: OracleConfig, { chain: { provider }, queue, runners, watcher }: Pick<NodeParts, "chain" | "queue" | "runners" | "watcher">,
): ReadinessCheck[] {
  return [
    { name: "rpc", check: async () => (await provider.getBlockNumber()) >= 0 },
    ...(config.redisUrl ? [{ name: "redis", check: () => queue.ping() }] : []),
    { name: "runners", check: async () => ({ ok: runners.allRegistered(), detail: `registered signers: ${runners.signers().join(", ") || "none"}` }) },
    { name: "watcher", check: async () => ({
      ok: Date.now() - watcher.lastPollAt < Math.max(10_000, config.pollIntervalMs * 10),
      detail: `scanned to block ${watcher.scannedBlock}, head ${watcher.lastHead}` }) },
  ];
}

/**
 * The node's close(): idempotent; runs every stop registered in {@link Started} (watcher, then the
 * drain, then the HTTP API, …, the provider last), each even if one throws.
 */
function shutdown(config: OracleConfig, log: Logger, started: Started): (reason?: string) => Promise<void> {
  let closing: Promise<void> | undefined;
  return (reason = "close") => {
    closing ??= (async () => {
      log.info({ reason }, "shutting down: stopping intake, draining in-flight work");
      const timer = setTimeout(() => log.warn({ timeoutMs: config.shutdownTimeoutMs }, "shutdown is taking long; closing anyway"), config.shutdownTimeoutMs);
      await started.stopAll("shutdown step failed; continuing");
      clearTimeout(timer);
      log.info("oracle node stopped");
    })();
    return closing;
  };
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
