/**
 * What the console shows besides the live series, gathered from the node and the chain:
 *
 *   requests   the recent ones from the node's tracker (state, trail, why declined), with their
 *              input and output read from the chain's events and decoded with the model's spec
 *   overview   enclaves (signer, operator, measurement, TEE type, registration, expiry, restarts),
 *              sending keys and balances, fees to withdraw, models served and cached
 *
 * The overview is refreshed every few seconds whether or not anyone looks, because it also sets
 * the gauges alerts read (signer expiry, key balances, fees).
 */
import fs from "node:fs";
import path from "node:path";
import { Contract, ZeroAddress, formatEther, getAddress, type JsonRpcProvider, type Log } from "ethers";
import type { Logger } from "pino";
import { requestIdTopic } from "../../chain/codec";
import type { Deployment } from "../../chain/deployment";
import { shortError } from "../../chain/retry";
import type { OracleMetrics } from "../../metrics";
import type { ModelManifestEntry } from "../../models/manifest";
import type { RunnerPool } from "../../node/runner-pool";
import type { RequestRecord, RequestTracker } from "../../node/tracker";
import { ENCLAVE_REGISTRY_ABI, ENCLAVE_STATUS, MODEL_REGISTRY_ABI, ORACLE_ABI, ORACLE_TOPICS, REQUEST_STATE, oracleInterface } from "../../protocol/abi";
import { sha256Hex } from "../../protocol/bytes";
import { ResultStatus, TeeType } from "../../protocol/constants";
import { fulfilmentFromEvent } from "../../protocol/fulfilment";
import { requestFromLog } from "../../protocol/request";
import { describeInput, describeTensor, modelView, type ModelView, type TensorView } from "../../models/view";

export interface ConsoleStateDeps {
  provider: JsonRpcProvider;
  deployment: Deployment;
  tracker: RequestTracker;
  metrics: OracleMetrics;
  runners: RunnerPool;
  /** Addresses of the sending keys; the first is the operator. */
  senders: string[];
  manifest: { models: ModelManifestEntry[] };
  modelsDir: string;
  /** The node's model cache (by hash), if it has one; else the models folder is looked at. */
  cache?: { has(modelHash: string): boolean };
  queueKind: string;
  log: Logger;
}

export interface ConsoleRequest {
  requestId: string;
  modelId?: string;
  model?: string;
  status: string;
  block: number;
  trail: RequestRecord["trail"];
  /** Why the node declined or gave up on it (the last step's detail), if it did. */
  reason?: string;
  input?: TensorView;
  output?: TensorView;
  /** Result status name when the request was fulfilled (Ok, InputOutOfRange, ...). */
  resultStatus?: string;
  fulfilledTx?: string;
  /** The consumer's callback, when one was made: "delivered (N gas)" or "reverted or out of gas (N gas)". */
  callback?: string;
  /** The oracle's state of the request (asked for a single request only). */
  onChainState?: string;
}

export interface ConsoleOverview {
  at: number;
  node: { network: string; chainId: number; oracle: string; operator: string; queue: string; simulation: boolean };
  enclaves: {
    runner: number; signer: string | null; registered: boolean; operator?: string; measurement?: string; teeType?: string;
    status?: string; expiresAt?: number; restarts: number;
  }[];
  keys: { address: string; operator: boolean; balanceEther: string | null }[];
  fees: { operator: string; withdrawableEther: string | null };
  models: {
    name: string; modelId: number | null; modelHash: string; description: string; decimals: number; inputLength: number; outputLength: number;
    labels?: string[]; uri?: string; feeEther?: string; active?: boolean; publisher?: string; cached: boolean;
  }[];
  /** Chain reads that failed during the last refresh (the values above are the last good ones). */
  problems: string[];
}

const GOOD_STATUSES = new Set(["seen", "queued", "computed", "submitted", "fulfilled", "settled-elsewhere"]);
/** Trail steps that say why the node gave up on a request. */
const DECLINE_STEPS = new Set(["failed", "declined", "dropped"]);

interface ChainIo {
  input?: string;
  modelHash?: string;
  output?: string;
  status?: number;
  fulfilledTx?: string;
  callbackSuccess?: boolean;
  callbackGasUsed?: bigint;
}

export class ConsoleState {
  private readonly oracle: Contract;
  private readonly enclaveRegistry: Contract;
  private readonly modelRegistry: Contract;
  private readonly byHash = new Map<string, ModelView>();
  /** Input and output of requests, from the chain; entries with an output are final. */
  private readonly io = new Map<string, ChainIo>();
  private readonly restarts = new Map<number, number>();
  private readonly cachedFiles = new Map<string, { key: string; ok: boolean }>();
  private overviewValue?: ConsoleOverview;
  private refreshing?: Promise<ConsoleOverview>;
  private timer?: NodeJS.Timeout;

