import { expect } from "chai";
import pino from "pino";
import { CheckList, renderHtmlReport } from "../../../oracle/src/audit";
import { displayValue } from "../../../oracle/src/audit/html-report";
import { startApi } from "../../../oracle/src/api/server";
import { bucketQuantile, LiveSampler } from "../../../oracle/src/api/console/sampler";
import { createMetrics } from "../../../oracle/src/metrics";
import { describeTensor, fixedToDecimal } from "../../../oracle/src/models/view";
import { encodeTensor } from "../../../oracle/src/protocol/eip712";
import type { TrustLink } from "../../../oracle/src/audit/types";
import { ChromiumMissingError, launchChromium } from "../../../scripts/lib/browser";

describe("console: values, live series and the audit page's layout", () => {
  describe("values with the model's decimals and names", () => {
    it("turns fixed point into exact decimals", () => {
      expect(fixedToDecimal(5_100_000n, 6)).to.equal("5.1");
      expect(fixedToDecimal(-1n, 6)).to.equal("-0.000001");
      expect(fixedToDecimal(3750n, 0)).to.equal("3750");
      expect(fixedToDecimal(10n ** 40n + 1n, 18)).to.equal("10000000000000000000000.000000000000000001");
    });

    it("names an output's values by label and picks the top one; an input's by feature", () => {
      const out = describeTensor(encodeTensor([1n, 990_000n, 9_000n]), 6, { labels: ["setosa", "versicolor", "virginica"] })!;
      expect(out.values).to.deep.equal([{ name: "setosa", value: "0.000001" }, { name: "versicolor", value: "0.99" }, { name: "virginica", value: "0.009" }]);
      expect(out.top).to.equal("versicolor");
      const input = describeTensor(encodeTensor([5_100_000n, 3_500_000n]), 6, { features: ["sepal length (cm)", "sepal width (cm)"] })!;
      expect(input.values[0]).to.deep.equal({ name: "sepal length (cm)", value: "5.1" });
      expect(input.top).to.equal(undefined);
    });

    it("falls back to positions when the names do not fit, and to nothing for bytes that are not a tensor", () => {
      expect(describeTensor(encodeTensor([1n, 2n]), 0, { labels: ["only one"] })!.values.map((v) => v.name)).to.deep.equal(["[0]", "[1]"]);
      expect(describeTensor("0x", 0)).to.equal(undefined);
      expect(describeTensor("0x1234", 0)).to.equal(undefined);
    });
  });

  describe("live series", () => {
    it("computes quantiles from histogram bucket deltas as PromQL's histogram_quantile does", () => {
      const before = [{ le: 0.5, count: 10 }, { le: 1, count: 10 }, { le: 2, count: 10 }, { le: Infinity, count: 10 }];
      const after = [{ le: 0.5, count: 10 }, { le: 1, count: 20 }, { le: 2, count: 30 }, { le: Infinity, count: 30 }];
      // 20 new observations: 10 in (0.5, 1], 10 in (1, 2]. The median is the top of the first bucket.
      expect(bucketQuantile(0.5, before, after)).to.equal(1);
      expect(bucketQuantile(0.75, before, after)).to.equal(1.5);
      expect(bucketQuantile(0.5, after, after)).to.equal(undefined);
      // Beyond the largest bound: the bound.
      expect(bucketQuantile(0.99, [], [{ le: 1, count: 0 }, { le: Infinity, count: 4 }])).to.equal(1);
    });

    it("samples the node's own counters into fulfilled/s, latency, batch size and gas per result", async () => {
      const metrics = createMetrics({ defaultMetrics: false });
      let depth = 0;
      const sampler = new LiveSampler({ metrics, queueDepth: async () => depth, pending: () => 7 }, { window: 5 });
      await sampler.sample();
      metrics.requestsFulfilled.inc({ outcome: "fulfilled" }, 8);
      metrics.requestsFulfilled.inc({ outcome: "already-settled" }, 100);
      for (let i = 0; i < 8; i++) metrics.latency.observe(0.3);
      metrics.batchSize.observe(4);
      metrics.batchSize.observe(4);
      metrics.gasSpent.inc(8 * 40_000);
      depth = 3;
      await new Promise((r) => setTimeout(r, 1100));
      await sampler.sample();
      const s = sampler.snapshot();
      expect(s.t).to.have.length(2);
      expect(s.fulfilledPerSec[0]).to.equal(null);
      expect(s.fulfilledPerSec[1]).to.be.within(3.9, 8); // 8 in one or two whole seconds; settled-elsewhere not counted
      expect(s.latencyP50[1]).to.be.within(0.25, 0.5);
      expect(s.batchSize[1]).to.equal(4);
      expect(s.gasPerResult[1]).to.equal(40_000);
      expect(s.queueDepth).to.deep.equal([0, 3]);
      expect((await metrics.requestsPending.get()).values[0].value).to.equal(7);
    });
  });

  describe("the audit page", () => {
    const T = 1_790_000_000;
    const link = (title: string, ok: boolean | null = true): TrustLink => ({ role: "evidence", title, subtitle: "s", ok, check: "x.y", edge: "then" });

    function report(links: number) {
      const checks = new CheckList();
      checks.pass("x.y", "fine", { expiresAt: T + 3600, issuedAt: String(T), timestamp: T * 1000, block: 1_700_000_000 });
      return checks.finish({ format: "dev", at: T, facts: { deadline: T, nested: { expiresAt: T } }, chain: Array.from({ length: links }, (_, i) => link(`L${i}`)) });
    }

    it("says SIMULATION in the banner of a development-platform result", () => {
      const html = renderHtmlReport(report(3));
      expect(html).to.match(/<header class="verdict valid">[\s\S]*<span class="sim">SIMULATION<\/span>[\s\S]*<\/header>/);
      expect(renderHtmlReport(report(3), { simulation: false })).to.not.include('class="sim"');
    });

    it("shows every time in one format (ISO 8601 UTC), never unix seconds", () => {
      const html = renderHtmlReport(report(3));
      expect(html).to.not.include("(unix");
      expect(html).to.include("<dd>2026-09-21T15:13:20Z</dd>"); // expiresAt
      expect(html).to.include("<dd>2026-09-21T14:13:20Z</dd>"); // issuedAt, given as a string
      expect(html).to.include("<dd>2026-09-21T14:13:20.000Z</dd>"); // a millisecond timestamp
      expect(html).to.include("<td>2026-09-21T14:13:20Z</td>"); // deadline in the facts
      expect(html).to.include("<dd>1700000000</dd>"); // a block number is not a time
      expect(displayValue("nested.expiresAt", T)).to.equal("2026-09-21T14:13:20Z");
    });

    it("never leaves an arrow hanging: each row of the diagram ends in a box, and rows after the first start with a turn", () => {
      for (const n of [1, 5, 6, 9, 11]) {
        const html = renderHtmlReport(report(n));
        const rows = [...html.matchAll(/<div class="chain">([\s\S]*?)<\/div><\/div><\/div>(?=<div class="chain">|\s*<p class="legend">)/g)].map((m) => m[1]);
        expect(rows.length, `${n} links`).to.equal(Math.ceil(n / 5));
        rows.forEach((row, r) => {
          const steps = row.split('<div class="step">').slice(1);
          steps.forEach((step, j) => {
            expect(step.includes('class="node'), `row ${r} step ${j} has its box`).to.equal(true);
            const edge = step.match(/<div class="edge"[^>]*><span>[^<]*<\/span><b>(.)<\/b><\/div>/);
            if (r === 0 && j === 0) expect(edge).to.equal(null);
            else expect(edge?.[1], `row ${r} step ${j}`).to.equal(j === 0 ? "↪" : "→");
          });
        });
        expect([...html.matchAll(/class="node /g)]).to.have.length(n);
      }
    });

    it("folds the facts and the evidence of passed checks, and opens the failed check's evidence", () => {
      const checks = new CheckList();
      checks.pass("a.ok", "fine", { k: "v" });
      checks.fail("b.bad", "broken", { k: "w" });
      const html = renderHtmlReport(checks.finish({ format: "nitro", at: T, facts: { a: 1 }, chain: [] }));
      expect(html).to.include('<details class="ev"><summary>evidence</summary><dl class="evidence"><dt>k</dt><dd>v</dd>');
      expect(html).to.include('<details class="ev" open><summary>evidence</summary><dl class="evidence"><dt>k</dt><dd>w</dd>');
      expect(html).to.match(/<details class="facts"><summary><h2>Facts reported by the evidence/);
    });
  });

  describe("the browser the console is tested in", () => {
    it("fails, saying how to install it, when Chromium is missing", async () => {
      let error: Error | undefined;
      await launchChromium({ executablePath: "/nonexistent/chromium" }).catch((e: Error) => { error = e; });
      expect(error).to.be.instanceOf(ChromiumMissingError);
      expect(error!.message).to.equal("Chromium not found at /nonexistent/chromium: install Debian's package (apt-get update && apt-get install -y chromium) or set CHROMIUM_PATH");
    });
  });

  describe("without a console", () => {
    it("serves no /console routes when the node runs with ORACLE_CONSOLE=false", async () => {
      const metrics = createMetrics({ defaultMetrics: false });
      const api = await startApi({
        registry: metrics.registry, log: pino({ level: "silent" }), checks: [], attestation: async () => ({}), request: async () => undefined, models: () => ({}),
      }, 0, "127.0.0.1");
      try {
        const r = await fetch(`http://127.0.0.1:${api.port}/console/`);
        expect(r.status).to.equal(404);
        expect(((await r.json()) as { error: string }).error).to.not.match(/try [^)]*\/console/);
      } finally {
        await api.close();
      }
    });
  });
});
