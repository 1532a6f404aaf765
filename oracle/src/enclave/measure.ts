/**
 * Measurement of the enclave runner: what a TEE would measure as enclave pages, computed from the
 * files of a checkout so that anyone can recompute it (`npm run measure`).
 *
 * The measured set is decided by walking the runner's imports, not by a hand-kept list:
 *   1. the runner entry `oracle/src/enclave/runner.ts`;
 *   2. every repo file it imports, transitively: each relative specifier in `import … from`,
 *      `export … from`, `import "…"`, `require("…")` and `import("…")`, resolved as Node and
 *      ts-node do (`x.ts`, `x.js`, `x.json`, `x/index.ts`); type-only imports are included (they
 *      load nothing, and a superset is safe);
 *   3. `tsconfig.json`, which ts-node reads to transpile every one of those files.
 * Models are NOT measured: they are data. Each model file carries its own spec (names, shapes,
 * types, decimals, bounds, encoding: models/spec.ts) and every result signs the file's sha256,
 * so a model registered after a runner was attested is served by that runner without a new
 * measurement; the runner reads nothing else that could change what it signs.
 * A bare specifier (`ethers`, `onnxruntime-node`, `@noble/curves/p256`) names an npm package:
 * its code is not listed file by file; its name and version go into the runtime identifiers,
 * with the Node major version and the TypeScript toolchain that transpiles the runner.
 *
 * Listing (bytes, UTF-8): for each file, sorted by path bytewise,
 *     <path relative to the repo root, "/" separators> NUL <sha256(content), 64 lowercase hex> LF
 * then for each runtime identifier, sorted by name,
 *     @runtime/<name> NUL <version> LF
 * measurement = sha256(listing); runtime = sha256(runtime lines only) (the report's `runtime`).
 * No mtime, no absolute path, no normalisation of content (CRLF checkouts measure differently).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import * as path from "node:path";
import { REPO_ROOT } from "../paths";

/** Repo-relative path of the runner entry, the root of the import walk. */
export const RUNNER_ENTRY = "oracle/src/enclave/runner.ts";
/** npm packages that turn the runner's TypeScript into the code Node runs. */
export const LOADER_PACKAGES = ["ts-node", "typescript"] as const;

export interface MeasuredFile {
  /** Path relative to the repo root, "/" separators. */
  path: string;
  /** sha256 of the file's bytes, 64 lowercase hex characters. */
  sha256: string;
}

export interface RuntimeIdentifier {
  name: string;
  version: string;
}

export interface RunnerMeasurement {
  /** sha256 of the whole listing, 0x-prefixed: the value in the attestation report. */
  measurement: string;
  /** sha256 of the runtime lines alone, 0x-prefixed: the report's `runtime` field. */
  runtime: string;
  files: MeasuredFile[];
  runtimeIds: RuntimeIdentifier[];
  /** The exact bytes hashed, for `npm run measure -- --verbose` and for auditors. */
  listing: string;
}

export interface MeasureOptions {
  /** Repo root; defaults to the checkout this module lives in. */
  repoRoot?: string;
  /** Node major version to record; defaults to the running Node's (the runner is forked from it). */
  nodeMajor?: string;
}


const IMPORT_PATTERNS = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
];

const RESOLVE_SUFFIXES = ["", ".ts", ".js", ".json", "/index.ts", "/index.js"];
const BUILTINS = new Set(builtinModules);

/** Module specifiers named in a source text (comments are stripped first). */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
  const found = new Set<string>();
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) found.add(m[1]);
  }
  return [...found];
}

function resolveRelative(fromFile: string, spec: string): string {
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const suffix of RESOLVE_SUFFIXES) {
    const candidate = base + suffix;
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`measure: cannot resolve "${spec}" imported by ${fromFile}`);
}

/** npm package name of a bare specifier, or undefined for a Node builtin. */
export function packageName(spec: string): string | undefined {
  if (spec.startsWith("node:") || BUILTINS.has(spec) || BUILTINS.has(spec.split("/")[0])) return undefined;
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Version of an installed package, read from its package.json next to the repo root. */
export function packageVersion(repoRoot: string, name: string): string {
  let dir = repoRoot;
  for (;;) {
    const file = path.join(dir, "node_modules", name, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`measure: package ${name} is not installed (run npm ci)`);
    dir = parent;
  }
}

function toRepoPath(repoRoot: string, abs: string): string {
  const rel = path.relative(repoRoot, abs);
  if (rel.startsWith("..") || path.isAbsolute(rel)) throw new Error(`measure: ${abs} lies outside the repo`);
  return rel.split(path.sep).join("/");
}

/** The repo files of the runner's code (entry and its transitive relative imports) and the packages they name. */
export function runnerCodeClosure(repoRoot: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [path.join(repoRoot, RUNNER_ENTRY)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (file.endsWith(".json")) continue;
    for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
      if (spec.startsWith(".")) pending.push(resolveRelative(file, spec));
      else {
        const pkg = packageName(spec);
        if (pkg !== undefined) packages.add(pkg);
      }
    }
  }
  return { files: [...files].map((f) => toRepoPath(repoRoot, f)), packages: [...packages] };
}

function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Measures the runner of a checkout. Deterministic: same bytes and versions give the same value. */
export function measureRunner(options: MeasureOptions = {}): RunnerMeasurement {
  const repoRoot = path.resolve(options.repoRoot ?? REPO_ROOT);
  const closure = runnerCodeClosure(repoRoot);

  const files: MeasuredFile[] = [...closure.files, "tsconfig.json"].map((p) => ({
    path: p,
    sha256: sha256Hex(readFileSync(path.join(repoRoot, p))),
  }));
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`measure: ${f.path} listed twice`);
    seen.add(f.path);
  }
  files.sort((a, b) => byteOrder(a.path, b.path));

  const runtimeIds: RuntimeIdentifier[] = [
    { name: "node", version: options.nodeMajor ?? process.versions.node.split(".")[0] },
    ...[...new Set([...closure.packages, ...LOADER_PACKAGES])].map((name) => ({
      name,
      version: packageVersion(repoRoot, name),
    })),
  ].sort((a, b) => byteOrder(a.name, b.name));

  const fileLines = files.map((f) => `${f.path}\0${f.sha256}\n`).join("");
  const runtimeLines = runtimeIds.map((r) => `@runtime/${r.name}\0${r.version}\n`).join("");
  const listing = fileLines + runtimeLines;
  return {
    measurement: "0x" + sha256Hex(listing),
    runtime: "0x" + sha256Hex(runtimeLines),
    files,
    runtimeIds,
    listing,
  };
}
