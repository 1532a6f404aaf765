/**
 * `oracle request`: sends one test request to the oracle of a deployment and waits for its result,
 * so an operator can see a running node serve end to end. The requester is any funded key
 * (ORACLE_REQUESTER_KEY, else the node's ORACLE_PRIVATE_KEY); the model is named as in the
 * deployment file (or by id); the input is given in model units and scaled by the model's
 * decimals (models/manifest.json).
 */
import type { Command } from "commander";
import { Contract, JsonRpcProvider, Wallet, type Log } from "ethers";
import { requestIdTopic } from "../chain/codec";
import { loadDeployment, type Deployment } from "../chain/deployment";
import { shortError } from "../chain/retry";
import { RpcClient } from "../chain/rpc";
import { CONFIG_SPEC, ConfigError, KEY_OPTIONS, loadConfig } from "../config";
import { checkChainId } from "./preflight";
import { PermanentError } from "../errors";
import { loadManifest, type ModelManifestEntry } from "../models/manifest";
import { MODEL_REGISTRY_ABI, ORACLE_ABI, ORACLE_TOPICS, RequestState } from "../protocol/abi";
import { decodeTensor } from "../protocol/eip712";
import { encodeInput, isInputEncoding } from "../protocol/input";
import { optionsTuple, quotedOptions, requestInLogs, suggestedMaxGasPrice } from "../protocol/request";
import { fulfilmentFromLog, gasReimbursed } from "../protocol/fulfilment";

interface RequestOptions {
  model: string;
  input: string;
  network?: string;
  deployment?: string;
  callbackGas: string;
  deadline: string;
  redundancy: string;
  wait: boolean;
  timeout: string;
}

/** A usage problem: exit 2 with this message. */
export class RequestUsageError extends PermanentError {
  override name = "RequestUsageError";
}

/** "5.1" at 6 decimals → 5100000n, exactly; more fraction digits than `decimals` is an error. */
export function toFixedPoint(text: string, decimals: number): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new RequestUsageError(`input value "${text}" is not a decimal number`);
  const frac = m[3] ?? "";
  if (frac.length > decimals) throw new RequestUsageError(`input value ${text} has more than the model's ${decimals} decimal digits`);
  const v = BigInt(m[2] + frac.padEnd(decimals, "0"));
  return m[1] ? -v : v;
}

/** The model's on-chain id and manifest entry, by deployment name or by id. */
function findModel(d: Deployment, models: ModelManifestEntry[], wanted: string): { id: number; file?: ModelManifestEntry } {
  const byName = d.models[wanted];
  const id = byName ?? (/^\d+$/.test(wanted) ? Number(wanted) : undefined);
  if (id === undefined) throw new RequestUsageError(`no model "${wanted}" in the deployment (known: ${Object.keys(d.models).join(", ")}); give a name or an id`);
  const name = Object.entries(d.models).find(([, v]) => v === id)?.[0];
  return { id, file: models.find((m) => m.name === name) };
}

/** Reads the InferenceFulfilled event of `requestId` (the output and status). */
async function fulfilment(provider: JsonRpcProvider, oracle: string, requestId: bigint, fromBlock: number): Promise<Log | undefined> {
  const logs = await provider.getLogs({ address: oracle, fromBlock, toBlock: "latest", topics: [ORACLE_TOPICS.InferenceFulfilled, requestIdTopic(requestId)] });
  return logs[0];
}

function describe(file: ModelManifestEntry | undefined, values: bigint[]): string {
  const decimals = file?.decimals ?? 0;
  const shown = values.map((v) => (decimals ? (Number(v) / 10 ** decimals).toString() : v.toString()));
  const labels = file?.output.labels;
  if (labels?.length === values.length) return labels.map((l, i) => `${l} ${shown[i]}`).join(", ");
  return shown.join(", ");
}

