import { expect } from "chai";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { importSpecifiers, measureRunner, RUNNER_ENTRY } from "../../../oracle/src/enclave/measure";
import { REPO_ROOT } from "../../../oracle/src/paths";

const repo = REPO_ROOT;

/** A checkout-like copy of exactly the measured files (plus node_modules as a link). */
function copyMeasured(files: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), "measure-"));
  for (const f of files) {
    const from = path.join(repo, f);
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    cpSync(from, path.join(dir, f));
  }
  symlinkSync(path.join(repo, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

describe("runner measurement", () => {
  const base = measureRunner();
  const temps: string[] = [];
  after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("lists the runner entry, the protocol, the model store, codec and spec reader, and tsconfig — no model data", () => {
    const paths = base.files.map((f) => f.path);
    for (const p of [RUNNER_ENTRY, "oracle/src/models/store.ts", "oracle/src/models/codec.ts", "oracle/src/models/spec.ts", "oracle/src/protocol/eip712.ts", "tsconfig.json"]) {
      expect(paths).to.include(p);
    }
    expect(paths.filter((p) => p.startsWith("models/")), "model files or the catalogue in the measurement").to.deep.equal([]);
    expect(paths).to.not.include("oracle/src/enclave/host.ts");
    expect(paths).to.not.include("oracle/src/enclave/platform.ts");
    expect([...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))).to.deep.equal(paths);
    expect(base.runtimeIds.map((r) => r.name)).to.include.members(["node", "onnxruntime-node", "ethers", "ts-node", "typescript"]);
  });

  it("names the hot-path crypto packages (hash-wasm, tiny-secp256k1) with their installed versions", () => {
    const paths = base.files.map((f) => f.path);
    expect(paths).to.include.members(["oracle/src/protocol/bytes.ts", "oracle/src/enclave/ecdsa.ts"]);
    for (const name of ["hash-wasm", "tiny-secp256k1", "js-sha3"]) {
      const version = (JSON.parse(readFileSync(path.join(repo, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
      expect(base.runtimeIds, name).to.deep.include({ name, version });
      expect(base.listing).to.include(`@runtime/${name}\0${version}\n`);
    }
  });

  it("is sha256 of the listing, each file as path NUL sha256 LF, then the runtime lines", () => {
    const lines = base.files.map((f) => `${f.path}\0${createHash("sha256").update(readFileSync(path.join(repo, f.path))).digest("hex")}\n`);
    const runtime = base.runtimeIds.map((r) => `@runtime/${r.name}\0${r.version}\n`).join("");
    expect(base.listing).to.equal(lines.join("") + runtime);
    expect(base.measurement).to.equal("0x" + createHash("sha256").update(base.listing).digest("hex"));
    expect(base.runtime).to.equal("0x" + createHash("sha256").update(runtime).digest("hex"));
    expect(base.listing).to.not.include(repo);
  });

  it("comes out the same for two checkouts at different paths with different mtimes", () => {
    const paths = base.files.map((f) => f.path);
    const a = copyMeasured(paths);
    const b = copyMeasured(paths);
    temps.push(a, b);
    for (const f of paths) utimesSync(path.join(b, f), new Date(0), new Date(0));
    const ma = measureRunner({ repoRoot: a });
    const mb = measureRunner({ repoRoot: b });
    expect(ma.measurement).to.equal(base.measurement);
    expect(mb.measurement).to.equal(base.measurement);
  });

  it("changes when any byte of any measured file changes", () => {
    const paths = base.files.map((f) => f.path);
    const dir = copyMeasured(paths);
    temps.push(dir);
    const seen = new Set([base.measurement]);
    for (const f of paths) {
      const file = path.join(dir, f);
      const original = readFileSync(file);
      const changed = Buffer.from(original);
      const at = changed.length - 1; // the last byte: a change that keeps the imports readable
      changed[at] ^= 0x01;
      writeFileSync(file, changed);
      const m = measureRunner({ repoRoot: dir }).measurement;
      expect(seen.has(m), `flipping a bit of ${f} must change the measurement`).to.equal(false);
      seen.add(m);
      writeFileSync(file, original);
    }
    expect(measureRunner({ repoRoot: dir }).measurement).to.equal(base.measurement);
  });

  it("does not change when a model is added, changed or removed, or the catalogue is edited", () => {
    const dir = copyMeasured(base.files.map((f) => f.path));
    temps.push(dir);
    const models = path.join(dir, "models");
    cpSync(path.join(repo, "models"), models, { recursive: true });
    expect(measureRunner({ repoRoot: dir }).measurement).to.equal(base.measurement);
    writeFileSync(path.join(models, "someone-elses-model.onnx"), Buffer.from("a new model published after the runner was attested"));
    writeFileSync(path.join(models, "manifest.json"), readFileSync(path.join(models, "manifest.json"), "utf8").replace(/"decimals": 6/g, '"decimals": 2'));
    rmSync(path.join(models, "iris-classifier.onnx"));
    expect(measureRunner({ repoRoot: dir }).measurement).to.equal(base.measurement);
    expect(measureRunner().measurement).to.equal(base.measurement);
  });

  it("changes with the Node major version (a runtime identifier)", () => {
    const other = measureRunner({ nodeMajor: "99" });
    expect(other.measurement).to.not.equal(base.measurement);
    expect(other.runtime).to.not.equal(base.runtime);
  });

  it("finds imports, re-exports and requires but not those in comments", () => {
    const src = `import { a } from "./a";\nexport * from './b';\nimport type { C } from "./c";\nconst d = require("./d");\n// import x from "./nope"\n/* require("./nope2") */\nimport "./e";`;
    expect(importSpecifiers(src).sort()).to.deep.equal(["./a", "./b", "./c", "./d", "./e"]);
  });
});
