/**
 * Verifies one request's result end to end, from the chain back to the source code and the model
 * file, and says which link breaks first:
 *
 *   request      `InferenceRequested` (the commitment, the input, the model hash) and its state
 *   fulfilment   `InferenceFulfilled` (the output, the signer that made it final, the callback's
 *                outcome), and with redundancy > 1 a `ResultSubmitted` per vote;
 *                the `fulfil` / `fulfilBatch` calldata, its commitment equal to the request's, its
 *                output the one the oracle emitted
 *   signer       the EIP-712 digest (single or batch) rebuilt from the calldata, the signer
 *                recovered, equal to the one the oracle emitted
 *   registration the signer's `EnclaveRegistered` event before it signed, its operator the one paid,
 *                and its state now (revoked, measurement or root revoked: broken; retired or
 *                expired since it signed: still good)
 *   attestation  the registration calldata: a development report and platform certificate
 *                verified against the deployment's pinned development root, or the auditors'
 *                countersignatures recovered and each a trusted auditor, at least the threshold
 *   measurement  `measureRunner` over the source tree equals the registered measurement
 *   model        the model file, found by its hash in a local folder or fetched by the registry's URI
 *                (https, http, file, or sha256: against mirrors); its sha256 equals the request's
 *                model hash and its own metadata holds a valid spec
 *   output       the model re-run on the request's input (ModelStore) gives the signed output
 *   callback     the consumer's callback outcome
 *
 * With redundancy k > 1, each submission that made the result final is verified (signer,
 * registration, attestation, measurement). The first failed check stops the run; every check
 * it did not reach is listed as skipped. Input the caller must fix (unknown request, wrong chain)
 * throws an `AuditError`.
 *
 * This file reads the chain's evidence and checks the request, fulfilment, signer and measurement
 * links; `registration-links.ts` the registration and attestation; `model-links.ts` the model,
 * output and callback; `report.ts` holds the report's shape.
 */
import * as path from "path";
import { Contract, getAddress, keccak256, recoverAddress, toBeHex, zeroPadValue, type Log, type Provider } from "ethers";
import type { Deployment } from "../../chain/deployment";
import { measureRunner, type RunnerMeasurement } from "../../enclave/measure";
import { REPO_ROOT } from "../../paths";
import { oracleDomain } from "../../protocol/eip712";
import { commitmentHash, requestFromLog, type InferenceRequest, type RequestCommitment } from "../../protocol/request";
import { REQUEST_STATE, ORACLE_ABI, ENCLAVE_REGISTRY_ABI, oracleInterface } from "../../protocol/abi";
import { decodeFulfilCall, fulfilCallDigest, fulfilmentFromLog, type FulfilCall } from "../../protocol/fulfilment";
import { CheckList, errorMessage, isoTime, shortHex } from "../checks";
import { AuditError } from "../errors";
import { ModelLinks, type FulfilledEvent } from "./model-links";
import { RegistrationLinks, safeParse, type Submission } from "./registration-links";
import { expectedChecks, linkOf, UnknownRequestError, type ResultFacts, type ResultReport } from "./report";
import type { RerunLimits } from "./rerun";
import type { EvidenceValue, TrustLink } from "../types";

export interface VerifyResultParams {
  /** Any ethers provider of the deployment's chain (JSON-RPC, or Hardhat's in-process one). */
  provider: Provider;
  deployment: Deployment;
  requestId: bigint;
  /** Source tree whose runner is measured; default this checkout. */
  sourceDir?: string;
  /** A local folder searched for the model by its hash first; default `<sourceDir>/models`. */
  modelsDir?: string;
  /** Where a model fetched by its registry URI is cached; default `<tmpdir>/oracle-audit-models`. */
  modelCacheDir?: string;
  /** Mirrors for `sha256:` model URIs (http(s) base URLs or file:// folders). */
  modelMirrors?: string[];
  /** Fetch a registry model URI from a loopback or private address too (a local chain's model server); default refused. */
  modelPrivateHosts?: boolean;
  /** Memory and time limits of the model's re-run (a capped child process); default 4096 MiB, 60 s. */
  rerunLimits?: RerunLimits;
  /**
   * `measureRunner({ repoRoot: sourceDir })`, if the caller computed it already (to
   * verify many requests against one tree); default: measured here, once per call.
   */
  measurement?: RunnerMeasurement;
}

