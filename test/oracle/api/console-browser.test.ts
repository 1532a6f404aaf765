/**
 * The console as an operator and an auditor meet it: the demo's flow (chain, contracts, node,
 * requests of every model, one the node declines, a stream of small ones), then Debian's Chromium
 * (playwright-core, headless) opens the console and a request's audit page. Every page is watched
 * for console errors and for requests to any other host (which are also blocked).
 *
 * Also here, because they need a running node: the Grafana dashboard and the Prometheus alert
 * rules name only metrics the node exports, and (with promtool) the rules parse and fire as meant.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { Contract, NonceManager } from "ethers";
import type { Page } from "playwright-core";
import { startConsole } from "../../../oracle/src/api/console";
import type { EnclaveHost } from "../../../oracle/src/enclave/host";
import { startApi, type ApiServer } from "../../../oracle/src/api/server";
import { createMetrics } from "../../../oracle/src/metrics";
import { loadManifest } from "../../../oracle/src/models/manifest";
import { devAccount } from "../../../oracle/src/dev/devchain";
import { MODEL_REGISTRY_ABI } from "../../../oracle/src/protocol/abi";
import { launchChromium, type Browser } from "../../../scripts/lib/browser";
import { startConsoleDemo, type ConsoleDemo } from "../../../scripts/lib/console-demo";
import { REPO_ROOT } from "../../../oracle/src/paths";

/** The few DOM calls the page functions make (the tests compile without the DOM library). */
interface Dom {
  document: {
    querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null }>;
    documentElement: { scrollHeight: number };
  };
}

const DASHBOARD = path.join(REPO_ROOT, "docs", "grafana", "oracle-dashboard.json");
const ALERTS = path.join(REPO_ROOT, "docs", "prometheus", "alerts.yml");
const ALERT_TESTS = path.join(REPO_ROOT, "docs", "prometheus", "alerts.test.yml");

function promtool(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const p = path.join(dir, "promtool");
    if (dir && fs.existsSync(p)) return p;
  }
  return undefined;
}

/** Watches a page: console errors, uncaught errors, and every request not to `origin` (blocked). */
async function watch(page: Page, origin: string): Promise<{ errors: string[]; foreign: string[] }> {
  const seen = { errors: [] as string[], foreign: [] as string[] };
  page.on("console", (m) => { if (m.type() === "error") seen.errors.push(m.text()); });
  page.on("pageerror", (e) => seen.errors.push(`uncaught: ${e.message}`));
  page.on("dialog", (d) => { seen.errors.push(`dialog: ${d.message()}`); void d.dismiss(); });
  page.on("request", (r) => { if (!r.url().startsWith(`${origin}/`) && !r.url().startsWith("data:")) seen.foreign.push(r.url()); });
  await page.route("**/*", (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort("blockedbyclient")));
  return seen;
}

