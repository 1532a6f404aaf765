/**
 * The demo's flow with the console in view, for the browser test and `npm run screenshots`:
 * a local Hardhat chain, the contracts and models deployed, the oracle node in this process (its
 * runner a separate, measured process; in-process queue), and requests of every model — through
 * the example consumers, from an account, one the node declines (its callback gas limit is above
 * the node's ORACLE_MAX_CALLBACK_GAS), and a stream of small ones so the charts have data.
 */
import fs from "node:fs";
import path from "node:path";
import pino from "pino";
import { Contract, JsonRpcProvider, NonceManager, type TransactionReceipt } from "ethers";
import { deployNetwork, type DeployResult } from "../deploy";
import { REPO_ROOT } from "../../oracle/src/paths";
import { loadConfig } from "../../oracle/src/config";
import { startNode, type OracleNode } from "../../oracle/src/main";
import { loadManifest } from "../../oracle/src/models/manifest";
import { devAccount, LoadGenerator, rpc, startDevChain, type DevChain } from "../../oracle/src/dev/devchain";
import { ORACLE_ABI, RequestState } from "../../oracle/src/protocol/abi";
import { encodeTensor } from "../../oracle/src/protocol/eip712";
import { quotedOptions, requestInLogs, suggestedMaxGasPrice } from "../../oracle/src/protocol/request";

