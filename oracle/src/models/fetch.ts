/**
 * Fetches a model the node has not seen from the registry's URI, checks its sha256 before anything
 * else touches the bytes, and caches it by hash (cache.ts).
 *
 * URIs: `https://…`, `http://…`, and `sha256:<64 hex>` (content addressed), resolved against the
 * operator's mirrors in order: an http(s) mirror serves `<mirror>/<hex>.onnx`; a `file://` mirror
 * is a folder searched by hash (locate.ts). A registry URI is untrusted (anyone publishes): it may
 * not be `file://` nor reach a private address unless the operator allows it (see the options).
 *
 * Limits, each with its own error: the size (Content-Length and the bytes actually received),
 * one timeout for the whole fetch including redirects, the number of redirects, and the number of
 * fetches at once (a fetch beyond it fails at once as `busy`, to be retried later).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "../protocol/bytes";
import { ModelError } from "./errors";
import type { ModelCache } from "./cache";
import { findModelFile } from "./locate";
import { PrivateAddressError, literalPrivateHost, publicOnlyLookup } from "./host-guard";

/** Why a fetch failed; the node's trail and metrics carry it. */
export type FetchFailure =
  | "unsupported-uri" | "not-found" | "http-status" | "too-large" | "timeout" | "too-many-redirects" | "hash-mismatch" | "busy" | "network"
  | "private-address";

export class ModelFetchError extends ModelError {
  override name = "ModelFetchError";
  constructor(readonly reason: FetchFailure, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
  /** A later attempt may succeed (busy, timeout, network, a 5xx); the others need the URI or file fixed. */
  get transient(): boolean {
    return this.reason === "busy" || this.reason === "timeout" || this.reason === "network" || this.reason === "http-status";
  }
}

export interface FetchLimits {
  /** Largest model, in bytes. Default 64 MiB. */
  maxBytes: number;
  /** Time for one fetch, redirects included. Default 30 s. */
  timeoutMs: number;
  /** Redirects followed. Default 3. */
  maxRedirects: number;
  /** Fetches at once; one more fails as `busy`. Default 2. */
  maxConcurrent: number;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = { maxBytes: 64 * 1024 * 1024, timeoutMs: 30_000, maxRedirects: 3, maxConcurrent: 2 };

export interface ModelFetcherOptions {
  cache: ModelCache;
  /** Where `sha256:` URIs are looked up, in order: http(s) base URLs or file:// folders (the operator's). */
  mirrors?: string[];
  limits?: Partial<FetchLimits>;
  /**
   * Whether a URI given to {@link ModelFetcher.ensure} may be `file://`. Off for URIs read from the
   * registry (anyone publishes there: one could name the node's key file or /dev/zero); on for a
   * URI the operator types. Mirrors may always be file:// folders.
   */
  fileUris?: boolean;
  /**
   * Whether http(s) URIs may reach loopback, private and link-local addresses (host-guard.ts). Off
   * for registry URIs unless the operator allows it (ORACLE_MODEL_ALLOW_PRIVATE_HOSTS); mirrors are
   * the operator's and always allowed.
   */
  privateHosts?: boolean;
}

const HASH_RE = /^0x[0-9a-f]{64}$/;

export class ModelFetcher {
  readonly cache: ModelCache;
  readonly mirrors: string[];
  readonly limits: FetchLimits;
  private readonly fileUris: boolean;
  private readonly privateHosts: boolean;
  private readonly inflight = new Map<string, Promise<string>>();
  private active = 0;