  constructor(private readonly deps: ConsoleStateDeps) {
    const c = deps.deployment.contracts;
    this.oracle = new Contract(c.InferenceOracle, ORACLE_ABI, deps.provider);
    this.enclaveRegistry = new Contract(c.EnclaveRegistry, ENCLAVE_REGISTRY_ABI, deps.provider);
    this.modelRegistry = new Contract(c.ModelRegistry, MODEL_REGISTRY_ABI, deps.provider);
    for (const m of deps.manifest.models) this.byHash.set(m.sha256, modelView(m));
    deps.runners.on("restarted", (index: number) => this.restarts.set(index, (this.restarts.get(index) ?? 0) + 1));
  }

  /** Refreshes the overview (and the gauges) every `ms` until {@link stop}. */
  start(ms = 10_000): void {
    if (this.timer) return;
    void this.refresh().catch(() => undefined);
    this.timer = setInterval(() => { void this.refresh().catch(() => undefined); }, ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The recent requests, newest first; or the one with `id` (from the chain if this node has not seen it). */
  async requests(limit: number, id?: bigint): Promise<ConsoleRequest[]> {
    let records: RequestRecord[];
    if (id !== undefined) {
      const rec = this.deps.tracker.get(id.toString());
      records = [rec ?? { requestId: id.toString(), blockNumber: this.deps.deployment.deploymentBlock, status: "seen", trail: [] }];
    } else {
      records = this.deps.tracker.recent(limit);
    }
    await this.loadIo(records);
    const out = records.map((r) => this.view(r, !!id && !this.deps.tracker.get(r.requestId)));
    if (id !== undefined) {
      const state = Number(await this.oracle.requestState(id));
      if (state === 0 && !this.deps.tracker.get(id.toString())) return [];
      out[0].onChainState = REQUEST_STATE[state] ?? String(state);
    }
    return out;
  }

  private view(r: RequestRecord, unseen: boolean): ConsoleRequest {
    const io = this.io.get(r.requestId) ?? {};
    const model = io.modelHash ? this.byHash.get(io.modelHash.toLowerCase()) : undefined;
    const declined = [...r.trail].reverse().find((s) => DECLINE_STEPS.has(s.step) && s.detail);
    const v: ConsoleRequest = {
      requestId: r.requestId, modelId: r.modelId, model: model?.name, status: unseen ? "not seen by this node" : r.status, block: r.blockNumber, trail: r.trail,
    };
    if (!GOOD_STATUSES.has(r.status) && declined) v.reason = declined.detail;
    if (model && io.input) v.input = describeInput(io.input, model);
    if (io.output !== undefined) {
      v.resultStatus = ResultStatus[io.status ?? 0] ?? String(io.status);
      v.fulfilledTx = io.fulfilledTx;
      // gas 0 and no success: no callback was asked for, or the requester has no code
      if (io.callbackSuccess || io.callbackGasUsed) {
        v.callback = `${io.callbackSuccess ? "delivered" : "reverted or out of gas"} (${io.callbackGasUsed} gas)`;
      }
      if (model && io.status === ResultStatus.Ok) v.output = describeTensor(io.output, model.decimals, { labels: model.labels });
    }
    return v;
  }

  /** Reads the request and fulfilment events of the requests not known final, in one getLogs. */
  private async loadIo(records: RequestRecord[]): Promise<void> {
    const unread = records.filter((r) => this.io.get(r.requestId)?.output === undefined);
    if (!unread.length) return;
    const from = Math.max(this.deps.deployment.deploymentBlock, Math.min(...unread.map((r) => r.blockNumber || this.deps.deployment.deploymentBlock)));
    let logs: Log[];
    try {
      logs = await this.deps.provider.getLogs({
        address: this.deps.deployment.contracts.InferenceOracle, fromBlock: from, toBlock: "latest",
        topics: [[ORACLE_TOPICS.InferenceRequested, ORACLE_TOPICS.InferenceFulfilled], unread.map((r) => requestIdTopic(r.requestId))],
      });
    } catch (err) {
      this.deps.log.debug({ err: shortError(err) }, "console: reading request events failed");
      return;
    }
    for (const l of logs) {
      const id = BigInt(l.topics[1]).toString();
      const io = this.io.get(id) ?? {};
      if (l.topics[0] === ORACLE_TOPICS.InferenceRequested) {
        const request = requestFromLog(l);
        io.input = request.input;
        io.modelHash = request.modelHash;
      } else {
        const ev = oracleInterface.parseLog(l);
        if (!ev) continue;
        const f = fulfilmentFromEvent(ev.args as never);
        Object.assign(io, { output: f.output, status: f.status, fulfilledTx: l.transactionHash, callbackSuccess: f.callbackSuccess, callbackGasUsed: f.callbackGasUsed });
      }
      this.io.set(id, io);
    }
    if (this.io.size > 5000) for (const k of [...this.io.keys()].slice(0, this.io.size - 5000)) this.io.delete(k);
  }

  /** The last overview if fresh (under 5 s), else a new one. */
  async overview(): Promise<ConsoleOverview> {
    if (this.overviewValue && Date.now() / 1000 - this.overviewValue.at < 5) return this.overviewValue;
    return this.refresh();
  }

  /** Reads the overview from the node and the chain, and sets the gauges alerts read. */
  refresh(): Promise<ConsoleOverview> {
    this.refreshing ??= this.read().finally(() => { this.refreshing = undefined; });
    return this.refreshing;
  }

  private async read(): Promise<ConsoleOverview> {
    const d = this.deps.deployment;
    const problems: string[] = [];
    const ask = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
      try { return await fn(); } catch (err) { problems.push(`${what}: ${shortError(err)}`); return undefined; }
    };
    const operator = getAddress(this.deps.senders[0]);
    const registered = new Set(this.deps.runners.signers());
    const enclaves = await Promise.all(this.deps.runners.hosts.map(async (r, index) => {
      let signer: string | null = null;
      try { signer = getAddress(r.signer ?? ZeroAddress); } catch { signer = null; }
      if (signer === ZeroAddress) signer = null; // between a runner's exit and its new key
      const base = { runner: index, signer, registered: signer !== null && registered.has(signer), restarts: this.restarts.get(index) ?? 0 };
      if (!signer) return base;
      const e = await ask(`getEnclave(${signer})`, () => this.enclaveRegistry.getEnclave(signer));
      if (!e || Number(e.status) === 0) return base;
      return {
        ...base, operator: getAddress(e.operator), measurement: e.measurement as string, teeType: TeeType[Number(e.teeType)] ?? String(e.teeType),
        status: ENCLAVE_STATUS[Number(e.status)] ?? String(e.status), expiresAt: Number(e.expiresAt),
      };
    }));
    const balances = await Promise.all(this.deps.senders.map((a) => ask(`balance of ${a}`, () => this.deps.provider.getBalance(a))));
    const fees = await ask("oracle.balances(operator)", () => this.oracle.balances(operator) as Promise<bigint>);
    const models = await Promise.all(this.deps.manifest.models.map(async (m) => {
      const modelId = d.models[m.name] ?? null;
      const onChain = modelId === null ? undefined : await ask(`getModel(${modelId})`, () => this.modelRegistry.getModel(modelId));
      return {
        name: m.name, modelId, modelHash: m.sha256, description: m.description, decimals: m.decimals, inputLength: m.input.length, outputLength: m.output.length,
        labels: m.output.labels, cached: this.deps.cache ? this.deps.cache.has(m.sha256) : this.fileCached(m.file, m.sha256),
        ...(onChain ? { uri: onChain.uri as string, feeEther: formatEther(onChain.fee), active: onChain.active as boolean, publisher: getAddress(onChain.publisher) } : {}),
      };
    }));
    const m = this.deps.metrics;
    // Set the current signers first, then drop the ones gone (restarted), so no scrape sees none.
    const current = new Set<string>();
    for (const e of enclaves) {
      if (!("expiresAt" in e) || !e.signer || !e.expiresAt) continue;
      m.signerExpiry.set({ runner: String(e.runner), signer: e.signer }, e.expiresAt);
      current.add(`${e.runner}/${e.signer}`);
    }
    for (const v of (await m.signerExpiry.get()).values) {
      if (!current.has(`${v.labels.runner}/${v.labels.signer}`)) m.signerExpiry.remove({ runner: String(v.labels.runner), signer: String(v.labels.signer) });
    }
    balances.forEach((b, i) => { if (b !== undefined) m.senderBalance.set({ address: getAddress(this.deps.senders[i]) }, Number(formatEther(b))); });
    if (fees !== undefined) m.operatorFees.set({ operator }, Number(formatEther(fees)));
    const overview: ConsoleOverview = {
      at: Math.floor(Date.now() / 1000),
      node: { network: d.network, chainId: d.chainId, oracle: d.contracts.InferenceOracle, operator, queue: this.deps.queueKind, simulation: !!d.devPlatform },
      enclaves,
      keys: this.deps.senders.map((a, i) => ({ address: getAddress(a), operator: i === 0, balanceEther: balances[i] === undefined ? null : formatEther(balances[i]!) })),
      fees: { operator, withdrawableEther: fees === undefined ? null : formatEther(fees) },
      models,
      problems,
    };
    this.overviewValue = overview;
    return overview;
  }

  /** Whether the model file is in the models folder with the expected sha256 (re-hashed only when it changes). */
  private fileCached(file: string, sha256: string): boolean {
    const full = path.join(this.deps.modelsDir, file);
    let st: fs.Stats;
    try { st = fs.statSync(full); } catch { return false; }
    const key = `${st.size}:${st.mtimeMs}`;
    const known = this.cachedFiles.get(full);
    if (known?.key === key) return known.ok;
    const ok = sha256Hex(fs.readFileSync(full)) === sha256;
    this.cachedFiles.set(full, { key, ok });
    return ok;
  }
}
