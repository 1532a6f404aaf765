/**
 * The off-chain links of a result audit: the model file (found by its hash or fetched by the
 * registry's URI, its sha256 and spec), the output (the model re-run on the request's input gives
 * the signed output) and the consumer's callback outcome. The chain links are read and checked in
 * `verify-result.ts`, which hands over what they established.
 */
import { readFileSync } from "fs";
import * as os from "os";
import * as path from "path";
import { Contract, keccak256, type Log, type Provider } from "ethers";
import type { Deployment } from "../../chain/deployment";
import { ModelCache } from "../../models/cache";
import { ModelFetcher } from "../../models/fetch";
import { findModelFile } from "../../models/locate";
import { type ModelSpec, readModelSpec } from "../../models/spec";
import type { Fulfilment } from "../../protocol/fulfilment";
import { MODEL_REGISTRY_ABI } from "../../protocol/abi";
import { sha256Hex } from "../../protocol/bytes";
import type { InferenceRequest } from "../../protocol/request";
import { errorMessage, shortHex, type CheckList } from "../checks";
import type { TrustLink } from "../types";
import type { ResultFacts } from "./report";
import { rerunModel, type RerunLimits } from "./rerun";

/** What the chain links established, and where the model links record their checks. */
export interface ModelLinkContext {
  checks: CheckList;
  chain: TrustLink[];
  facts: ResultFacts;
  provider: Provider;
  deployment: Deployment;
  /** A local folder searched for the model by its hash first. */
  modelsDir: string;
  modelCacheDir?: string;
  modelMirrors?: string[];
  modelPrivateHosts?: boolean;
  rerunLimits?: RerunLimits;
  request: Pick<InferenceRequest, "modelId" | "modelHash" | "input" | "callbackGasLimit" | "requester">;
  fulfilled: FulfilledEvent;
}

/** The request's `InferenceFulfilled`, decoded, with its log. */
export type FulfilledEvent = Fulfilment & { log: Log };

/** The model, output and callback links; each step returns false when its check failed. */
export class ModelLinks {
  private modelFilePath?: string;
  private spec?: ModelSpec;

  constructor(private readonly ctx: ModelLinkContext) {}

  /** Finds the model by its hash in the local folder, else fetches it by the registry's URI. */
  async fetch(): Promise<boolean> {
    const modelHash = this.ctx.request.modelHash.toLowerCase();
    const local = findModelFile(this.ctx.modelsDir, modelHash);
    if (local) {
      this.modelFilePath = local;
      Object.assign(this.ctx.facts.model, { file: local, source: "local folder" });
      return this.ctx.checks.pass("model.fetch", `the model with sha256 ${shortHex(modelHash)} is ${local}`, { file: local });
    }
    let uri: string;
    try {
      const registry = new Contract(this.ctx.deployment.contracts.ModelRegistry, MODEL_REGISTRY_ABI, this.ctx.provider);
      uri = (await registry.getModel(this.ctx.request.modelId)).uri;
    } catch (error) {
      this.pushModelLink(false);
      return this.ctx.checks.fail("model.fetch", `the model is not in ${this.ctx.modelsDir} and its URI could not be read from the ModelRegistry: ${errorMessage(error)}`);
    }
    const cacheDir = this.ctx.modelCacheDir ?? path.join(os.tmpdir(), "oracle-audit-models");
    const fetcher = new ModelFetcher({ cache: new ModelCache(cacheDir), mirrors: this.ctx.modelMirrors ?? [], privateHosts: this.ctx.modelPrivateHosts });
    try {
      this.modelFilePath = await fetcher.ensure(modelHash, uri);
    } catch (error) {
      this.pushModelLink(false);
      return this.ctx.checks.fail("model.fetch", `fetching the model from its registry URI ${uri} failed: ${errorMessage(error)}`, { uri });
    }
    Object.assign(this.ctx.facts.model, { file: this.modelFilePath, uri, source: "registry URI" });
    return this.ctx.checks.pass("model.fetch", `fetched the model from its registry URI ${uri} (sha256 checked) into ${this.modelFilePath}`, { uri, file: this.modelFilePath });
  }

