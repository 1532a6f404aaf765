/**
 * `oracle model publish`: registers a model on-chain with the publisher's key (ModelRegistry v2
 * `registerModel`). Every field of the on-chain spec comes from the model file itself (hash,
 * lengths, decimals, input encoding, determinism class), so the two cannot differ; the model is
 * checked first (check.ts) and the URI is fetched and its sha256 compared before any transaction,
 * so a model the runner would refuse, or a URI that does not serve the file, is never registered.
 * Prints the model id and the `requestInference` call to use.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import { Contract, JsonRpcProvider, Wallet, getAddress, type TransactionReceipt } from "ethers";
import { loadDeployment } from "../chain/deployment";
import { sha256Hex } from "../protocol/bytes";
import { BPS, InputEncoding } from "../protocol/constants";
import { MODEL_REGISTRY_ABI } from "../protocol/abi";
import { type ModelSpec as RegistrySpec, modelSpecTuple } from "../protocol/model-spec";
import { inputByteLength } from "../protocol/input";
import { ModelCache } from "./cache";
import { checkModel, formatCheck } from "./check";
import { ModelFetcher } from "./fetch";
import { privateAddressOf } from "./host-guard";
import { type ModelSpec, specDeterminism, specInputEncoding } from "./spec";

/** ModelRegistry v2 `ModelSpec`, as registered. */
export type OnChainModelSpec = RegistrySpec;

/** The on-chain spec a model file implies. */
export function onChainSpecOf(modelHash: string, spec: ModelSpec, terms: { fee: bigint; uri: string; publisherShareBps: number }): OnChainModelSpec {
  return {
    modelHash, inputLength: spec.input.length, outputLength: spec.output.length, decimals: spec.decimals,
    inputEncoding: specInputEncoding(spec), determinism: specDeterminism(spec), ...terms,
  };
}

/**
 * Differences between an on-chain spec and the file's: each names the field and both values.
 * The node declines a model whose registration differs from its file (it would sign results the
 * registry's consumers read differently); publish refuses to register one.
 */
export function specMismatches(chain: Partial<Omit<OnChainModelSpec, "fee" | "uri" | "publisherShareBps">>, modelHash: string, spec: ModelSpec): string[] {
  const file = onChainSpecOf(modelHash, spec, { fee: 0n, uri: "", publisherShareBps: 0 });
  const out: string[] = [];
  for (const k of ["modelHash", "inputLength", "outputLength", "decimals", "inputEncoding", "determinism"] as const) {
    const c = chain[k];
    if (c === undefined) continue;
    const a = typeof c === "string" ? c.toLowerCase() : Number(c);
    const b = typeof file[k] === "string" ? (file[k] as string).toLowerCase() : Number(file[k]);
    if (a !== b) out.push(`${k}: registry ${c}, file ${file[k]}`);
  }
  return out;
}

export interface PublishParams {
  file: string;
  uri: string;
  fee: bigint;
  publisherShareBps: number;
  measurements: string[];
  registry: Contract;
  mirrors?: string[];
}

