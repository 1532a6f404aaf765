/**
 * A local development chain for the demo, the benchmark and the end-to-end tests: a
 * `hardhat node` child process on a free port (its own process group, so stopping it stops
 * everything it spawned), with the well-known Hardhat development accounts. Never for production.
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { HDNodeWallet, Mnemonic, Wallet } from "ethers";

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
  const root = opts.root ?? path.resolve(__dirname, "../../..");
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
