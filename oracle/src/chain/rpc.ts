/**
 * JSON-RPC over HTTP for the node. ethers' own transport (`FetchRequest`) copies the whole
 * response on every chunk received (quadratic in its size) and decodes UTF-8 in JavaScript; with
 * receipts and log pages of hundreds of events that was the largest CPU cost of the node. This
 * one keeps connections alive, joins chunks once and lets V8 decode and parse the JSON.
 *
 * - {@link RpcClient}: raw calls and JSON-RPC batches (one HTTP request, many calls) for the hot
 *   paths: log pages, receipts, the per-batch state check, raw transactions. Answers are the
 *   node's JSON, not ethers objects: callers decode what they need.
 * - {@link FastJsonRpcProvider}: an ethers `JsonRpcProvider` that sends through the same client,
 *   for everything else (gas estimates, fee data, contract views).
 */
import http from "node:http";
import https from "node:https";
import { FetchRequest, JsonRpcProvider, type JsonRpcApiProviderOptions, type JsonRpcPayload, type JsonRpcResult, type Networkish } from "ethers";
import { TransientError } from "../errors";

/**
 * A JSON-RPC error answer, or an HTTP/transport failure (`code` "SERVER_ERROR" / "NETWORK_ERROR").
 * Transient, as every RPC failure is to the node: its calls are reads and idempotent sends, and a
 * caller that must tell a revert apart decodes `data` and raises its own error.
 */
export class RpcError extends TransientError {
  override name = "RpcError";
  constructor(message: string, readonly code: number | string, readonly data?: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  /** ethers-style fields, so helpers that read `shortMessage` / `info.error` see the node's words. */
  get shortMessage(): string {
    return this.message;
  }
}

export interface RpcCall {
  method: string;
  params: unknown[];
}

/** One answer of a batch: `result`, or `error` for that call alone. */
export type RpcOutcome<T = unknown> = { result: T; error?: undefined } | { result?: undefined; error: RpcError };

export interface RpcClientOptions {
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Most parallel connections (default 16). */
  maxSockets?: number;
}

export class RpcClient {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly mod: typeof http | typeof https;
  private nextId = 1;

  constructor(url: string, private readonly opts: RpcClientOptions = {}) {
    this.url = new URL(url);
    if (this.url.protocol !== "http:" && this.url.protocol !== "https:") throw new Error(`RpcClient: ${this.url.protocol} URLs are not supported`);
    this.mod = this.url.protocol === "https:" ? https : http;
    this.agent = new this.mod.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 16 });
  }

  /** One call; throws {@link RpcError} for an error answer. */
  async call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const id = this.nextId++;
    const res = (await this.post(JSON.stringify({ jsonrpc: "2.0", id, method, params }))) as JsonRpcResult | JsonRpcResult[];
    const one = Array.isArray(res) ? res[0] : res;
    return unwrap<T>(one, method);
  }

  /**
   * Many calls in one HTTP request (JSON-RPC batch), at most `maxPerRequest` per request. A
   * transport failure throws; an error answer to one call is that call's `error`.
   */
  async batch<T = unknown>(calls: RpcCall[], maxPerRequest = 500): Promise<RpcOutcome<T>[]> {
    const out: RpcOutcome<T>[] = [];
    for (let i = 0; i < calls.length; i += maxPerRequest) {
      const chunk = calls.slice(i, i + maxPerRequest);
      const first = this.nextId;
      this.nextId += chunk.length;
      const body = "[" + chunk.map((c, k) => JSON.stringify({ jsonrpc: "2.0", id: first + k, method: c.method, params: c.params })).join(",") + "]";
      const res = await this.post(body);
      const byId = new Map<number, JsonRpcResult>();
      for (const r of Array.isArray(res) ? res : [res]) byId.set(Number((r as { id: unknown }).id), r as JsonRpcResult);
      chunk.forEach((c, k) => {
        const r = byId.get(first + k);
        if (!r) { out.push({ error: new RpcError(`no answer to ${c.method} in the batch`, "BAD_DATA") }); return; }
        try {
          out.push({ result: unwrap<T>(r, c.method) });
        } catch (err) {
          out.push({ error: err as RpcError });
        }
      });
    }
    return out;
  }

  /** POSTs a JSON body; resolves with the parsed answer. */
  post(body: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = this.mod.request(this.url, {
        method: "POST", agent: this.agent, timeout: this.opts.timeoutMs ?? 30_000,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) => reject(new RpcError(`RPC response failed: ${err.message}`, "NETWORK_ERROR", undefined, { cause: err })));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            reject(new RpcError(`RPC answered HTTP ${status}: ${text.slice(0, 200)}`, "SERVER_ERROR"));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(new RpcError(`RPC answered invalid JSON: ${text.slice(0, 200)}`, "BAD_DATA", undefined, { cause: err }));
          }
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (err) => reject(new RpcError(`RPC request failed: ${err.message}`, "NETWORK_ERROR", undefined, { cause: err })));
      req.end(body);
    });
  }

  destroy(): void {
    this.agent.destroy();
  }
}

function unwrap<T>(r: JsonRpcResult | undefined, method: string): T {
  if (!r) throw new RpcError(`no answer to ${method}`, "BAD_DATA");
  if ("error" in r && r.error) {
    const e = r.error as { code?: number; message?: string; data?: unknown };
    const data = typeof e.data === "string" ? e.data : typeof (e.data as { data?: unknown })?.data === "string" ? (e.data as { data: string }).data : undefined;
    throw new RpcError(`${method}: ${e.message ?? "error"}`, e.code ?? "UNKNOWN_ERROR", data);
  }
  return r.result as T;
}

/** An ethers provider whose requests go through an {@link RpcClient}. */
export class FastJsonRpcProvider extends JsonRpcProvider {
  readonly rpc: RpcClient;

  constructor(url: string, network?: Networkish, options?: JsonRpcApiProviderOptions) {
    super(new FetchRequest(url), network, options);
    this.rpc = new RpcClient(url);
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const res = await this.rpc.post(JSON.stringify(payload));
    return (Array.isArray(res) ? res : [res]) as JsonRpcResult[];
  }

  override destroy(): void {
    super.destroy();
    this.rpc.destroy();
  }
}