/** Checks, verifies the URI, registers; returns the model id and the receipt. */
export async function publishModel(p: PublishParams): Promise<{ modelId: bigint; spec: ModelSpec; onChain: OnChainModelSpec; receipt: TransactionReceipt }> {
  const bytes = fs.readFileSync(p.file);
  const check = await checkModel(bytes);
  if (!check.ok) throw new Error(`not published: the runner would not serve this model\n${formatCheck(check)}`);
  const modelHash = sha256Hex(bytes);
  if (!Number.isInteger(p.publisherShareBps) || p.publisherShareBps < 0 || p.publisherShareBps > BPS) throw new Error(`--share ${p.publisherShareBps}: give basis points 0..${BPS}`);
  if (p.fee <= 0n || p.fee >= 1n << 96n) throw new Error(`--fee ${p.fee}: give a fee in wei above 0 and below 2^96`);
  if (p.measurements.length === 0) throw new Error("no runner measurement to allow: give --measurement (npm run measure prints this checkout's), or a deployment file that names one");
  // The URI must serve exactly this file: fetched and hashed here, as a node will.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "publish-"));
  try {
    // As a node fetches it, except that a host on the publisher's own network is let through here
    // (nodes refuse it unless their operator allows private hosts: said below).
    await new ModelFetcher({ cache: new ModelCache(tmp), mirrors: p.mirrors ?? [], privateHosts: true }).fetchVerified(modelHash, p.uri);
  } catch (err) {
    throw new Error(`not published: the URI ${p.uri} does not serve this file (${(err as Error).message}); upload the file there, or give the URI it is served at`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const onChain = onChainSpecOf(modelHash, check.spec!, { fee: p.fee, uri: p.uri, publisherShareBps: p.publisherShareBps });
  const tx = await p.registry.registerModel(modelSpecTuple(onChain), p.measurements);
  const receipt = (await tx.wait()) as TransactionReceipt;
  const ev = receipt.logs.map((l) => { try { return p.registry.interface.parseLog(l); } catch { return null; } }).find((e) => e?.name === "ModelRegistered");
  if (!ev) throw new Error(`registerModel mined in ${receipt.hash} but emitted no ModelRegistered event`);
  return { modelId: ev.args.modelId as bigint, spec: check.spec!, onChain, receipt };
}

/** The call a dApp makes, in words and as a snippet. */
export function requestCallText(modelId: bigint, spec: ModelSpec, oracle: string): string {
  const enc = specInputEncoding(spec);
  const bytes = enc === InputEncoding.AbiInt256 ? "abi.encode(int256[]) of " + spec.input.length + " values" : `${inputByteLength(spec.input.length, enc)} bytes: ${spec.input.length} ${spec.input.encoding} values, big-endian`;
  return [
    `model id ${modelId}`,
    `request it on InferenceOracle ${oracle}:`,
    `  uint256 total = oracle.quote(${modelId}, options);`,
    `  oracle.requestInference{value: total}(${modelId}, input, options);`,
    `  input: ${bytes}${spec.decimals ? `, fixed point with ${spec.decimals} decimals` : ""}`,
    `  output: abi.encode(int256[]) of ${spec.output.length} values${spec.output.labels ? ` (${spec.output.labels.join(", ")})` : ""}`,
    `  from TypeScript: encodeInput(values, spec) in oracle/src/models/codec.ts builds the input bytes`,
  ].join("\n");
}

export function registerPublishCommand(model: Command): void {
  model.command("publish <file>").description("Register a checked model on-chain with the publisher's key (ModelRegistry v2)")
    .requiredOption("--uri <uri>", "where nodes fetch the file (https://, http://, or sha256:<hash> for nodes' mirrors); it is fetched and checked first")
    .requiredOption("--fee <wei>", "fee per enclave run, in wei")
    .option("--share <bps>", "the publisher's share of the fee, in basis points (0..10000)", "0")
    .option("--measurement <hash>", "a runner measurement allowed to serve it (repeatable; default the deployment's)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--deployment <file>", "deployment file naming the ModelRegistry", "deployments/localhost.json")
    .option("--rpc <url>", "JSON-RPC URL (default RPC_URL or http://127.0.0.1:8545)")
    .option("--key-env <name>", "environment variable holding the publisher's private key", "PUBLISHER_KEY")
    .option("--mirror <url>", "a mirror for a sha256: URI (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .action(async (file: string, opts: { uri: string; fee: string; share: string; measurement?: string[]; deployment: string; rpc?: string; keyEnv: string; mirror?: string[] }) => {
      const key = process.env[opts.keyEnv];
      if (!key) throw new Error(`set ${opts.keyEnv} to the publisher's private key (it is never taken on the command line)`);
      const deployment = loadDeployment(opts.deployment);
      const provider = new JsonRpcProvider(opts.rpc ?? process.env.RPC_URL ?? "http://127.0.0.1:8545", deployment.chainId, { staticNetwork: true });
      const wallet = new Wallet(key, provider);
      const registry = new Contract(deployment.contracts.ModelRegistry, MODEL_REGISTRY_ABI, wallet);
      let fee: bigint;
      try {
        fee = BigInt(opts.fee);
      } catch {
        throw new Error(`--fee ${opts.fee}: give an integer number of wei`);
      }
      const measurements = opts.measurement ?? (deployment.measurement ? [deployment.measurement] : []);
      const r = await publishModel({ file, uri: opts.uri, fee, publisherShareBps: Number(opts.share), measurements, registry, mirrors: opts.mirror });
      process.stdout.write(`published ${r.spec.name} by ${getAddress(wallet.address)} in ${r.receipt.hash}\n${requestCallText(r.modelId, r.spec, deployment.contracts.InferenceOracle)}\n`);
      const address = /^https?:\/\//.test(opts.uri) ? await privateAddressOf(opts.uri) : undefined;
      if (address) {
        process.stderr.write(`note: ${new URL(opts.uri).hostname} is a private address (${address}): nodes fetch from it only if their operator sets ORACLE_MODEL_ALLOW_PRIVATE_HOSTS=true (a node on that network)\n`);
      }
      provider.destroy();
    });
}