export interface ConsoleDemo {
  chain: DevChain;
  provider: JsonRpcProvider;
  deployed: DeployResult;
  node: OracleNode;
  /** http://127.0.0.1:<port> of the node's HTTP API. */
  url: string;
  /** Requests sent by name: consumers' and accounts' ones, and the one the node declines. */
  ids: { iris: bigint[]; risk: bigint; penguins: bigint[]; declined: bigint };
  /** Sends `count` more small requests (penguins), `perSecond` at most. */
  load(count: number, perSecond: number): Promise<void>;
  /** Waits until every id is fulfilled on-chain (the declined one excepted). */
  waitFulfilled(ids: bigint[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The node declines callback gas limits above this (the declined request asks for more). */
const MAX_CALLBACK_GAS = 150_000;

const fx = (x: number, decimals: number) => BigInt(Math.round(x * 10 ** decimals));

function requestIdOf(r: TransactionReceipt): bigint {
  const request = requestInLogs(r.logs);
  if (!request) throw new Error(`no InferenceRequested in ${r.hash}`);
  return request.requestId;
}

export async function startConsoleDemo(opts: { log?: (line: string) => void } = {}): Promise<ConsoleDemo> {
  const say = opts.log ?? (() => undefined);
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };
  try {
    const chain = await startDevChain();
    stops.push(() => chain.stop());
    await rpc(chain.url, "evm_setIntervalMining", [250]);
    const provider = new JsonRpcProvider(chain.url, 31337, { staticNetwork: true, pollingInterval: 100 });
    stops.push(async () => provider.destroy());
    fs.mkdirSync(path.join(REPO_ROOT, ".oracle-data"), { recursive: true });
    const dataDir = fs.mkdtempSync(path.join(REPO_ROOT, ".oracle-data", "console-"));
    stops.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const deployed = await deployNetwork({
      network: "localhost", deployer: new NonceManager(devAccount(0).connect(provider)), deploymentFile: path.join(dataDir, "deployment.json"), log: say,
    });
    const d = deployed.deployment;
    const config = loadConfig({
      env: {},
      overrides: {
        network: "localhost", deploymentFile: deployed.deploymentFile, rpcUrl: chain.url, privateKeys: [devAccount(1).privateKey, devAccount(11).privateKey],
        confirmations: 1, pollIntervalMs: 200, batchWindowMs: 300, batchSize: 16, runners: 1, httpPort: 0, dataDir,
        modelsDir: path.join(REPO_ROOT, "models"), reconcileIntervalMs: 3000, maxCallbackGas: MAX_CALLBACK_GAS, logLevel: "info",
      },
    });
    const log = pino({ level: "info" }, pino.destination({ dest: path.join(dataDir, "node.log"), sync: true }));
    const node = await startNode(config, { log });
    stops.push(() => node.close("console demo finished"));
    const url = `http://127.0.0.1:${node.api.port}`;
    say(`node up: console at ${url}/console/`);

    const manifest = loadManifest(path.join(REPO_ROOT, "models"));
    const decimals = (name: string) => manifest.models.find((m) => m.name === name)!.decimals;
    const deployer = new NonceManager(devAccount(0).connect(provider));
    const oracle = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, deployer);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
    const { iris, lendingPool } = deployed.contracts;
    // As the demo: each request bounds its fee (the quoted one) and the gas price of its prepayment.
    const maxGasPrice = await suggestedMaxGasPrice(provider);
    const quoteOf = async (model: string, callbackGasLimit: number) =>
      (await quotedOptions(oracle, d.models[model], { callbackGasLimit, deadline, redundancy: 1, maxGasPrice })).quote;
    const irisQuote = await quoteOf("iris-classifier", 100_000);
    const iriss: bigint[] = [];
    for (const f of [[5.1, 3.5, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5], [6.3, 3.3, 6.0, 2.5]]) {
      const tx = await iris.connect(deployer).getFunction("classify")(
        f.map((x) => fx(x, decimals("iris-classifier"))), deadline, irisQuote.fee, maxGasPrice, { value: irisQuote.total });
      iriss.push(requestIdOf((await tx.wait())!));
    }
    const returns = Array.from({ length: 21 }, (_, i) => 0.018 * Math.sin(i * 1.7) + (i % 3 === 0 ? -0.01 : 0.006));
    const riskQuote = await quoteOf("volatility-risk", 100_000);
    const riskTx = await lendingPool.connect(deployer).getFunction("requestRiskUpdate")(
      encodeTensor(returns.map((x) => fx(x, decimals("volatility-risk")))), deadline, riskQuote.fee, maxGasPrice, { value: riskQuote.total });
    const risk = requestIdOf((await riskTx.wait())!);
    const requester = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, new NonceManager(devAccount(12).connect(provider)));
    const direct = async (input: bigint[], callbackGasLimit: number) => {
      const q = await quoteOf("penguins-species-int", callbackGasLimit);
      const options = { callbackGasLimit, deadline, redundancy: 1, maxFee: q.fee, maxGasPrice };
      const tx = await requester.requestInference(d.models["penguins-species-int"], encodeTensor(input), options, { value: q.total });
      return requestIdOf((await tx.wait())!);
    };
    const penguins = [await direct([391n, 187n, 181n, 3750n], 0), await direct([475n, 150n, 222n, 5200n], 0)];
    const declined = await direct([400n, 170n, 200n, 4000n], MAX_CALLBACK_GAS + 50_000);
    say(`requests sent: iris ${iriss.join(", ")}, risk ${risk}, penguins ${penguins.join(", ")}, declined ${declined}`);

    const generator = new LoadGenerator({ chain, provider, oracle: d.contracts.InferenceOracle, penguinsId: d.models["penguins-species-int"] });
    const view = new Contract(d.contracts.InferenceOracle, ORACLE_ABI, provider);
    return {
      chain, provider, deployed, node, url, ids: { iris: iriss, risk, penguins, declined },
      load: async (count, perSecond) => {
        await generator.sendSigned(await generator.sign(count), { perSecond, concurrency: 4 });
      },
      waitFulfilled: async (ids, timeoutMs = 60_000) => {
        const end = Date.now() + timeoutMs;
        for (;;) {
          const states = await Promise.all(ids.map((id) => view.requestState(id)));
          const left = ids.filter((_, i) => Number(states[i]) !== RequestState.Fulfilled);
          if (!left.length) return;
          if (Date.now() > end) throw new Error(`requests ${left.join(", ")} not fulfilled within ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 200));
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