  file(): boolean {
    const file = this.modelFilePath!;
    const bytes = readFileSync(file);
    const actual = sha256Hex(bytes);
    const ok = actual === this.ctx.request.modelHash.toLowerCase();
    this.ctx.facts.model.fileSha256 = actual;
    if (!ok) {
      this.pushModelLink(false);
      return this.ctx.checks.fail("model.file", `sha256 of ${file} is ${actual}, the request asked for model ${this.ctx.request.modelHash}: this is not the file that ran`, { file, actual, expected: this.ctx.request.modelHash });
    }
    try {
      this.spec = readModelSpec(bytes);
    } catch (error) {
      this.pushModelLink(false);
      return this.ctx.checks.fail("model.file", `${file} has the request's sha256 but no valid spec in its metadata: ${errorMessage(error)}`, { file });
    }
    Object.assign(this.ctx.facts.model, { name: this.spec.name, decimals: this.spec.decimals, encoding: this.spec.input.encoding, determinism: this.spec.determinism });
    this.pushModelLink(true);
    return this.ctx.checks.pass("model.file", `sha256 of ${file} equals the request's model hash; its spec: ${this.spec.name}, ${this.spec.input.length} ${this.spec.input.encoding} values in, ${this.spec.output.length} out, ${this.spec.decimals} decimals, ${this.spec.determinism}`,
      { file, actual, expected: this.ctx.request.modelHash });
  }

  private pushModelLink(ok: boolean): void {
    this.ctx.chain.push({ role: "evidence", title: `Model ${this.spec?.name ?? ""}`.trim(), subtitle: this.ctx.request.modelHash, check: "model.file", ok, edge: "ran model" });
  }

  async rerun(): Promise<boolean> {
    let output: string;
    let status: number;
    try {
      // In a capped child process, never here: the file is its publisher's upload (rerun.ts).
      ({ output, status } = await rerunModel(path.dirname(this.modelFilePath!), this.ctx.request.modelHash, this.ctx.request.input, this.ctx.rerunLimits));
    } catch (error) {
      this.ctx.chain.push({ role: "evidence", title: "Output", subtitle: "re-run failed", check: "output.rerun", ok: false, edge: "gives" });
      return this.ctx.checks.fail("output.rerun", `the model did not re-run: ${errorMessage(error)}`);
    }
    const hash = keccak256(output);
    Object.assign(this.ctx.facts.rerun, { output, outputHash: hash, status });
    const ok = hash === this.ctx.fulfilled.outputHash && status === this.ctx.fulfilled.status;
    this.ctx.chain.push({ role: "evidence", title: "Output", subtitle: this.ctx.fulfilled.outputHash, check: "output.rerun", ok, edge: "gives" });
    return this.ctx.checks.record("output.rerun", ok,
      ok
        ? `re-running ${this.spec!.name} on the request's input gives the signed and emitted output (status ${status})`
        : `re-running ${this.spec!.name} on the request's input gives output hash ${hash} (status ${status}), the enclave signed ${this.ctx.fulfilled.outputHash} (status ${this.ctx.fulfilled.status})`,
      { rerunOutputHash: hash, signedOutputHash: this.ctx.fulfilled.outputHash, rerunStatus: status, signedStatus: this.ctx.fulfilled.status, rerunOutput: output, signedOutput: this.ctx.fulfilled.output });
  }

  async callback(): Promise<boolean> {
    const ok = await this.callbackOutcome();
    const c = this.ctx.facts.callback;
    const subtitle = c.outcome === "none requested" ? "none requested"
      : c.success === true ? `delivered, ${c.gasUsed} of ${c.gasLimit} gas` : c.success === false ? "reverted or out of gas" : "no event";
    this.ctx.chain.push({ role: "evidence", title: "Callback", subtitle, check: "callback.outcome", ok, edge: "delivered to consumer" });
    return ok;
  }

  private async callbackOutcome(): Promise<boolean> {
    const limit = Number(this.ctx.request.callbackGasLimit);
    if (limit === 0) {
      this.ctx.facts.callback.outcome = "none requested";
      return this.ctx.checks.pass("callback.outcome", "no callback was requested (callbackGasLimit 0)");
    }
    const f = this.ctx.fulfilled;
    const success = f.callbackSuccess;
    const gasUsed = Number(f.callbackGasUsed);
    Object.assign(this.ctx.facts.callback, { success, gasUsed, gasLimit: limit, tx: f.log.transactionHash });
    if (success) return this.ctx.checks.pass("callback.outcome", `the consumer ${this.ctx.request.requester} received the result (callback used ${gasUsed} of ${limit} gas)`, { success, gasUsed, gasLimit: limit });
    const code = await this.ctx.provider.getCode(this.ctx.request.requester, f.log.blockNumber);
    if (code === "0x") {
      return this.ctx.checks.pass("callback.outcome", `the requester ${this.ctx.request.requester} is an account without code: there was no callback to make; the result is on-chain`, { success, gasUsed });
    }
    return this.ctx.checks.fail("callback.outcome",
      `the consumer's callback reverted or ran out of gas (used ${gasUsed} of ${limit}); the result stands on-chain but the consumer did not take it`,
      { success, gasUsed, gasLimit: limit, consumer: this.ctx.request.requester });
  }
}
