/**
 * The README's first command, as a newcomer runs it: `npm run demo` on a fresh copy of the
 * checkout (tracked files only: no artifacts/, no cache/, no .oracle-data/), with the installed
 * node_modules. It must build what it needs itself, say something at once, and verify every
 * result. And CI must run it first, before anything else builds.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { REPO_ROOT } from "../../oracle/src/paths";


/** Copies the files git tracks (as they are in the working tree) to a new directory: a fresh clone of this checkout. */
function freshCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "oracle-fresh-"));
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: REPO_ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
  for (const f of files) {
    const from = path.join(REPO_ROOT, f);
    if (!fs.existsSync(from)) continue; // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(from, path.join(dir, f));
  }
  fs.symlinkSync(fs.realpathSync(path.join(REPO_ROOT, "node_modules")), path.join(dir, "node_modules"));
  return dir;
}

describe("e2e: the README's first command on a fresh clone", function () {
  this.timeout(300_000);

  it("npm run demo on a fresh clone (never compiled) builds the contracts itself, says so at once, and verifies every result", async () => {
    const dir = freshCopy();
    try {
      expect(fs.existsSync(path.join(dir, "artifacts")), "a fresh clone has no artifacts").to.equal(false);
      const t0 = Date.now();
      let firstLineMs: number | undefined;
      let out = "";
      const child = spawn("npm", ["run", "--silent", "demo"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, REDIS_URL: "" } });
      child.stdout!.on("data", (d) => { firstLineMs ??= Date.now() - t0; out += d; });
      child.stderr!.on("data", (d) => { out += d; });
      const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
      const tail = out.split("\n").slice(-15).join("\n");
      expect(code, `demo exit code; its output ended with:\n${tail}`).to.equal(0);
      expect(out.split("\n")[0]).to.match(/^\[ +0\.\ds\] npm run demo: building the contracts \(hardhat compile/);
      expect(out).to.match(/contracts built; loading the demo/);
      expect(out).to.match(/(\d+)\/\1 results verified/);
      console.log(`      first line after ${firstLineMs} ms (npm included); demo done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(firstLineMs, "ms until the demo's first line").to.be.below(3000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("CI (.ci/run) runs npm run demo right after npm install, before anything compiles or tests", () => {
    const steps = fs.readFileSync(path.join(REPO_ROOT, ".ci", "run"), "utf8").split("\n").filter((l) => !l.trim().startsWith("#"));
    const at = (re: RegExp) => steps.findIndex((l) => re.test(l));
    const demo = at(/^\s*(REDIS_URL= )?npm run demo\b/);
    expect(demo, "npm run demo in .ci/run").to.be.greaterThan(at(/npm install/));
    for (const later of [/npm test/, /hardhat (compile|test)/, /npm run (build|deploy|gas)/]) {
      const i = at(later);
      if (i >= 0) expect(i, `${later} runs after the demo`).to.be.greaterThan(demo);
    }
  });
});
