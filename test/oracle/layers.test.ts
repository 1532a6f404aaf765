import { expect } from "chai";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { importSpecifiers } from "../../oracle/src/enclave/measure";
import { REPO_ROOT } from "../../oracle/src/paths";

/**
 * The import rules of oracle/src (docs/architecture.md): no import circle; enclave/ (the signing
 * side) imports neither the auditor nor the node; chain/ does not import the node; only the CLI
 * and the command modules it registers import the composition root (main.ts). Type-only imports
 * count: a circle of types is still a circle for the reader. And the tree's shape: no file over
 * 450 lines, tests in folders that mirror it.
 */
const SRC = path.join(REPO_ROOT, "oracle", "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/** oracle/src-relative path → the oracle/src files it imports (relative specifiers only). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const targets: string[] = [];
    for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
      if (!spec.startsWith(".")) continue;
      const base = path.resolve(path.dirname(file), spec).replace(/\.js$/, "");
      const target = [`${base}.ts`, path.join(base, "index.ts")].find((c) => existsSync(c));
      if (target && target.startsWith(SRC + path.sep)) targets.push(path.relative(SRC, target));
    }
    graph.set(path.relative(SRC, file), targets);
  }
  return graph;
}

/** Strongly connected components of more than one file (or a file importing itself): the circles. */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** Imports from files under `from` into files under any of `into`, as "a → b". */
function crossings(graph: Map<string, string[]>, from: string, into: string[]): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph) {
    if (!file.startsWith(from)) continue;
    for (const t of targets) if (into.some((i) => t.startsWith(i))) out.push(`${file} → ${t}`);
  }
  return out;
}

describe("oracle/src layers (import rules)", () => {
  const graph = importGraph();

  it("reads the whole tree (the rules below are not vacuous)", () => {
    expect(graph.size).to.be.greaterThan(80);
    expect(graph.get("cli.ts")).to.include("audit/cli/index.ts");
    expect(graph.get("enclave/host.ts")).to.include("enclave/verify-reply.ts");
  });

  it("has no import circle", () => {
    expect(circles(graph)).to.deep.equal([]);
  });

  it("finds a circle when there is one (the check can fail)", () => {
    const withCircle = new Map(graph);
    withCircle.set("paths.ts", [...(graph.get("paths.ts") ?? []), "main.ts"]);
    expect(circles(withCircle).some((c) => c.includes("paths.ts") && c.includes("main.ts"))).to.equal(true);
  });

  it("enclave/ (the signing side) imports neither audit/ nor node/", () => {
    expect(crossings(graph, "enclave/", ["audit/", "node/"])).to.deep.equal([]);
  });

  it("chain/ never imports node/", () => {
    expect(crossings(graph, "chain/", ["node/"])).to.deep.equal([]);
  });

  it("only the CLI and the command modules it registers import the composition root main.ts", () => {
    const allowed = new Set(["cli.ts", "node/commands.ts", "dev/local-oracle.ts"]);
    const importers = [...graph].filter(([, targets]) => targets.includes("main.ts")).map(([file]) => file);
    expect(importers.filter((f) => !allowed.has(f))).to.deep.equal([]);
  });

  it("no file is over 450 lines (one job per file)", () => {
    const long = [...graph.keys()].map((f) => [f, readFileSync(path.join(SRC, f), "utf8").trimEnd().split("\n").length] as const).filter(([, n]) => n > 450);
    expect(long).to.deep.equal([]);
  });

  it("the tests mirror the tree: every folder of test/oracle is a folder of oracle/src", () => {
    const testDir = path.join(REPO_ROOT, "test", "oracle");
    const folders = readdirSync(testDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    expect(folders).to.include.members(["node", "chain", "queue", "api"]);
    expect(folders.filter((f) => !existsSync(path.join(SRC, f)))).to.deep.equal([]);
  });

  it("development tooling (the Hardhat launcher, the load generator) is under dev/, not in the production node/", () => {
    expect(graph.has("dev/devchain.ts")).to.equal(true);
    expect([...graph.keys()].filter((f) => f.startsWith("node/") && /devchain|local-oracle|dev-command/.test(f))).to.deep.equal([]);
    expect(crossings(graph, "node/", ["dev/"])).to.deep.equal([]);
  });
});
