/**
 * A dApp's own project, built as a new user would: the oracle's packages packed with `npm pack`,
 * installed from the tarballs into a fresh folder with no `.npmrc` (and none of the repository's
 * npm settings in the environment), with examples/dapp's compile script and tests, and the
 * consumer that opens docs/contracts.md. Used by test/packages/packages.test.ts and
 * scripts/bench-packages.ts.
 */
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { REPO_ROOT } from "../../oracle/src/paths";

export const PACKAGE_DIRS = { contracts: path.join(REPO_ROOT, "contracts"), client: path.join(REPO_ROOT, "oracle", "client") };

/** The first ```solidity block of docs/contracts.md: the consumer every reader copies. */
export function docsConsumer(): string {
  const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "contracts.md"), "utf8");
  const m = /```solidity\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error("docs/contracts.md has no solidity block");
  return m[1];
}

/** The environment without npm's `npm_config_*` variables (set when run under `npm test` from the repository's .npmrc). */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): string {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

/** Packs one package (runs its prepack: the client builds itself) into `dest`; returns the tarball's path. */
export function packPackage(pkgDir: string, dest: string): string {
  const out = run("npm", ["pack", "--json", "--pack-destination", dest], pkgDir);
  const [info] = JSON.parse(out.slice(out.indexOf("["))) as { filename: string }[];
  return path.join(dest, info.filename);
}

/** Bytes of every file under `dir` (symlinks not followed), as `du -sb` counts content. */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

export interface InstallFigure {
  /** The command, as a user would type it. */
  command: string;
  ms: number;
  /** node_modules size after this step, bytes. */
  nodeModulesBytes: number;
  packages: number;
}

export interface DappProject {
  dir: string;
  tarballs: { contracts: string; client: string };
  /** contracts + client + ethers. */
  install: InstallFigure;
  /** + solc, the project's own compiler (what its compile script uses). */
  compilerInstall: InstallFigure;
  /**
   * Runs a command in the project with a clean environment plus `env`; resolves with stdout.
   * Asynchronous, so a local oracle in this process keeps serving while the command runs.
   */
  run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string>;
  remove(): void;
}

function install(dir: string, specs: string[], cache?: string): InstallFigure {
  const args = ["install", "--no-audit", "--no-fund", ...(cache ? ["--cache", cache] : ["--prefer-offline"]), ...specs];
  const t0 = Date.now();
  run("npm", args, dir);
  const ms = Date.now() - t0;
  const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
  return {
    command: `npm ${args.map((a) => (a.startsWith(os.tmpdir()) ? path.basename(a) : a)).join(" ")}`,
    ms, nodeModulesBytes: dirBytes(path.join(dir, "node_modules")), packages: Object.keys(lock.packages).length - 1,
  };
}

/** The version of a package in the repository's node_modules (the one the npm cache holds). */
function installedVersion(name: string): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * Creates the project in a new temporary folder: packs both packages, writes package.json (no
 * .npmrc), installs the tarballs and ethers, then solc, copies examples/dapp and writes
 * contracts/FlowerClassifier.sol = `consumerSource`. With `cache`, npm uses that cache folder
 * (an empty one: everything is downloaded from the registry) instead of --prefer-offline.
 */
export function createDappProject(consumerSource: string, opts: { cache?: string } = {}): DappProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oracle-dapp-"));
  const tarballs = { contracts: packPackage(PACKAGE_DIRS.contracts, dir), client: packPackage(PACKAGE_DIRS.client, dir) };
  const example = path.join(REPO_ROOT, "examples", "dapp");
  fs.cpSync(example, dir, { recursive: true, filter: (src) => !/(node_modules|build)$/.test(src) });
  fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify({ name: "my-dapp", version: "0.0.0", private: true }, null, 2)}\n`);
  if (fs.existsSync(path.join(dir, ".npmrc"))) throw new Error("the throwaway project must not have an .npmrc");
  const ethersVersion = installedVersion("ethers");
  const first = install(dir, [tarballs.contracts, tarballs.client, `ethers@${ethersVersion}`], opts.cache);
  const solcVersion = installedVersion("solc");
  const second = install(dir, [`solc@${solcVersion}`], opts.cache);
  fs.mkdirSync(path.join(dir, "contracts"), { recursive: true });
  fs.writeFileSync(path.join(dir, "contracts", "FlowerClassifier.sol"), consumerSource);
  return {
    dir, tarballs, install: first, compilerInstall: second,
    run: (cmd, args, env = {}) => new Promise((resolve, reject) => {
      execFile(cmd, args, { cwd: dir, env: cleanEnv(env), encoding: "utf8", maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(" ")} failed in ${dir}: ${err.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      });
    }),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