async function sendTestRequest(opts: RequestOptions, out: (line: string) => void): Promise<number> {
  // The requester's key: ORACLE_REQUESTER_KEY, or else the node's own (from any of its key sources).
  const requester = process.env.ORACLE_REQUESTER_KEY;
  const env = requester
    ? { ...process.env, ...Object.fromEntries(KEY_OPTIONS.map((k) => [CONFIG_SPEC[k].env, ""])), ORACLE_PRIVATE_KEY: requester }
    : process.env;
  if (!KEY_OPTIONS.some((k) => env[CONFIG_SPEC[k].env])) {
    throw new RequestUsageError("set ORACLE_REQUESTER_KEY (or ORACLE_PRIVATE_KEY) to a funded key: it pays the fee");
  }
  const config = loadConfig({ env, overrides: { ...(opts.network ? { network: opts.network } : {}), ...(opts.deployment ? { deploymentFile: opts.deployment } : {}) } });
  const d = loadDeployment(config.deploymentPath);
  const { id, file } = findModel(d, loadManifest(config.modelsDir).models, opts.model);
  const decimals = file?.decimals ?? 0;
  const values = opts.input.split(",").map((v) => toFixedPoint(v, decimals));
  // As `oracle start` does: a chain that does not answer, or answers for another chain id, is named
  // with what to fix before anything is signed or sent.
  await checkChainId(new RpcClient(config.rpcUrl), config.rpcUrl, { chainId: d.chainId, file: config.deploymentPath }, 5_000);
  const provider = new JsonRpcProvider(config.rpcUrl, d.chainId, { staticNetwork: true, pollingInterval: 250 });
  try {
    const wallet = new Wallet(config.privateKeys[0], provider);
    const oracle = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, wallet);
    // The input in the encoding the registry says the model takes (abi int256[] or packed integers).
    const terms = await new Contract(d.contracts.ModelRegistry, MODEL_REGISTRY_ABI, provider).requestTerms(id);
    const encoding = Number(terms.inputEncoding);
    if (!isInputEncoding(encoding)) throw new RequestUsageError(`model ${id} has input encoding ${encoding}, which this command does not know`);
    const input = encodeInput(values, encoding);
    // The fee bound is today's fee; gas is prepaid at twice the current fee cap.
    const { options, quote: quoted } = await quotedOptions(oracle, id, {
      callbackGasLimit: Number(opts.callbackGas), deadline: BigInt(Math.floor(Date.now() / 1000) + Number(opts.deadline)), redundancy: Number(opts.redundancy),
      maxGasPrice: await suggestedMaxGasPrice(provider),
    });
    const fee = quoted.total;
    const receipt = await (await oracle.requestInference(id, input, optionsTuple(options), { value: fee })).wait();
    const request = requestInLogs(receipt.logs, d.contracts.InferenceOracle);
    if (!request) throw new Error(`no InferenceRequested event in ${receipt.hash}`);
    const { requestId } = request;
    out(`request ${requestId} sent: model ${opts.model} (id ${id}), tx ${receipt.hash}, block ${receipt.blockNumber}, paid ${fee} wei (fee ${quoted.fee} + gas prepayment ${quoted.gasPrepayment}), from ${wallet.address}`);
    if (!opts.wait) return 0;
    out(`waiting for the result (up to ${opts.timeout} s; the node's trail: oracle status --request ${requestId})…`);
    const end = Date.now() + Number(opts.timeout) * 1000;
    while (Date.now() < end) {
      const state = Number(await oracle.requestState(requestId));
      if (state === RequestState.Fulfilled) {
        const ev = await fulfilment(provider, d.contracts.InferenceOracle, requestId, receipt.blockNumber);
        if (!ev) throw new Error(`request ${requestId} is fulfilled but its InferenceFulfilled log was not found from block ${receipt.blockNumber}`);
        const f = fulfilmentFromLog(ev);
        const values = f.status === 0 ? describe(file, decodeTensor(f.output)) : `status ${f.status}`;
        out(`request ${requestId} fulfilled in tx ${ev.transactionHash}: ${values}`);
        // What the prepayment paid for, and what came back (withdrawable with the requester's key).
        out(`gas prepayment ${request.gasPrepayment} wei: ${gasReimbursed(request.gasPrepayment, f)} reimbursed the operator, ${f.gasRefunded} credited back to ${wallet.address}`);
        return 0;
      }
      if (state === RequestState.Expired) { out(`request ${requestId} expired unfulfilled`); return 1; }
      await new Promise((r) => setTimeout(r, 500));
    }
    out(`request ${requestId} not fulfilled within ${opts.timeout} s: is a node running for this deployment? (oracle status --request ${requestId})`);
    return 1;
  } finally {
    provider.destroy();
  }
}

/** Adds `oracle request`. */
export function registerRequestCommand(program: Command): void {
  program
    .command("request")
    .description("Send one test request to the deployment's oracle and wait for a node to fulfil it (prints the request id, then the result)")
    .requiredOption("-m, --model <name|id>", "model, by its name in the deployment file (e.g. iris-classifier) or its id")
    .requiredOption("-i, --input <values>", "input values in model units, comma-separated (e.g. 5.1,3.5,1.4,0.2); scaled by the model's decimals")
    .option("-n, --network <name>", "network name (deployments/<name>.json)")
    .option("-d, --deployment <file>", "deployment file to read instead of deployments/<network>.json")
    .option("--callback-gas <gas>", "callback gas limit (0: no callback; the requester is this key's account)", "0")
    .option("--deadline <seconds>", "seconds from now until the request can only be expired", "3600")
    .option("--redundancy <k>", "agreeing enclaves needed", "1")
    .option("--no-wait", "print the request id and exit without waiting")
    .option("--timeout <seconds>", "how long to wait for the result", "120")
    .addHelpText("after", "\nThe fee is paid by ORACLE_REQUESTER_KEY (else ORACLE_PRIVATE_KEY); RPC_URL names the chain.\nExit 0 when fulfilled, 1 when not within --timeout, 2 on a usage error.\n")
    .action(async (opts: RequestOptions) => {
      try {
        process.exit(await sendTestRequest(opts, (l) => process.stdout.write(`${l}\n`)));
      } catch (err) {
        const usage = err instanceof RequestUsageError || err instanceof ConfigError;
        process.stderr.write(`error: ${usage ? (err as Error).message : shortError(err)}\n`);
        process.exit(usage ? 2 : 1);
      }
    });
}