const idTopic = (id: bigint): string => zeroPadValue(toBeHex(id), 32);

/** A submission's `fulfil` / `fulfilBatch` call, and which of its items is this request. */
type SubmittedCall = FulfilCall & { index: number };

/** The verifier's working state; each step method returns false when its check failed. */
class ResultVerifier {
  readonly checks = new CheckList();
  readonly chain: TrustLink[] = [];
  readonly facts: ResultFacts;
  private readonly oracle: Contract;
  private readonly registry: Contract;
  private readonly sourceDir: string;
  private readonly modelsDir: string;
  private measured?: RunnerMeasurement | Error;
  private expected: string[] = expectedChecks(1);
  private request!: InferenceRequest;
  private fulfilled!: FulfilledEvent;
  private submissions: Submission[] = [];
  private model?: ModelLinks;
  private readonly registrations: RegistrationLinks;

  constructor(private readonly p: VerifyResultParams) {
    const d = p.deployment;
    this.oracle = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, p.provider);
    this.registry = new Contract(d.contracts.EnclaveRegistry, ENCLAVE_REGISTRY_ABI, p.provider);
    this.registrations = new RegistrationLinks({ checks: this.checks, chain: this.chain, provider: p.provider, deployment: d, registry: this.registry });
    this.sourceDir = path.resolve(p.sourceDir ?? REPO_ROOT);
    this.modelsDir = path.resolve(p.modelsDir ?? path.join(this.sourceDir, "models"));
    this.measured = p.measurement;
    this.facts = {
      network: d.network, chainId: d.chainId, oracle: d.contracts.InferenceOracle,
      request: { id: p.requestId.toString() }, submissions: {}, measurement: {}, model: {}, rerun: {}, callback: {},
    };
  }

  /** The off-chain links, once the chain links have found the request, its fulfilment and callback. */
  private modelLinks(): ModelLinks {
    this.model ??= new ModelLinks({
      checks: this.checks, chain: this.chain, facts: this.facts, provider: this.p.provider, deployment: this.d,
      modelsDir: this.modelsDir, modelCacheDir: this.p.modelCacheDir, modelMirrors: this.p.modelMirrors, modelPrivateHosts: this.p.modelPrivateHosts, rerunLimits: this.p.rerunLimits,
      request: this.request, fulfilled: this.fulfilled,
    });
    return this.model;
  }

  private get d(): Deployment {
    return this.p.deployment;
  }

  async run(): Promise<ResultReport> {
    await this.checkNetwork();
    await this.findRequest();
    const steps: (() => boolean | Promise<boolean>)[] = [
      () => this.requestState(), () => this.fulfilmentEvents(), () => this.allSubmissions(),
      () => this.modelLinks().fetch(), () => this.modelLinks().file(), () => this.modelLinks().rerun(), () => this.modelLinks().callback(),
    ];
    for (const step of steps) {
      if (!(await step())) break; // the first broken link stops the run; finish lists the rest as skipped
    }
    return this.finish();
  }

  // ------------------------------------------------------------------ request

  private async checkNetwork(): Promise<void> {
    let chainId: bigint;
    try {
      chainId = (await this.p.provider.getNetwork()).chainId;
    } catch (error) {
      throw new AuditError("cannot reach the chain", { details: `${errorMessage(error)} (check --rpc)`, cause: error });
    }
    if (chainId !== BigInt(this.d.chainId)) {
      throw new AuditError(`the RPC endpoint serves chain ${chainId}, the deployment file is for chain ${this.d.chainId} (${this.d.network})`, {
        details: "point --rpc at the deployment's chain, or pick the matching --network",
      });
    }
  }

  private async findRequest(): Promise<void> {
    const id = this.p.requestId;
    const event = oracleInterface.getEvent("InferenceRequested")!;
    const logs = await this.p.provider.getLogs({
      address: this.d.contracts.InferenceOracle, topics: [event.topicHash, idTopic(id)],
      fromBlock: this.d.deploymentBlock, toBlock: "latest",
    });
    if (logs.length === 0) {
      let count = 0n;
      try {
        count = BigInt(await this.oracle.requestCount());
      } catch {
        // no code at the address, or an older oracle: the message still names the oracle
      }
      throw new UnknownRequestError(id, this.d.contracts.InferenceOracle, this.d.deploymentBlock, count);
    }
    const r = this.request = requestFromLog(logs[logs.length - 1]);
    const { blockNumber, txHash } = r.event;
    Object.assign(this.facts.request, {
      block: blockNumber, tx: txHash, modelId: r.modelId.toString(), requester: r.requester,
      modelHash: r.modelHash, input: r.input, inputHash: r.inputHash, fee: r.fee.toString(),
      gasPrepayment: r.gasPrepayment.toString(), maxGasPrice: r.maxGasPrice.toString(), callbackGasLimit: Number(r.callbackGasLimit), deadline: Number(r.deadline), redundancy: Number(r.redundancy),
    });
    this.checks.pass("request.event", `request ${id} was made in block ${blockNumber} by ${r.requester} for model ${r.modelId}`, {
      tx: txHash, modelHash: r.modelHash, inputHash: r.inputHash, redundancy: Number(r.redundancy),
    });
    this.chain.push({ role: "evidence", title: `Request #${id}`, subtitle: `model ${r.modelId}, block ${blockNumber}`, check: "request.event", ok: true });
  }

  private async requestState(): Promise<boolean> {
    const state = Number(await this.oracle.requestState(this.p.requestId));
    const name = REQUEST_STATE[state] ?? `unknown (${state})`;
    this.facts.request.state = name;
    const detail = state === 2
      ? "the oracle records the request as fulfilled"
      : state === 1
        ? `the request is still pending (deadline ${isoTime(Number(this.request.deadline))}): there is no result to verify yet`
        : state === 3 ? "the request expired unanswered and its fee was refunded: there is no result to verify" : `the oracle reports state ${name}`;
    return this.checks.record("request.state", state === 2, detail, { state: name });
  }

  // ------------------------------------------------------------------ fulfilment

  private async fulfilmentEvents(): Promise<boolean> {
    const i = oracleInterface;
    const topics = ["ResultSubmitted", "InferenceFulfilled", "VoteDropped"].map((n) => i.getEvent(n)!.topicHash);
    const logs = await this.p.provider.getLogs({
      address: this.d.contracts.InferenceOracle, topics: [topics, idTopic(this.p.requestId)],
      fromBlock: this.request.event.blockNumber, toBlock: "latest",
    });
    const votes: Submission[] = [];
    const fulfilled: Log[] = [];
    // A vote whose signer became inactive before the quorum was dropped and does not count.
    const dropped = new Set<string>();
    for (const log of logs) {
      const parsed = i.parseLog(log)!;
      if (parsed.name === "VoteDropped") dropped.add(getAddress(parsed.args.signer));
      else if (parsed.name === "ResultSubmitted") {
        votes.push({ signer: parsed.args.signer, operator: parsed.args.operator, outputHash: parsed.args.outputHash, status: Number(parsed.args.status), log });
      } else fulfilled.push(log);
    }
    if (fulfilled.length !== 1) {
      return this.checks.fail("fulfilment.events", `expected one InferenceFulfilled event for the request, found ${fulfilled.length}`, {
        resultSubmitted: votes.length, inferenceFulfilled: fulfilled.length,
      });
    }
    const decoded = fulfilmentFromLog(fulfilled[0]);
    this.fulfilled = { ...decoded, signer: getAddress(decoded.signer), log: fulfilled[0] };
    const k = Number(this.request.redundancy);
    // Redundancy 1 has no votes: its one submission is the fulfilment itself, paid to the operator the
    // registry binds its signer to (a binding that never changes).
    const all = k === 1 && votes.length === 0 ? [await this.soleSubmission()] : votes;
    this.submissions = all.filter((s) => s.outputHash === this.fulfilled.outputHash && s.status === this.fulfilled.status && !dropped.has(getAddress(s.signer)));
    this.expected = expectedChecks(this.submissions.length);
    Object.assign(this.facts.request, { outputHash: this.fulfilled.outputHash, status: this.fulfilled.status, output: this.fulfilled.output, fulfilledInTx: fulfilled[0].transactionHash });
    const dissent = all.length - this.submissions.length - dropped.size;
    const completer = this.submissions.some((s) => getAddress(s.signer) === this.fulfilled.signer);
    const ok = this.submissions.length >= k && completer;
    return this.checks.record(
      "fulfilment.events", ok,
      ok
        ? `fulfilled in block ${fulfilled[0].blockNumber} by ${this.submissions.length} agreeing submission(s) (redundancy ${k})${dissent ? `; ${dissent} other submission(s) disagreed` : ""}${dropped.size ? `; ${dropped.size} vote(s) dropped (signer no longer active)` : ""}`
        : this.submissions.length < k
          ? `only ${this.submissions.length} submission(s) agree with the fulfilled output, the request needs ${k}`
          : `the signer named by InferenceFulfilled (${this.fulfilled.signer}) cast none of the agreeing votes`,
      { redundancy: k, agreeing: this.submissions.length, disagreeing: dissent, dropped: dropped.size, outputHash: this.fulfilled.outputHash, status: this.fulfilled.status },
    );
  }

  /**
   * The one submission of a redundancy-1 request, from its InferenceFulfilled log. The operator is
   * read now, not at the fulfilment's block: the registry binds a signer to its first operator for
   * good (no state an ordinary, non-archive RPC node has pruned is needed).
   */
  private async soleSubmission(): Promise<Submission> {
    const f = this.fulfilled;
    const record = await this.registry.getEnclave(f.signer);
    return { signer: f.signer, operator: getAddress(record.operator), outputHash: f.outputHash, status: f.status, log: f.log };
  }

  private async allSubmissions(): Promise<boolean> {
    for (let n = 0; n < this.submissions.length; n++) {
      const prefix = this.submissions.length > 1 ? `submission[${n + 1}].` : "";
      if (!(await this.submission(this.submissions[n], prefix, String(n + 1)))) return false;
    }
    return true;
  }

  private async submission(s: Submission, prefix: string, key: string): Promise<boolean> {
    const facts: Record<string, EvidenceValue> = { signer: s.signer, operator: s.operator, tx: s.log.transactionHash, block: s.log.blockNumber };
    this.facts.submissions[key] = facts;
    const decoded = await this.calldata(s, prefix);
    this.chain.push({
      role: "evidence", title: "Fulfilment", subtitle: decoded ? `${decoded.batch ? "fulfilBatch" : "fulfil"}, block ${s.log.blockNumber}` : `tx ${shortHex(s.log.transactionHash)}`,
      check: `${prefix}fulfilment.calldata`, ok: !!decoded, edge: "fulfilled by",
    });
    if (!decoded) return false;
    facts.call = decoded.batch ? `fulfilBatch (${decoded.items.length} results, item ${decoded.index})` : "fulfil";
    if (!this.commitment(decoded.items[decoded.index].request, prefix)) return false;
    if (!this.recoverSigner(s, decoded, prefix, facts)) return false;
    const item = decoded.items[decoded.index];
    const emittedOk = item.output === this.fulfilled.output && item.status === this.fulfilled.status;
    if (!this.checks.record(`${prefix}fulfilment.output`, emittedOk,
      emittedOk ? "the output the enclave signed is the output the oracle emitted and delivered" : "the output in the calldata differs from the output the oracle emitted",
      { signedOutputHash: keccak256(item.output), emittedOutputHash: this.fulfilled.outputHash })) return false;
    const reg = await this.registrations.registration(s, prefix, facts);
    if (!reg) return false;
    if (!(await this.registrations.registrationState(s, reg, prefix, facts))) return false;
    if (!(await this.registrations.attestation(s, reg, prefix, facts))) return false;
    return this.measurement(reg.measurement, prefix);
  }

  private async calldata(s: Submission, prefix: string): Promise<SubmittedCall | undefined> {
    const name = `${prefix}fulfilment.calldata`;
    const tx = await this.p.provider.getTransaction(s.log.transactionHash);
    if (!tx) return void this.checks.fail(name, `the fulfilment transaction ${s.log.transactionHash} is not available from the node`);
    if (!tx.to || getAddress(tx.to) !== this.d.contracts.InferenceOracle) {
      return void this.checks.fail(name, `the fulfilment transaction was sent to ${tx.to ?? "(contract creation)"}, not the oracle: it was relayed through a contract whose calldata this tool does not decode`, { tx: tx.hash });
    }
    const call = decodeFulfilCall(tx.data);
    if (!call) {
      return void this.checks.fail(name, `the transaction's calldata is not fulfil or fulfilBatch`, { tx: tx.hash, selector: tx.data.slice(0, 10) });
    }
    const fn = call.batch ? "fulfilBatch" : "fulfil";
    const { items } = call;
    const index = items.findIndex((it) => it.request.requestId === this.p.requestId && keccak256(it.output) === s.outputHash && it.status === s.status);
    if (index < 0) {
      return void this.checks.fail(name, `no item of the ${fn} calldata is request ${this.p.requestId} with the emitted output`, { tx: tx.hash, items: items.length });
    }
    this.checks.pass(name, `transaction ${shortHex(tx.hash)} calls ${fn}${call.batch ? ` with ${items.length} results (this request is item ${index})` : ""}`, {
      tx: tx.hash, function: fn, items: items.length, index, from: tx.from,
    });
    return { ...call, index };
  }

  private commitment(submitted: RequestCommitment, prefix: string): boolean {
    const a = commitmentHash(submitted);
    const b = this.request.commitmentHash;
    return this.checks.record(`${prefix}fulfilment.commitment`, a === b,
      a === b ? "the commitment in the calldata is the one the request event committed to (model hash, input hash, fee, options)" : "the commitment in the calldata differs from the request event's",
      { submitted: a, expected: b });
  }

  private recoverSigner(s: Submission, call: FulfilCall, prefix: string, facts: Record<string, EvidenceValue>): boolean {
    const digest = fulfilCallDigest(oracleDomain(this.d.chainId, this.d.contracts.InferenceOracle), call);
    const recovered = safeParse(() => recoverAddress(digest, call.signature));
    const ok = recovered !== undefined && recovered === getAddress(s.signer);
    facts.digest = digest;
    const name = `${prefix}signer.recovered`;
    this.chain.push({ role: "signer", title: "Enclave signer", subtitle: s.signer, check: name, ok, edge: "signed by" });
    return this.checks.record(name, ok,
      ok
        ? `the ${call.batch ? `InferenceBatch of ${call.items.length}` : "InferenceResult"} EIP-712 signature recovers to ${recovered}, the signer the oracle emitted`
        : recovered ? `the signature recovers to ${recovered}, not to ${s.signer} as emitted` : "the signature does not recover",
      { digest, recovered: recovered ?? null, emitted: s.signer, kind: call.batch ? "batch" : "single" });
  }

  // ------------------------------------------------------------------ measurement, model, output

  private measurement(registered: string, prefix: string): boolean {
    const name = `${prefix}measurement.source`;
    if (this.measured === undefined) {
      try {
        this.measured = measureRunner({ repoRoot: this.sourceDir });
      } catch (error) {
        this.measured = error as Error;
      }
    }
    const m = this.measured;
    if (m instanceof Error) {
      this.chain.push({ role: "measurement", title: "Runner measurement", subtitle: "not computed", check: name, ok: false, edge: "measures" });
      return this.checks.fail(name, `cannot measure the runner in ${this.sourceDir}: ${m.message}`, { source: this.sourceDir });
    }
    Object.assign(this.facts.measurement, {
      source: this.sourceDir, measurement: m.measurement, runtime: m.runtime,
      files: m.files.length, runtimeIds: m.runtimeIds.map((r) => `${r.name}@${r.version}`).join(", "),
    });
    const ok = m.measurement === registered.toLowerCase();
    this.chain.push({ role: "measurement", title: "Runner measurement", subtitle: registered, check: name, ok, edge: "measures" });
    return this.checks.record(name, ok,
      ok
        ? `measureRunner over ${this.sourceDir} (${m.files.length} files, runtime ${m.runtimeIds.map((r) => `${r.name}@${r.version}`).join(" ")}) gives the registered measurement`
        : `measureRunner over ${this.sourceDir} gives ${m.measurement}, the signer was registered with ${registered}: the runner source or the runtime versions differ from what ran`,
      { recomputed: m.measurement, registered, source: this.sourceDir, files: m.files.length });
  }

  private finish(): ResultReport {
    const base = this.checks.finish({ format: "dev", at: 0, facts: this.facts, chain: this.chain, expected: this.expected });
    const failed = base.failedCheck;
    return {
      ...base,
      format: "result",
      at: Math.floor(Date.now() / 1000),
      requestId: this.p.requestId.toString(),
      simulation: this.registrations.simulation,
      ...(failed ? { brokenLink: linkOf(failed) } : {}),
    };
  }
}

/** Verifies one request's result end to end; see the module comment for the links and checks. */
export function verifyResult(params: VerifyResultParams): Promise<ResultReport> {
  return new ResultVerifier(params).run();
}
