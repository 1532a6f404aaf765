/**
 * What an operator and a newcomer see from the outside: the node's shutdown on signals (graceful
 * on the first, immediate on the second, nothing left running either way, whether started as
 * `bin/oracle start`, `npm run oracle -- start` or `npx oracle start`), a test request sent with
 * `oracle request`, and the one-command demo (exit 0 only with every result verified, on the
 * in-process queue and on BullMQ, and no process left behind).
 */
import { spawn, execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import net from "node:net";
import { REPO_ROOT } from "../../oracle/src/paths";
import { devAccount } from "../../oracle/src/dev/devchain";
import { REDIS_URL, rpc, setupEnv, startNodeProcess, type Env } from "./lib";

const run = promisify(execFile);

/** Pids still alive in process group `pgid` (the node or demo and everything it started). */
function groupMembers(pgid: number): number[] {
  try {
    return execFileSync("pgrep", ["-g", String(pgid)], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** Whether something still accepts connections at `url`'s host and port. */
function listening(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(u.port), u.hostname);
    sock.once("connect", () => { sock.destroy(); resolve(true); });
    sock.once("error", () => resolve(false));
  });
}

async function waitGroupGone(pgid: number, ms = 10_000): Promise<number[]> {
  const end = Date.now() + ms;
  let left = groupMembers(pgid);
  while (left.length && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    left = groupMembers(pgid);
  }
  return left;
}

describe("e2e: shutdown and the one-command demo", function () {
  this.timeout(180_000);
  let env: Env | undefined;

  afterEach(async () => {
    await env?.cleanup();
    env = undefined;
  });

  it("SIGTERM shuts the node down gracefully (exit 0) and leaves no runner process behind", async () => {
    env = await setupEnv("sigterm");
    const node = await startNodeProcess(env);
    const pgid = node.child.pid!;
    expect(groupMembers(pgid).length, "node and its runner are running").to.be.at.least(2);
    expect(await node.terminate(), "exit code after SIGTERM").to.equal(0);
    expect(await waitGroupGone(pgid), "processes left in the node's group").to.deep.equal([]);
  });

  for (const how of ["npm run", "npx"] as const) {
    it(`SIGTERM to \`${how === "npm run" ? "npm run oracle -- start" : "npx oracle start"}\` (to npm alone) stops the node: no orphan left running`, async () => {
      env = await setupEnv(how === "npm run" ? "npmrun" : "npx");
      const node = await startNodeProcess(env, {}, undefined, how);
      const pgid = node.child.pid!;
      expect(groupMembers(pgid).length, "npm, the node and its runner are running").to.be.at.least(3);
      process.kill(node.child.pid!, "SIGTERM"); // npm's pid only, as a terminal's Ctrl-C or a service manager would signal it
      const left = await waitGroupGone(pgid, 20_000);
      await node.kill();
      expect(left, "processes left running after SIGTERM").to.deep.equal([]);
      expect(fs.readFileSync(path.join(env.dir, "node.log"), "utf8")).to.include("oracle node stopped");
    });
  }

  it("a second signal during the drain exits at once with 130", async () => {
    env = await setupEnv("sigterm2");
    const node = await startNodeProcess(env);
    const exited = new Promise<number | null>((resolve) => node.child.once("exit", (code) => resolve(code)));
    // Signals sent back to back coalesce into one: send the second once the node logs that the
    // graceful shutdown has begun.
    const logFile = path.join(env.dir, "node.log");
    process.kill(node.child.pid!, "SIGTERM");
    const started = Date.now();
    while (!fs.readFileSync(logFile, "utf8").includes("shutting down") && Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 5));
    }
    process.kill(node.child.pid!, "SIGTERM");
    expect(await exited, "exit code after two signals").to.equal(130);
    // The runner notices its host is gone (IPC channel closed) and exits too.
    const left = await waitGroupGone(node.child.pid!);
    await node.kill();
    expect(left, "processes left in the node's group after a forced exit").to.deep.equal([]);
  });

  it("oracle request --model … --input … sends a test request to a running node, prints its id and waits for the result", async () => {
    env = await setupEnv("request");
    await rpc(env.chain.url, "evm_setIntervalMining", [300]);
    const node = await startNodeProcess(env);
    try {
      const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "request", "--model", "penguins-species-int", "--input", "391,187,181,3750",
        "--deployment", path.join(env.dir, "deployment.json"), "--timeout", "60"], {
        cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", RPC_URL: env.chain.url, ORACLE_REQUESTER_KEY: devAccount(15).privateKey },
      });
      const lines = stdout.trim().split("\n");
      expect(lines[0]).to.match(/^request (\d+) sent: model penguins-species-int \(id \d+\), tx 0x[0-9a-f]{64}/);
      expect(lines.at(-2)).to.match(/^request \d+ fulfilled in tx 0x[0-9a-f]{64}: Adelie \d+, Chinstrap \d+, Gentoo \d+$/);
      expect(lines.at(-1)).to.match(/^gas prepayment (\d+) wei: (\d+) reimbursed the operator, (\d+) credited back to 0x[0-9a-fA-F]{40}$/);
      const [prepaid, reimbursed, refunded] = lines.at(-1)!.match(/(\d+) wei: (\d+) .*, (\d+) credited/)!.slice(1).map((v) => BigInt(v));
      expect(reimbursed + refunded).to.equal(prepaid);
      expect(reimbursed).to.be.greaterThan(0n);
      const bad = await run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), "request", "--model", "no-such-model", "--input", "1",
        "--deployment", path.join(env.dir, "deployment.json")], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", RPC_URL: env.chain.url, ORACLE_REQUESTER_KEY: devAccount(15).privateKey } })
        .then(() => ({ code: 0, stderr: "" }), (e: { code: number; stderr: string }) => e);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.include('no model "no-such-model" in the deployment');
    } finally {
      await node.kill();
    }
  });

  it("npm run demo -- --keep stays up and prints the README's next commands, which work as printed against its chain", async () => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "demo.js"), "--keep"], {
      cwd: REPO_ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, REDIS_URL: "" },
    });
    let out = "";
    child.stdout!.on("data", (d) => { out += d; });
    child.stderr!.on("data", (d) => { out += d; });
    try {
      for (let i = 0; i < 1200 && !/--request \d+\n/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      const command = (name: string) => {
        const line = out.split("\n").find((l) => l.includes(name));
        expect(line, `the demo prints a ${name} command; its output:\n${out.slice(-1500)}`).to.be.a("string");
        const words = line!.trim().split(/\s+/);
        const env: Record<string, string> = {};
        while (/^[A-Z_]+=/.test(words[0])) { const [k, ...v] = words.shift()!.split("="); env[k] = v.join("="); }
        return { env, args: words };
      };
      const request = command("npx oracle request");
      expect(request.args.slice(0, 3)).to.deep.equal(["npx", "oracle", "request"]);
      const sent = await run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), ...request.args.slice(2)], {
        cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", ...request.env },
      });
      expect(sent.stdout).to.match(/request \d+ fulfilled in tx 0x[0-9a-f]{64}: setosa/);
      const audit = command("audit verify-result");
      const verified = await run(process.execPath, [path.join(REPO_ROOT, "bin", "oracle"), ...audit.args.slice(audit.args.indexOf("audit"))], {
        cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", ...audit.env },
      });
      expect(verified.stdout).to.include("VERIFIED, every link holds");
    } finally {
      process.kill(-child.pid!, "SIGTERM");
      expect(await waitGroupGone(child.pid!), "processes the demo left running after SIGTERM").to.deep.equal([]);
    }
  });

  for (const queue of ["in-process", "BullMQ"] as const) {
    it(`npm run demo verifies every result and exits 0, leaving nothing running (${queue} queue)`, async () => {
      const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "demo.js")], { // what `npm run demo` runs
        cwd: REPO_ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...(queue === "BullMQ" ? { REDIS_URL } : { REDIS_URL: "" }) },
      });
      let out = "";
      child.stdout!.on("data", (d) => { out += d; });
      child.stderr!.on("data", (d) => { out += d; });
      const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
      const tail = out.split("\n").slice(-15).join("\n");
      expect(code, `demo exit code; its output ended with:\n${tail}`).to.equal(0);
      expect(out).to.match(/(\d+)\/\1 results verified/);
      expect(out).to.not.match(/✘/);
      expect(out).to.include(queue === "BullMQ" ? "BullMQ" : "in-process");
      expect(await waitGroupGone(child.pid!), "processes the demo left running").to.deep.equal([]);
      // The chain runs in its own process group: it must be down too.
      const chainUrl = /chain up at (http:\/\/[0-9.:]+)/.exec(out)?.[1];
      expect(chainUrl, "the demo names its chain").to.be.a("string");
      expect(await listening(chainUrl!), `the demo's chain at ${chainUrl} still answers`).to.equal(false);
    });
  }
});