  constructor(options: ModelFetcherOptions) {
    this.cache = options.cache;
    this.mirrors = options.mirrors ?? [];
    this.limits = { ...DEFAULT_FETCH_LIMITS, ...(options.limits ?? {}) };
    this.fileUris = options.fileUris ?? false;
    this.privateHosts = options.privateHosts ?? false;
    for (const m of this.mirrors) {
      if (!/^(https?|file):\/\//.test(m)) throw new TypeError(`model mirror ${m}: use an http://, https:// or file:// URL`);
    }
  }

  /**
   * The cached file of `modelHash`, fetching it from `uri` first if it is not cached. One fetch
   * per hash at a time (callers share it). Throws ModelFetchError.
   */
  ensure(modelHash: string, uri: string): Promise<string> {
    const hash = modelHash.toLowerCase();
    if (!HASH_RE.test(hash)) return Promise.reject(new TypeError(`not a model hash: ${modelHash}`));
    if (this.cache.has(hash)) {
      this.cache.touch(hash);
      return Promise.resolve(this.cache.path(hash));
    }
    let p = this.inflight.get(hash);
    if (!p) {
      if (this.active >= this.limits.maxConcurrent) {
        return Promise.reject(new ModelFetchError("busy", `${this.active} model fetches are running (limit ${this.limits.maxConcurrent}); retry later`));
      }
      this.active++;
      p = this.fetchInto(hash, uri).finally(() => {
        this.active--;
        this.inflight.delete(hash);
      });
      this.inflight.set(hash, p);
    }
    return p;
  }

  private async fetchInto(hash: string, uri: string): Promise<string> {
    const bytes = await this.fetchVerified(hash, uri);
    return this.cache.put(hash, bytes, uri);
  }

  /** The bytes of `uri`, refused unless they hash to `hash`. */
  async fetchVerified(hash: string, uri: string): Promise<Uint8Array> {
    const deadline = Date.now() + this.limits.timeoutMs;
    const { urls, mirrors } = this.resolve(hash, uri);
    // Mirrors are the operator's own: their hosts are trusted. A registry URI is not.
    const privateHosts = mirrors || this.privateHosts;
    const errors: ModelFetchError[] = [];
    for (const c of urls) {
      try {
        const bytes = c.startsWith("file://") ? this.readFile(c) : await this.download(c, deadline, privateHosts);
        const actual = sha256Hex(bytes);
        if (actual !== hash) throw new ModelFetchError("hash-mismatch", `${c} has sha256 ${actual}, the registry says ${hash}: the file at the URI is not the registered model`);
        return bytes;
      } catch (err) {
        if (!(err instanceof ModelFetchError)) throw err;
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    const last = errors.find((e) => e.reason !== "not-found") ?? errors[errors.length - 1];
    throw new ModelFetchError(last.reason, `no mirror served ${uri}: ${errors.map((e) => e.message).join("; ")}`);
  }

  /** The URLs to try for a registry URI, and whether they are the operator's mirrors. */
  private resolve(hash: string, uri: string): { urls: string[]; mirrors: boolean } {
    const content = /^sha256:(?:0x)?([0-9a-fA-F]{64})$/.exec(uri);
    if (content) {
      if ("0x" + content[1].toLowerCase() !== hash) throw new ModelFetchError("hash-mismatch", `URI ${uri} names another hash than the registry's ${hash}`);
      if (this.mirrors.length === 0) throw new ModelFetchError("not-found", `${uri} is content-addressed and no model mirror is configured (ORACLE_MODEL_MIRRORS)`);
      const urls = this.mirrors.map((m) => (m.startsWith("file://") ? `${m.replace(/\/$/, "")}/#${hash}` : `${m.replace(/\/$/, "")}/${hash.slice(2)}.onnx`));
      return { urls, mirrors: true };
    }
    if (/^https?:\/\//.test(uri)) return { urls: [uri], mirrors: false };
    if (/^file:\/\//.test(uri)) {
      if (this.fileUris) return { urls: [uri], mirrors: false };
      throw new ModelFetchError("unsupported-uri", `model URI "${uri}" is a file:// URI: a node reads local files only from its operator's mirrors (ORACLE_MODEL_MIRRORS), never where a registry entry points; publish an https:// or sha256: URI`);
    }
    throw new ModelFetchError("unsupported-uri", `model URI "${uri}" is not https://, http:// or sha256:<hash>`);
  }

  private readFile(url: string): Uint8Array {
    let file: string;
    const [base, fragment] = url.split("#");
    try {
      file = fileURLToPath(base);
    } catch (cause) {
      throw new ModelFetchError("unsupported-uri", `${url} is not a file URL: ${(cause as Error).message}`);
    }
    if (fragment !== undefined) {
      const found = findModelFile(file, fragment, this.limits.maxBytes);
      if (!found) throw new ModelFetchError("not-found", `no file with sha256 ${fragment} in mirror folder ${file}`);
      file = found;
    }
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new ModelFetchError("not-found", `${file} does not exist`);
    }
    // A device or a pipe (/dev/zero, a FIFO) has no size to check and may never end.
    if (!stat.isFile()) throw new ModelFetchError("unsupported-uri", `${file} is not a regular file`);
    const size = stat.size;
    if (size > this.limits.maxBytes) throw new ModelFetchError("too-large", `${file} is ${size} bytes, more than the ${this.limits.maxBytes}-byte limit`);
    return fs.readFileSync(file);
  }

  private async download(url: string, deadline: number, privateHosts: boolean): Promise<Uint8Array> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await this.get(current, deadline, privateHosts);
      if (res.redirect === undefined) return res.body!;
      if (hop >= this.limits.maxRedirects) throw new ModelFetchError("too-many-redirects", `${url}: more than ${this.limits.maxRedirects} redirects`);
      current = new URL(res.redirect, current).toString();
      if (!/^https?:\/\//.test(current)) throw new ModelFetchError("unsupported-uri", `${url} redirects to ${current}, which is not http(s)`);
    }
  }

  private get(url: string, deadline: number, privateHosts: boolean): Promise<{ redirect?: string; body?: Uint8Array }> {
    const { maxBytes, timeoutMs } = this.limits;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new ModelFetchError("timeout", `${url}: no answer within ${timeoutMs} ms`));
    const literal = privateHosts ? undefined : literalPrivateHost(url);
    if (literal) return Promise.reject(privateAddressError(url, new PrivateAddressError(literal, literal)));
    const client = url.startsWith("https:") ? https : http;
    return new Promise((resolveOuter, rejectOuter) => {
      // One timer for the whole answer: a server that trickles bytes is cut off too.
      const timer = setTimeout(() => {
        req.destroy();
        rejectOuter(new ModelFetchError("timeout", `${url}: no complete answer within ${timeoutMs} ms`));
      }, remaining);
      const resolve = (v: { redirect?: string; body?: Uint8Array }) => {
        clearTimeout(timer);
        resolveOuter(v);
      };
      const reject = (e: Error) => {
        clearTimeout(timer);
        rejectOuter(e);
      };
      const req = client.get(url, { headers: { accept: "application/octet-stream" }, ...(privateHosts ? {} : { lookup: publicOnlyLookup }) }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          resolve({ redirect: res.headers.location });
          return;
        }
        if (status === 404 || status === 410) {
          res.resume();
          reject(new ModelFetchError("not-found", `${url}: HTTP ${status}`));
          return;
        }
        if (status !== 200) {
          res.resume();
          reject(new ModelFetchError("http-status", `${url}: HTTP ${status}`));
          return;
        }
        const declared = Number(res.headers["content-length"] ?? "NaN");
        if (declared > maxBytes) {
          req.destroy();
          reject(new ModelFetchError("too-large", `${url} is ${declared} bytes, more than the ${maxBytes}-byte limit`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy();
            reject(new ModelFetchError("too-large", `${url} sent more than the ${maxBytes}-byte limit`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          const buf = Buffer.concat(chunks);
          resolve({ body: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) });
        });
        res.on("error", (err) => reject(new ModelFetchError("network", `${url}: ${err.message}`, { cause: err })));
      });
      req.on("error", (err) => reject(err instanceof PrivateAddressError ? privateAddressError(url, err) : new ModelFetchError("network", `${url}: ${err.message}`, { cause: err })));
    });
  }
}

function privateAddressError(url: string, err: PrivateAddressError): ModelFetchError {
  return new ModelFetchError("private-address",
    `${url}: ${err.message}; registry URIs are fetched from public addresses only (a node on the model server's own network can allow it: ORACLE_MODEL_ALLOW_PRIVATE_HOSTS=true)`, { cause: err });
}
