/**
 * What start checks before it touches anything: the RPC answers and serves the deployment's
 * chain, and Redis answers. Each failure is one line that names what to fix, within a bounded
 * time, before any enclave is registered on-chain.
 */
import { shortError, within } from "../chain/retry";
import { PermanentError } from "../errors";
import type { RpcClient } from "../chain/rpc";

/** Raised by the start-up checks; its message is the one line the operator reads. */
export class PreflightError extends PermanentError {
  override name = "PreflightError";
}

/** The URL without credentials, path or query (provider URLs carry API keys there): what a log may show. */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    const hidden = (u.pathname !== "/" && u.pathname !== "") || u.search ? "/… (path hidden)" : "";
    return `${u.protocol}//${u.host}${hidden}`;
  } catch {
    return "(unparseable URL)";
  }
}

/**
 * Asks the RPC for `eth_chainId` (directly: the provider is built with a static network, so it
 * would only echo the configured one) and compares it with the deployment's chain.
 */
export async function checkChainId(rpc: RpcClient, url: string, expected: { chainId: number; file: string }, timeoutMs: number): Promise<void> {
  let served: number;
  try {
    served = Number(await within(askChainId(rpc, timeoutMs), timeoutMs, `no answer within ${timeoutMs / 1000} s`));
  } catch (err) {
    throw new PreflightError(`RPC_URL ${publicUrl(url)} does not answer eth_chainId (${shortError(err)}): start the chain's node or fix RPC_URL`);
  }
  if (served !== expected.chainId) {
    throw new PreflightError(`RPC_URL ${publicUrl(url)} serves chain id ${served}, but ${expected.file} is for chain id ${expected.chainId}: point RPC_URL at a node of chain ${expected.chainId}, or use that chain's deployment file`);
  }
}

/** eth_chainId, retried while the node refuses connections (it may be starting), until `timeoutMs`. */
async function askChainId(rpc: RpcClient, timeoutMs: number): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    try {
      return await rpc.call<string>("eth_chainId");
    } catch (err) {
      if (Date.now() + delay >= end) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