describe("console: the demo's flow, in a real browser, with dashboards and alerts", function () {
  this.timeout(300_000);
  let demo: ConsoleDemo;
  let served: bigint[];

  before(async () => {
    demo = await startConsoleDemo();
    await demo.load(24, 8);
    served = [...demo.ids.iris, demo.ids.risk, ...demo.ids.penguins];
    await demo.waitFulfilled(served);
    await new Promise((r) => setTimeout(r, 2500)); // the sampler's next ticks see the fulfilments
  });

  after(async () => {
    await demo?.stop();
  });

  describe("dashboards and alerts", () => {
    let metricsText: string;
    before(async () => {
      metricsText = await (await fetch(`${demo.url}/metrics`)).text();
    });

    const exported = () => new Set([...metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]));
    const named = (text: string) => [...new Set([...text.matchAll(/\boracle_[a-z0-9_]+/g)].map((m) => m[0]))];
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, "");

    it("names in the Grafana dashboard and the alert rules only metrics the running node exports", () => {
      const have = exported();
      const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, "utf8"));
      const exprs: string[] = JSON.stringify(dashboard).match(/"expr":"(?:[^"\\]|\\.)*"/g) ?? [];
      expect(exprs.length).to.be.greaterThan(10);
      const names = [...named(exprs.join("\n")), ...named(fs.readFileSync(ALERTS, "utf8"))];
      expect(names.length).to.be.greaterThan(10);
      const missing = names.filter((n) => !have.has(n) && !(have.has(base(n)) && /histogram/.test(metricsText.match(new RegExp(`^# TYPE ${base(n)} (\\S+)$`, "m"))?.[1] ?? "")));
      expect(missing, "metrics named but not exported").to.deep.equal([]);
    });

    it("exports the values the alerts read: pending requests, signer expiry, key balances, fees", () => {
      const value = (re: RegExp) => Number(metricsText.match(re)?.[1]);
      expect(metricsText).to.match(/^oracle_requests_pending \d+$/m);
      expect(value(/^oracle_signer_expiry_timestamp_seconds\{runner="0",signer="0x[0-9a-fA-F]{40}"\} (\d+)$/m)).to.be.greaterThan(Date.now() / 1000);
      expect(value(/^oracle_sender_balance_ether\{address="0x[0-9a-fA-F]{40}"\} ([\d.]+)$/m)).to.be.greaterThan(1);
      expect(metricsText).to.match(/^oracle_operator_fees_ether\{operator="0x[0-9a-fA-F]{40}"\} [\d.e-]+$/m);
      expect(metricsText).to.match(/^oracle_requests_fulfilled_total\{outcome="fulfilled"\} [1-9]\d*$/m);
      expect(metricsText).to.match(/^oracle_requests_declined_total\{reason="callback-gas-too-high"\} 1$/m);
    });

    it("has alert rules for each trouble the operator must hear of, and they parse and fire as their tests say (promtool)", () => {
      const rules = fs.readFileSync(ALERTS, "utf8");
      const alerts = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]);
      expect(alerts).to.include.members(["OracleNoProgress", "OracleAttestationExpiringSoon", "OracleSendingKeyLowFunds", "OracleRunnersRestarting", "OracleSignerRefreshRefused", "OracleRequestsDeclined", "OracleSendingKeyShared"]);
      for (const block of rules.split(/^\s+- alert: /m).slice(1)) {
        expect(block, block.split("\n")[0]).to.match(/\n\s+expr: /).and.match(/\n\s+severity: (warning|critical)\n/).and.match(/\n\s+summary: /);
      }
      const tool = promtool();
      if (!tool) {
        console.log("      (promtool not installed: Debian's `prometheus` package has it; the rules' syntax was not checked)");
        return;
      }
      execFileSync(tool, ["check", "rules", ALERTS], { stdio: "pipe" });
      execFileSync(tool, ["test", "rules", ALERT_TESTS], { stdio: "pipe", cwd: path.dirname(ALERT_TESTS) });
      // Every dashboard query parses too: each becomes a recording rule promtool checks.
      const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, "utf8"));
      const queries: string[] = [];
      const walk = (v: unknown) => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) { if (k === "expr" && typeof x === "string") queries.push(x); else walk(x); }
      };
      walk(dashboard);
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dash-")), "queries.yml");
      fs.writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${queries.map((q, i) =>
        `      - record: dashboard:query${i}\n        expr: ${JSON.stringify(q.replace(/\$instance/g, ".*"))}\n`).join("")}`);
      execFileSync(tool, ["check", "rules", file], { stdio: "pipe" });
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    });
  });

  describe("its HTTP routes", () => {
    const get = async (p: string, init?: RequestInit) => {
      const r = await fetch(demo.url + p, { redirect: "manual", ...init });
      return { status: r.status, headers: r.headers, text: await r.text() };
    };

    it("reports a consumer's callback from the fulfilment log, and none for a requester without one", async () => {
      const one = async (id: bigint) => JSON.parse((await get(`/console/api/requests?id=${id}`)).text).requests[0];
      const risk = await one(demo.ids.risk); // the lending pool's request: a contract with a callback
      expect(risk.callback).to.match(/^delivered \(\d+ gas\)$/);
      const iris = await one(demo.ids.iris[0]); // the iris consumer's request
      expect(iris.callback).to.match(/^delivered \(\d+ gas\)$/);
      const penguin = await one(demo.ids.penguins[0]); // an account's request with no callback asked for
      expect(penguin.resultStatus).to.equal("Ok");
      expect(penguin.callback).to.equal(undefined);
    });

    it("answers bad ids and limits with 400 and a reason, unknown requests and assets with 404, writes with 405", async () => {
      for (const [p, status, words] of [
        ["/console/api/requests?id=abc", 400, "request id must be a decimal integer"],
        ["/console/api/requests?id=0", 400, "between 1 and 2^256-1"],
        ["/console/api/requests?limit=0", 400, "limit must be a whole number from 1 to 200"],
        ["/console/api/requests?limit=5000", 400, "limit must be a whole number from 1 to 200"],
        ["/console/api/requests?id=999999", 404, "request 999999 is not known to this node or the chain"],
        ["/console/assets/..%2Fstate.ts", 404, "no such console asset"],
        ["/console/assets/package.json", 404, "no such console asset"],
      ] as const) {
        const r = await get(p);
        expect(r.status, p).to.equal(status);
        expect(JSON.parse(r.text).error, p).to.include(words);
      }
      const audit = await get("/console/audit/999999");
      expect(audit.status).to.equal(404);
      expect(audit.text).to.include("Request 999999 cannot be audited").and.include("unknown request id 999999");
      expect((await get("/console/api/overview", { method: "POST" })).status).to.equal(405);
    });

    it("serves one request by id with its on-chain state and decoded output, and limits the list", async () => {
      const one = JSON.parse((await get(`/console/api/requests?id=${demo.ids.iris[2]}`)).text).requests;
      expect(one).to.have.length(1);
      expect(one[0]).to.include({ requestId: String(demo.ids.iris[2]), model: "iris-classifier", onChainState: "Fulfilled", resultStatus: "Ok" });
      expect(one[0].output.top).to.equal("virginica");
      expect(JSON.parse((await get("/console/api/requests?limit=3")).text).requests).to.have.length(3);
    });

    it("refuses audits beyond eight waiting with 503, instead of queueing every one a visitor asks for", async () => {
      const ids = Array.from({ length: 14 }, (_, i) => 8 + i); // the load's requests, not audited yet
      const statuses = await Promise.all(ids.map(async (id) => (await get(`/console/audit/${id}`)).status));
      expect(statuses.filter((s) => s === 503).length).to.be.within(1, 6);
      expect(statuses.filter((s) => s === 200).length).to.be.at.least(8);
    });

    it("sends its security headers: scripts and data from this node only, no framing, no sniffing", async () => {
      for (const p of ["/console/", "/console/assets/console.js", "/console/api/live"]) {
        const h = (await get(p)).headers;
        expect(h.get("content-security-policy"), p).to.match(/^default-src 'none'; script-src 'self'; style-src 'self';/);
        expect(h.get("x-content-type-options"), p).to.equal("nosniff");
        expect(h.get("access-control-allow-origin"), p).to.equal(null);
      }
      const audit = (await get(`/console/audit/${demo.ids.iris[0]}`)).headers.get("content-security-policy")!;
      expect(audit).to.match(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+' 'self';/);
      expect(audit).to.not.include("script-src");
      expect((await get("/")).headers.get("location")).to.equal("/console/");
    });
  });

  describe("in Chromium", () => {
    let browser: Browser;
    before(async () => {
      browser = await launchChromium(); // no Chromium: this fails, saying how to install it
    });
    after(async () => {
      await browser?.close();
    });

    it("shows the fulfilled requests with their decoded values, live charts with data, and the declined request with its reason", async () => {
      const page = await browser.context.newPage();
      const seen = await watch(page, demo.url);
      const response = await page.goto(`${demo.url}/`);
      expect(page.url()).to.equal(`${demo.url}/console/`);
      const csp = response!.headers()["content-security-policy"];
      expect(csp).to.include("script-src 'self'").and.include("default-src 'none'").and.include("connect-src 'self'");

      const iris = demo.ids.iris[0].toString();
      const row = page.locator(`#requests tr[data-request="${iris}"][data-status="fulfilled"]`);
      await row.waitFor();
      const irisText = await row.innerText();
      expect(irisText).to.include("iris-classifier").and.include("sepal length (cm) 5.1").and.include("→ setosa");
      expect(await page.locator('#requests tr[data-status="fulfilled"]').count()).to.be.greaterThan(served.length);

      const declined = page.locator(`#requests tr[data-request="${demo.ids.declined}"]`);
      expect(await declined.getAttribute("data-status")).to.equal("declined");
      expect(await declined.innerText()).to.include("callback gas limit 200000 exceeds the maximum served, 150000");

      await page.waitForSelector('#chart-fulfilled[data-points]:not([data-points="0"])');
      expect(Number(await page.getAttribute("#chart-fulfilled", "data-points"))).to.be.greaterThan(0);
      expect(Number(await page.getAttribute("#chart-latency", "data-points"))).to.be.greaterThan(0);
      expect(await page.locator("#chart-fulfilled canvas").count()).to.equal(1);

      // Enclaves, keys, fees, models
      await page.locator("#enclaves tbody tr").first().waitFor();
      const enclave = await page.locator("#enclaves tbody tr").first().innerText();
      expect(enclave).to.include("DevSimulated").and.include("Active").and.match(/\d+h \d+m \d+s/);
      expect(await page.locator("#keys tbody tr").count()).to.equal(2);
      expect(await page.locator("#fees").innerText()).to.match(/Fees to withdraw .*: [\d.]+ ETH/);
      expect(await page.locator("#models").innerText()).to.include("iris-classifier").and.include("setosa, versicolor, virginica").and.include("cached");
      expect(await page.locator("#sim").isVisible()).to.equal(true);

      // Search by id
      await page.fill("#search-id", String(demo.ids.risk));
      await page.click("#search button[type=submit]");
      await page.waitForFunction((id) => {
        const rows = (globalThis as unknown as Dom).document.querySelectorAll("#requests tbody tr");
        return rows.length === 1 && rows[0].getAttribute("data-request") === id;
      }, String(demo.ids.risk));
      expect(await page.locator("#requests tbody tr").innerText()).to.include("volatility-risk");

      await page.waitForTimeout(2500); // a few polls more: errors that show up later count too
      expect(seen.errors, "console errors").to.deep.equal([]);
      expect(seen.foreign, "requests to other hosts").to.deep.equal([]);
    });

    it("opens a request's audit page from the console and reads VERIFIED, with SIMULATION and the chain of trust", async () => {
      const page = await browser.context.newPage();
      const seen = await watch(page, demo.url);
      await page.goto(`${demo.url}/console/`);
      const iris = demo.ids.iris[1].toString();
      await page.locator(`#requests tr[data-request="${iris}"] a.audit-link`).click();
      await page.waitForURL(`${demo.url}/console/audit/${iris}`);
      const banner = await page.locator("header.verdict").innerText();
      expect(banner).to.include("VERIFIED").and.include("SIMULATION").and.include(`Result of request ${iris}`);
      const chain = await page.locator(".chain .title").allInnerTexts();
      expect(chain).to.deep.equal([`Request #${iris}`, "Fulfilment", "Enclave signer", "Registration", "Attestation report (dev, simulation)",
        "Runner measurement", "Model iris-classifier", "Output", "Callback"]);
      expect(await page.locator(".values").innerText()).to.include("petal length (cm)").and.include("versicolor");
      const height = await page.evaluate(() => (globalThis as unknown as Dom).document.documentElement.scrollHeight);
      expect(height, "page height at 1400 px wide").to.be.lessThan(2400);
      expect(await page.locator("script").count()).to.equal(0);
      expect(seen.errors, "console errors").to.deep.equal([]);
      expect(seen.foreign, "requests to other hosts").to.deep.equal([]);
    });

    describe("when a runner dies", () => {
      it("shows its restart and the new signer, registered, with its expiry countdown", async () => {
        const page = await browser.context.newPage();
        const seen = await watch(page, demo.url);
        await page.goto(`${demo.url}/console/`);
        const row = page.locator("#enclaves tbody tr").first();
        await row.waitFor();
        const before = await row.locator("td").nth(1).locator("code").getAttribute("title");
        const host = demo.node.runners.hosts[0] as EnclaveHost;
        process.kill(host.runnerPid!, "SIGKILL");
        await page.waitForFunction((old) => {
          const cells = (globalThis as unknown as Dom).document.querySelectorAll("#enclaves tbody tr:first-child td") as unknown as ArrayLike<{ textContent: string; querySelector(s: string): { getAttribute(n: string): string | null } | null }>;
          const signer = cells[1]?.querySelector("code")?.getAttribute("title");
          return cells[7]?.textContent === "1" && !!signer && signer !== old && cells[5]?.textContent === "Active";
        }, before, { timeout: 60_000 });
        expect(await row.innerText()).to.match(/\d+h \d+m \d+s/);
        expect(await (await fetch(`${demo.url}/metrics`)).text()).to.match(/^oracle_runner_restarts_total 1$/m);
        expect(seen.errors).to.deep.equal([]);
        expect(seen.foreign).to.deep.equal([]);
      });
    });

    describe("a model whose labels, features and URI carry markup and script", () => {
      let evil: ApiServer;
      let stopEvil: () => void;
      let modelsDir: string;
      const MARKUP = {
        labels: ['<img src=x onerror="window.__pwned=1">', "<script>window.__pwned=2</script>", '"><svg onload=window.__pwned=3>'],
        features: ["<b>bold</b>", "</td><script>window.__pwned=4</script>", "&amp; &lt;", "<iframe src=//example.com/>"],
        uri: 'javascript:window.__pwned=5//"><img src=x onerror=window.__pwned=6>',
      };

      before(async () => {
        // The manifest the console reads, with the iris model's names replaced by markup.
        modelsDir = fs.mkdtempSync(path.join(os.tmpdir(), "evil-models-"));
        const manifest = loadManifest(path.join(REPO_ROOT, "models"));
        const iris = manifest.models.find((m) => m.name === "iris-classifier")!;
        iris.output.labels = MARKUP.labels;
        iris.input.features = MARKUP.features;
        iris.description = "<script>window.__pwned=7</script>";
        fs.copyFileSync(path.join(REPO_ROOT, "models", iris.file), path.join(modelsDir, iris.file));
        fs.writeFileSync(path.join(modelsDir, "manifest.json"), JSON.stringify({ ...manifest, models: [iris] }));
        // On-chain, anyone may register a model: this one has the iris hash and a URI with markup.
        const d = demo.deployed.deployment;
        const registry = new Contract(d.contracts.ModelRegistry, MODEL_REGISTRY_ABI, new NonceManager(devAccount(13).connect(demo.provider)));
        const tx = await registry.registerModel({
          modelHash: iris.sha256, inputLength: 4, outputLength: 3, decimals: iris.decimals, fee: 1000n, uri: MARKUP.uri,
          inputEncoding: 0, determinism: 0, publisherShareBps: 0,
        }, []);
        const receipt = await tx.wait();
        const modelId = Number(BigInt(receipt!.logs[0].topics[1]));
        const n = demo.node;
        const parts = startConsole({
          provider: demo.provider, deployment: { ...d, models: { "iris-classifier": modelId } }, tracker: n.tracker, metrics: createMetrics({ defaultMetrics: false }),
          runners: n.runners, senders: n.submitter.addresses, manifest: loadManifest(modelsDir), modelsDir, queue: n.queue, queueKind: n.queue.kind,
          sourceDir: REPO_ROOT, log: pino({ level: "silent" }),
        });
        stopEvil = parts.stop;
        evil = await startApi({
          registry: createMetrics({ defaultMetrics: false }).registry, log: pino({ level: "silent" }), checks: [], attestation: async () => ({}),
          request: async () => undefined, models: () => ({}), console: parts,
        }, 0, "127.0.0.1");
      });

      after(async () => {
        stopEvil?.();
        await evil?.close();
        fs.rmSync(modelsDir, { recursive: true, force: true });
      });

      const noInjection = async (page: Page) => {
        expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).to.equal(undefined);
        expect(await page.locator("img, svg, iframe, object, embed").count(), "elements made from model text").to.equal(0);
        expect(await page.locator("b", { hasText: /^bold$/ }).count(), "a <b> made from a feature name").to.equal(0);
      };

      it("shows them as text on the console: no element is made from them and no script runs", async () => {
        const origin = `http://127.0.0.1:${evil.port}`;
        const page = await browser.context.newPage();
        const seen = await watch(page, origin);
        await page.goto(`${origin}/console/`);
        const iris = demo.ids.iris[0].toString();
        await page.locator(`#requests tr[data-request="${iris}"][data-status="fulfilled"]`).waitFor();
        await page.locator("#models tbody tr").first().waitFor();
        const models = await page.locator("#models").innerText();
        for (const label of MARKUP.labels) expect(models).to.include(label);
        expect(models).to.include(MARKUP.uri);
        const row = await page.locator(`#requests tr[data-request="${iris}"]`).innerText();
        expect(row).to.include(MARKUP.features[0]).and.include(MARKUP.features[1]).and.include("&amp; &lt;").and.include(MARKUP.labels[0]);
        expect(await page.locator("script").count()).to.equal(2); // uPlot and the console's own
        await noInjection(page);
        expect(seen.errors).to.deep.equal([]);
        expect(seen.foreign).to.deep.equal([]);
      });

      it("escapes them on the audit page too", async () => {
        const origin = `http://127.0.0.1:${evil.port}`;
        const page = await browser.context.newPage();
        const seen = await watch(page, origin);
        await page.goto(`${origin}/console/audit/${demo.ids.iris[0]}`);
        const values = await page.locator(".values").innerText();
        for (const label of MARKUP.labels) expect(values).to.include(label);
        expect(values).to.include(MARKUP.features[1]);
        expect(await page.locator("script").count()).to.equal(0);
        await noInjection(page);
        expect(seen.errors).to.deep.equal([]);
        expect(seen.foreign).to.deep.equal([]);
      });
    });
  });
});
