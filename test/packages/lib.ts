/**
 * Helpers of the package tests: what `npm pack` puts in a package, compiling Solidity with a
 * solc-js from npm (import callback), and the consumer that opens docs/contracts.md.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "../../oracle/src/paths";
export { docsConsumer } from "../../scripts/lib/dapp-project";

export const CONTRACTS_PKG = path.join(REPO_ROOT, "contracts");
export const CLIENT_PKG = path.join(REPO_ROOT, "oracle", "client");
export const CONTRACTS_NAME = "@attested-inference-oracle/contracts";

/** npm without the repository's .npmrc quirks leaking into warnings: output of a command, trimmed. */
export function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync("npm", args, { cwd, encoding: "utf8", env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 }).trim();
}

export interface PackEntry { path: string; size: number }
export interface PackInfo { filename: string; files: PackEntry[]; size: number; unpackedSize: number }

/** What `npm pack` would put in the package (`--dry-run --json`; runs its prepack script). */
export function packList(pkgDir: string): PackInfo {
  const out = npm(["pack", "--dry-run", "--json", "--ignore-scripts"], pkgDir);
  return (JSON.parse(out.slice(out.indexOf("["))) as PackInfo[])[0];
}

interface SolcJs {
  version(): string;
  compile(input: string, callbacks: { import(p: string): { contents: string } | { error: string } }): string;
}

export interface CompileResult {
  errors: string[];
  contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

/**
 * Compiles `sources` with a solc-js package (e.g. `solc-0.8.24`); imports are read by `resolve`
 * (path → file text, or undefined for "not found").
 */
export function compileWith(solcPackage: string, sources: Record<string, string>, resolve: (p: string) => string | undefined, evmVersion = "cancun"): CompileResult & { version: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require(solcPackage) as SolcJs;
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, { content: v }])),
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion, outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), {
    import: (p) => {
      const text = resolve(p);
      return text === undefined ? { error: `not found: ${p}` } : { contents: text };
    },
  })) as { errors?: { severity: string; formattedMessage: string }[]; contracts?: CompileResult["contracts"] };
  return {
    version: solc.version(),
    errors: (out.errors ?? []).filter((e) => e.severity === "error").map((e) => e.formattedMessage),
    contracts: out.contracts ?? {},
  };
}

/** Resolves `@attested-inference-oracle/contracts/<file>` to the repository's file, only if the package ships it. */
export function packageResolver(shipped: Set<string>): (p: string) => string | undefined {
  return (p) => {
    const prefix = `${CONTRACTS_NAME}/`;
    if (!p.startsWith(prefix)) return undefined;
    const rel = p.slice(prefix.length);
    return shipped.has(rel) ? fs.readFileSync(path.join(CONTRACTS_PKG, rel), "utf8") : undefined;
  };
}
