/**
 * The node's configuration: one typed spec, read from the environment and an optional JSON file,
 * validated once at start. Each option carries its environment variable, a description, a default
 * and a `secret` flag (secrets are never printed: not in errors, not in logs, not in `describe`).
 *
 * Precedence, lowest first: defaults < JSON file (`--config`, keys as in the spec) < environment
 * < explicit overrides (command-line flags).
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { PermanentError } from "./errors";
import { HEX_KEY, KeySourceError, decryptKeystores, keystorePassword, normalizeKey, readKeyFile } from "./keys";

/** One option of the spec. */
export interface OptionSpec<S extends z.ZodTypeAny = z.ZodTypeAny> {
  /** Environment variable that sets it. */
  env: string;
  /** What it does, for `--help`, docs/operators.md and error messages. */
  description: string;
  /** Validator and parser (strings from the environment are coerced). */
  schema: S;
  /** Default value as it would be written in the environment; undefined means optional or required. */
  default?: string;
  /** True when the value must never be printed (keys, URLs that may embed passwords). */
  secret?: boolean;
  /** True when start must fail without it. */
  required?: boolean;
  /** Options (spec keys) any one of which, given, stands in for this required one. */
  requiredUnless?: string[];
  /** What a valid value looks like, appended to error messages. */
  expect: string;
}

const hexKey = z.string().trim().regex(HEX_KEY).transform(normalizeKey);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1")]);

/** Where the sending keys come from: exactly one of these is given (keys.ts reads the last two). */
export const KEY_OPTIONS = ["privateKeys", "privateKeyFile", "keystoreFile"] as const;

