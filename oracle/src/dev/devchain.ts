/**
 * A local development chain for the demo, the benchmark and the end-to-end tests: a
 * `hardhat node` child process on a free port (its own process group, so stopping it stops
 * everything it spawned), with the well-known Hardhat development accounts; a load generator
 * that sends requests from those accounts, and a reader for the node's Prometheus counters.
 * Never for production.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { Contract, HDNodeWallet, Mnemonic, Wallet, type Provider } from "ethers";
import { ORACLE_ABI, oracleInterface } from "../protocol/abi";
import { encodeTensor } from "../protocol/eip712";
import { maxGasPriceFor, optionsTuple, quotedOptions } from "../protocol/request";
import { REPO_ROOT } from "../paths";

/** Hardhat's default development mnemonic: its accounts are public and funded on every dev chain. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** Development account `i` (0 deploys, 1 runs the node, the others send requests). */
export function devAccount(i: number): Wallet {
  const hd = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), `m/44'/60'/0'/0/${i}`);
  return new Wallet(hd.privateKey);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface DevChain {
  url: string;
  port: number;
  child: ChildProcess;
  /** Kills the node's process group; idempotent. */
  stop(): Promise<void>;
}

export interface DevChainOptions {
  port?: number;
  /** Repository root (default: this checkout). */
  root?: string;
  /** Keep hardhat's per-call logging (default off: it costs CPU on every call). */
  logging?: boolean;
  /** Max time to wait for the node to answer (default 60 s). */
  startTimeoutMs?: number;
}

const live = new Set<DevChain>();
let exitHookInstalled = false;

/** Starts `hardhat node` and waits until it answers JSON-RPC. */
export async function startDevChain(opts: DevChainOptions = {}): Promise<DevChain> {
  const root = opts.root ?? REPO_ROOT;
  const port = opts.port ?? (await freePort());
  const cli = require.resolve("hardhat/internal/cli/cli.js", { paths: [root] });
  const child = spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" },
  });
  let output = "";
  const keep = (b: Buffer) => { if (output.length < 20_000) output += b.toString(); };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let stopped: Promise<void> | undefined;
  const chain: DevChain = {
    url: `http://127.0.0.1:${port}`, port, child,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        live.delete(chain);
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        try { process.kill(-child.pid!, "SIGKILL"); } catch { resolve(); }
      });
      return stopped;
    },
  };
  live.add(chain);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => { for (const c of live) try { process.kill(-c.child.pid!, "SIGKILL"); } catch { /* gone */ } });
  }
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`hardhat node exited (${child.exitCode}): ${output.slice(-2000)}`);
      try {
        await rpc(chain.url, "eth_chainId", []);
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`hardhat node did not answer on ${chain.url} within ${opts.startTimeoutMs ?? 60_000} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (!opts.logging) await rpc(chain.url, "hardhat_setLoggingEnabled", [false]);
  } catch (err) {
    await chain.stop();
    throw err;
  }
  child.stdout!.resume();
  return chain;
}

/** One raw JSON-RPC call (no provider, no network detection). */
export async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }), signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

/** Reads one counter from Prometheus text: the sum over its label sets. */
export function metricValue(text: string, name: string): number {
  return text.split("\n").filter((l) => l.startsWith(name) && (l[name.length] === "{" || l[name.length] === " "))
    .reduce((a, l) => a + Number(l.split(" ").pop()), 0);
}

/** Where a {@link LoadGenerator} sends: the chain, the oracle and the penguins-species-int model's id. */
export interface LoadTarget {
  chain: { url: string };
  provider: Provider;
  oracle: string;
  penguinsId: number;
}

/**
 * Requests for the integer model (penguins-species-int, no callback) from several development
 * accounts in turn, signed locally with explicit nonces, so many are sent per block.
 */
export class LoadGenerator {
  private readonly wallets: Wallet[];
  private readonly nonces = new Map<string, number>();
  private signed = 0;

  constructor(private readonly target: LoadTarget, accounts = [2, 3, 4, 5, 6, 7, 8, 9]) {
    this.wallets = accounts.map((i) => devAccount(i));
  }

  /** Signs the next `count` requests (inputs vary with their number and `tag`); sends nothing. */
  async sign(count: number, opts: { tag?: number } = {}): Promise<string[]> {
    const { provider, oracle, penguinsId } = this.target;
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 24 * 3600);
    const feeData = await provider.getFeeData();
    // A fee cap far above the base fee: a backlog signed up front still pays when blocks fill up.
    const suggested = maxGasPriceFor(feeData);
    const maxFeePerGas = suggested > 10n ** 11n ? suggested : 10n ** 11n;
    // The relayer may be reimbursed at up to the same price the requests themselves may pay.
    const quoted = await quotedOptions(new Contract(oracle, ORACLE_ABI, provider), penguinsId, { callbackGasLimit: 0, deadline, redundancy: 1, maxGasPrice: maxFeePerGas });
    const options = optionsTuple(quoted.options);
    const total = quoted.quote.total;
    for (const w of this.wallets) {
      if (!this.nonces.has(w.address)) this.nonces.set(w.address, await provider.getTransactionCount(w.address, "pending"));
    }
    const signed: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.signed + i;
      const w = this.wallets[n % this.wallets.length];
      const input = encodeTensor([BigInt(380 + (n % 97)), BigInt(150 + (n % 41)), BigInt(180 + (n % 43)), BigInt(3000 + ((n * 37 + (opts.tag ?? 0)) % 3000))]);
      const nonce = this.nonces.get(w.address)!;
      this.nonces.set(w.address, nonce + 1);
      signed.push(await w.signTransaction({
        to: oracle, data: oracleInterface.encodeFunctionData("requestInference", [penguinsId, input, options]),
        value: total, nonce, gasLimit: 250_000, chainId: 31337, type: 2,
        maxFeePerGas, maxPriorityFeePerGas: feeData.maxPriorityFeePerGas ?? 10n ** 9n,
      }));
    }
    this.signed += count;
    return signed;
  }

  /**
   * Sends signed transactions, `concurrency` at a time (default 50), at most `perSecond` per
   * second if given. Returns their hashes.
   */
  async sendSigned(txs: string[], opts: { concurrency?: number; perSecond?: number } = {}): Promise<string[]> {
    const c = opts.concurrency ?? 50;
    const start = Date.now();
    const hashes: string[] = [];
    let inflight: Promise<string>[] = [];
    for (let i = 0; i < txs.length; i++) {
      if (opts.perSecond) {
        const wait = start + (i * 1000) / opts.perSecond - Date.now();
        if (wait > 2) await new Promise((r) => setTimeout(r, wait));
      }
      inflight.push(rpc(this.target.chain.url, "eth_sendRawTransaction", [txs[i]]) as Promise<string>);
      if (inflight.length >= c) { hashes.push(...(await Promise.all(inflight))); inflight = []; }
    }
    hashes.push(...(await Promise.all(inflight)));
    return hashes;
  }

  /** Signs and sends `count` requests. Returns the transaction hashes. */
  async send(count: number, opts: { concurrency?: number; tag?: number } = {}): Promise<string[]> {
    return this.sendSigned(await this.sign(count, opts), opts);
  }
}