/** The spec. Keys are the names used in the JSON config file. */
export const CONFIG_SPEC = {
  network: {
    env: "ORACLE_NETWORK", default: "localhost", expect: "a network name such as localhost or sepolia",
    description: "Network name; the node reads contract addresses only from deployments/<network>.json.",
    schema: z.string().regex(/^[A-Za-z0-9_-]+$/),
  },
  deploymentFile: {
    env: "ORACLE_DEPLOYMENT_FILE", expect: "a path to a deployments/<network>.json file",
    description: "Deployment file to read addresses from (default: deployments/<network>.json).",
    schema: z.string().min(1).optional(),
  },
  rpcUrl: {
    env: "RPC_URL", default: "http://127.0.0.1:8545", secret: true,
    expect: "an http:// or https:// URL (the node speaks JSON-RPC over HTTP; ws:// and wss:// are not supported: give the provider's HTTP endpoint)",
    description: "JSON-RPC endpoint of the chain, over HTTP(S) (secret: provider URLs often embed an API key).",
    schema: z.string().url().refine((u) => /^https?:\/\//i.test(u)),
  },
  privateKeys: {
    env: "ORACLE_PRIVATE_KEY", secret: true, required: true, requiredUnless: KEY_OPTIONS.slice(1),
    expect: "a 32-byte hex key (64 hex digits, optional 0x), or several separated by commas",
    description: "Sending key(s): each gets its own nonce manager; batches are spread over them. The first is the enclave operator (it registers runners and receives fees). Or keep them off the environment: ORACLE_PRIVATE_KEY_FILE or ORACLE_KEYSTORE (one of the three).",
    schema: z.union([z.array(hexKey), z.string().transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean)).pipe(z.array(hexKey))])
      .pipe(z.array(z.string()).min(1)),
  },
  privateKeyFile: {
    env: "ORACLE_PRIVATE_KEY_FILE", expect: "a path to a file readable by its owner only (chmod 600)",
    description: "A file holding the sending key(s) as ORACLE_PRIVATE_KEY takes them (one per line or comma-separated; # comments): a mounted secret. Refused if other users can read it.",
    schema: z.string().min(1).optional(),
  },
  keystoreFile: {
    env: "ORACLE_KEYSTORE", expect: "a path to an encrypted JSON keystore, or several separated by commas",
    description: "Encrypted JSON keystore(s) (Web3 Secret Storage v3: `oracle keystore create`, geth, `cast wallet`) holding the sending key(s), the operator's first; decrypted at start with ORACLE_KEYSTORE_PASSWORD_FILE.",
    schema: z.string().min(1).optional(),
  },
  keystorePasswordFile: {
    env: "ORACLE_KEYSTORE_PASSWORD_FILE", expect: "a path to a file readable by its owner only (chmod 600)",
    description: "File holding the keystore's password (one trailing newline is dropped). Refused if other users can read it.",
    schema: z.string().min(1).optional(),
  },
  keystorePassword: {
    env: "ORACLE_KEYSTORE_PASSWORD", secret: true, expect: "the keystore's password",
    description: "The keystore's password, when a file cannot be used (prefer ORACLE_KEYSTORE_PASSWORD_FILE: the environment of a process can be read by its user). Dropped from the configuration once the keystore is decrypted.",
    schema: z.string().min(1).optional(),
  },
  redisUrl: {
    env: "REDIS_URL", secret: true, expect: "a redis:// or rediss:// URL",
    description: "Redis for the BullMQ queue and the checkpoint. Unset: an in-process queue (one node only).",
    schema: z.string().regex(/^rediss?:\/\//).optional(),
  },
  queueName: {
    env: "ORACLE_QUEUE", default: "inference", expect: "letters, digits, - or _",
    description: "BullMQ queue name; nodes sharing it share the work.",
    schema: z.string().regex(/^[A-Za-z0-9_-]+$/),
  },
  queuePrefix: {
    env: "ORACLE_QUEUE_PREFIX", default: "oracle", expect: "letters, digits, - or _",
    description: "Redis key prefix for the queue and checkpoint (one per deployment or test).",
    schema: z.string().regex(/^[A-Za-z0-9_-]+$/),
  },
  confirmations: {
    env: "ORACLE_CONFIRMATIONS", default: "2", expect: "an integer from 0 to 1000",
    description: "Blocks the watcher trails the head by before it trusts a request event.",
    schema: int(0, 1000),
  },
  pollIntervalMs: {
    env: "ORACLE_POLL_INTERVAL_MS", default: "500", expect: "an integer of milliseconds from 50",
    description: "How often the watcher asks for new blocks.",
    schema: int(50),
  },
  startBlock: {
    env: "ORACLE_START_BLOCK", expect: "a block number",
    description: "First block to scan when there is no checkpoint (default: the deployment block).",
    schema: int(0).optional(),
  },
  maxBlockRange: {
    env: "ORACLE_MAX_BLOCK_RANGE", default: "2000", expect: "an integer from 1 to 100000",
    description: "Largest block range per eth_getLogs call.",
    schema: int(1, 100_000),
  },
  batchSize: {
    env: "ORACLE_BATCH_SIZE", default: "32", expect: "an integer from 1 to 500",
    description: "Most results in one fulfilBatch transaction.",
    schema: int(1, 500),
  },
  batchWindowMs: {
    env: "ORACLE_BATCH_WINDOW_MS", default: "100", expect: "an integer of milliseconds",
    description: "How long a batch collects jobs before it is signed and sent, if not full before.",
    schema: int(0, 60_000),
  },
  runners: {
    env: "ORACLE_RUNNERS", default: "1", expect: "an integer from 1 to 64",
    description: "Enclave runner processes; each is attested and registered on-chain before it serves.",
    schema: int(1, 64),
  },
  concurrency: {
    env: "ORACLE_CONCURRENCY", expect: "an integer from 1",
    description: "Jobs this node holds at once (default: 4 × batch size × runners).",
    schema: int(1).optional(),
  },
  jobAttempts: {
    env: "ORACLE_JOB_ATTEMPTS", default: "10", expect: "an integer from 1 to 100",
    description: "Attempts per job for transient errors (RPC, runner restart) before it fails.",
    schema: int(1, 100),
  },
  backoffMs: {
    env: "ORACLE_BACKOFF_MS", default: "250", expect: "an integer of milliseconds",
    description: "First retry delay; it doubles on each attempt (exponential backoff).",
    schema: int(1, 3_600_000),
  },
  lockDurationMs: {
    env: "ORACLE_LOCK_DURATION_MS", default: "10000", expect: "an integer of milliseconds from 1000",
    description: "BullMQ job lock: a node that has not renewed it for this long is presumed dead and its jobs go to other workers.",
    schema: int(1000),
  },
  stalledIntervalMs: {
    env: "ORACLE_STALLED_INTERVAL_MS", default: "5000", expect: "an integer of milliseconds from 500",
    description: "How often BullMQ workers look for jobs of dead nodes.",
    schema: int(500),
  },
  txTimeoutMs: {
    env: "ORACLE_TX_TIMEOUT_MS", default: "20000", expect: "an integer of milliseconds from 1000",
    description: "A transaction not mined after this long is re-sent with the same nonce and a higher fee.",
    schema: int(1000),
  },
  feeBumpPercent: {
    env: "ORACLE_FEE_BUMP_PERCENT", default: "25", expect: "an integer from 10 to 500",
    description: "Fee increase of each re-send (nodes require at least 10%).",
    schema: int(10, 500),
  },
  gasHeadroomPercent: {
    env: "ORACLE_GAS_HEADROOM_PERCENT", default: "25", expect: "an integer from 0 to 500",
    description: "Added to the gas estimate of a batch; the limit is also at least the callback gas the contract checks for.",
    schema: int(0, 500),
  },
  maxInputBytes: {
    env: "ORACLE_MAX_INPUT_BYTES", default: "65536", expect: "an integer of bytes",
    description: "Requests with larger input are failed permanently without running.",
    schema: int(64),
  },
  maxCallbackGas: {
    env: "ORACLE_MAX_CALLBACK_GAS", expect: "an integer of gas",
    description: "Requests asking for a larger callback gas limit are declined (default and ceiling: the oracle's own maximum, read from its config() at start).",
    schema: int(0).optional(),
  },
  maxTxGas: {
    env: "ORACLE_MAX_TX_GAS", default: "16777216", expect: "an integer of gas from 100000",
    description: "Most gas one fulfilBatch may use: the chain's per-transaction gas cap (EIP-7825: 2^24 on osaka). Batches are sized by gas to stay under it and under the block gas limit; a request that cannot fit even alone is declined.",
    schema: int(100_000),
  },
  bondWei: {
    env: "ORACLE_BOND_WEI", default: "0", expect: "an integer of wei",
    description: "If the operator's bond in the EnclaveRegistry is below the minimum at start, bond this many wei more (from the operator key) before registering runners; 0: refuse to start and say how much is missing.",
    // Kept as a decimal string (JSON and the logs cannot hold a bigint); BigInt() where it is used.
    schema: z.union([z.number().int().nonnegative().transform(String), z.string().trim().regex(/^[0-9]+$/)]),
  },
  httpPort: {
    env: "ORACLE_HTTP_PORT", default: "8080", expect: "a TCP port (0 picks a free one)",
    description: "Port of the HTTP API (/healthz, /readyz, /metrics, /v1/...).",
    schema: int(0, 65535),
  },
  httpHost: {
    env: "ORACLE_HTTP_HOST", default: "127.0.0.1", expect: "an interface address",
    description: "Interface the HTTP API listens on.",
    schema: z.string().min(1),
  },
  console: {
    env: "ORACLE_CONSOLE", default: "true", expect: "true or false",
    description: "Serve the read-only web console at /console/ on the HTTP API (it shows keys' addresses and balances, never keys; bind ORACLE_HTTP_HOST beyond localhost only behind an authenticating proxy).",
    schema: bool,
  },
  dataDir: {
    env: "ORACLE_DATA_DIR", default: ".oracle-data", expect: "a writable directory",
    description: "Directory for the checkpoint file and the dev platform's per-network state.",
    schema: z.string().min(1),
  },
  platformFile: {
    env: "ORACLE_PLATFORM_FILE", expect: "a path to a development platform file",
    description: "Development platform file (a SIMULATION of TEE hardware) that attests the runners (default: the one named in the deployment file).",
    schema: z.string().min(1).optional(),
  },
  modelsDir: {
    env: "ORACLE_MODELS_DIR", default: "models", expect: "a directory of .onnx files",
    description: "Bundled models, copied into the model cache (<dataDir>/models) at start; any other registered model is fetched by its registry URI.",
    schema: z.string().min(1),
  },
  modelMirrors: {
    env: "ORACLE_MODEL_MIRRORS", default: "", expect: "comma-separated http(s):// base URLs or file:// folders",
    description: "Where sha256:<hash> model URIs are fetched from, in order (<mirror>/<hash>.onnx, or a folder searched by hash).",
    schema: z.union([z.array(z.string()), z.string().transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean))]).pipe(z.array(z.string().regex(/^(https?|file):\/\//, "an http://, https:// or file:// URL"))),
  },
  modelAllowPrivateHosts: {
    env: "ORACLE_MODEL_ALLOW_PRIVATE_HOSTS", default: "false", expect: "true or false",
    description: "Fetch registry model URIs from loopback, private and link-local addresses too (a model server on the node's own network). Off: anyone can publish a URI, and could aim the node at its internal services. Mirrors are always allowed; file:// is never taken from the registry.",
    schema: bool,
  },
  maxModelBytes: {
    env: "ORACLE_MAX_MODEL_BYTES", default: "67108864", expect: "an integer of bytes",
    description: "Largest model file fetched and loaded.",
    schema: int(1024),
  },
  modelFetchTimeoutMs: {
    env: "ORACLE_MODEL_FETCH_TIMEOUT_MS", default: "30000", expect: "an integer of milliseconds",
    description: "Time for one model fetch, redirects included.",
    schema: int(100),
  },
  reconcileIntervalMs: {
    env: "ORACLE_RECONCILE_INTERVAL_MS", default: "5000", expect: "an integer of milliseconds",
    description: "How often pending requests are re-checked on-chain and re-queued if their job was lost (e.g. Redis flushed).",
    schema: int(100),
  },
  startupTimeoutMs: {
    env: "ORACLE_STARTUP_TIMEOUT_MS", default: "10000", expect: "an integer of milliseconds from 100",
    description: "How long start waits for the RPC (eth_chainId) and Redis to answer before it exits with an error; nothing is registered on-chain before both answer.",
    schema: int(100),
  },
  shutdownTimeoutMs: {
    env: "ORACLE_SHUTDOWN_TIMEOUT_MS", default: "15000", expect: "an integer of milliseconds",
    description: "How long shutdown waits for in-flight work before closing anyway.",
    schema: int(0),
  },
  logLevel: {
    env: "LOG_LEVEL", default: "info", expect: "one of fatal, error, warn, info, debug, trace, silent",
    description: "pino log level.",
    schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  },
} satisfies Record<string, OptionSpec>;

type Spec = typeof CONFIG_SPEC;
export type ConfigKey = keyof Spec;
/** The validated configuration. */
export type OracleConfig = { [K in ConfigKey]: z.output<Spec[K]["schema"]> } & {
  /** Resolved path of the deployment file. */
  deploymentPath: string;
  /** Resolved concurrency. */
  jobConcurrency: number;
};

/** Raised when the configuration is invalid; `problems` says what to fix, one line each. */
export class ConfigError extends PermanentError {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

export interface LoadConfigOptions {
  /** False for commands that only read the chain: no sending key is asked for or decrypted. */
  keys?: boolean;
  /** Environment to read (default process.env). */
  env?: Record<string, string | undefined>;
  /** JSON file with spec keys. */
  file?: string;
  /** Values that win over everything (command-line flags). */
  overrides?: Partial<Record<ConfigKey, unknown>>;
  /** Base directory for relative paths (default process.cwd()). */
  cwd?: string;
}

/** Reads, merges and validates the configuration; throws {@link ConfigError} listing every problem. */
export function loadConfig(opts: LoadConfigOptions = {}): OracleConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const problems: string[] = [];
  let fileValues: Record<string, unknown> = {};
  if (opts.file) {
    try {
      fileValues = JSON.parse(fs.readFileSync(path.resolve(cwd, opts.file), "utf8"));
      if (typeof fileValues !== "object" || fileValues === null || Array.isArray(fileValues)) {
        throw new Error("the top level must be an object");
      }
    } catch (err) {
      throw new ConfigError([`config file ${opts.file} cannot be read as JSON: ${(err as Error).message}`]);
    }
    for (const k of Object.keys(fileValues)) {
      if (!(k in CONFIG_SPEC)) problems.push(`config file ${opts.file}: unknown option "${k}" (known: ${Object.keys(CONFIG_SPEC).join(", ")})`);
    }
  }
  /** An option's value before validation, and where it came from. */
  const rawOf = (key: ConfigKey): { raw: unknown; source: string } => {
    const spec: OptionSpec = CONFIG_SPEC[key];
    const fromEnv = env[spec.env];
    if (opts.overrides?.[key] !== undefined) return { raw: opts.overrides[key], source: "command line" };
    if (fromEnv !== undefined && fromEnv !== "") return { raw: fromEnv, source: `environment ${spec.env}` };
    if (fileValues[key] !== undefined) return { raw: fileValues[key], source: `config file key "${key}"` };
    return { raw: spec.default, source: "default" };
  };
  const keySources = KEY_OPTIONS.filter((k) => rawOf(k).raw !== undefined);
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [ConfigKey, OptionSpec][]) {
    const { raw, source } = rawOf(key);
    if (raw === undefined) {
      const standIn = spec.requiredUnless?.some((k) => rawOf(k as ConfigKey).raw !== undefined);
      const unwanted = opts.keys === false && (KEY_OPTIONS as readonly string[]).includes(key);
      if (spec.required && !standIn && !unwanted) problems.push(`${spec.env} is required: ${spec.expect}. ${spec.description}`);
      out[key] = undefined;
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) { out[key] = parsed.data; continue; }
    const shown = spec.secret ? "(value hidden)" : `got ${JSON.stringify(raw)}`;
    problems.push(`${spec.env} must be ${spec.expect} (from ${source}; ${shown})`);
  }
  if (opts.keys === false) out.privateKeys = [];
  else if (keySources.length > 1) {
    problems.push(`give the sending keys one way, not ${keySources.map((k) => CONFIG_SPEC[k].env).join(" and ")}: ${KEY_OPTIONS.map((k) => CONFIG_SPEC[k].env).join(", ").replace(/, (?=[^,]*$)/, " or ")}`);
  } else if (keySources.length === 1 && keySources[0] !== "privateKeys") {
    try {
      out.privateKeys = keySources[0] === "privateKeyFile"
        ? readKeyFile(path.resolve(cwd, out.privateKeyFile as string))
        : decryptKeystores(
          (out.keystoreFile as string).split(",").map((f) => path.resolve(cwd, f.trim())).join(","),
          keystorePassword({ password: out.keystorePassword as string | undefined, passwordFile: out.keystorePasswordFile === undefined ? undefined : path.resolve(cwd, out.keystorePasswordFile as string) }),
        );
    } catch (err) {
      if (!(err instanceof KeySourceError)) throw err;
      problems.push(err.message);
    }
  }
  out.keystorePassword = undefined; // used (or not needed): kept nowhere
  if (problems.length) throw new ConfigError(problems);
  const cfg = out as OracleConfig;
  cfg.deploymentPath = path.resolve(cwd, cfg.deploymentFile ?? path.join("deployments", `${cfg.network}.json`));
  cfg.dataDir = path.resolve(cwd, cfg.dataDir);
  cfg.modelsDir = path.resolve(cwd, cfg.modelsDir);
  cfg.jobConcurrency = cfg.concurrency ?? 4 * cfg.batchSize * cfg.runners;
  return cfg;
}

/** The configuration with secrets replaced, safe to log or print. */
export function redactedConfig(cfg: OracleConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(cfg)) {
    if (value === undefined) continue; // unset: nothing to show (and no "[secret]" for what is not there)
    out[key] = (CONFIG_SPEC as Record<string, OptionSpec>)[key]?.secret ? "[secret]" : value;
  }
  return out;
}

/** One row per option, for `--help` and docs/operators.md. */
export function describeConfig(): { key: string; env: string; default: string; secret: boolean; required: boolean; description: string }[] {
  return (Object.entries(CONFIG_SPEC) as [ConfigKey, OptionSpec][]).map(([key, s]) => ({
    key, env: s.env, default: s.default ?? "", secret: !!s.secret, required: !!s.required, description: s.description,
  }));
}

/** The option table in Markdown (docs/operators.md is generated from it). */
export function configMarkdownTable(): string {
  const rows = describeConfig().map((r) =>
    `| \`${r.env}\` | \`${r.key}\` | ${r.default ? `\`${r.default}\`` : r.required ? "**required**" : "—"} | ${r.secret ? "yes" : ""} | ${r.description} |`);
  return ["| Variable | File key | Default | Secret | Description |", "|---|---|---|---|---|", ...rows].join("\n");
}
