import { expect } from "chai";
import pino from "pino";
import { startApi, type ApiServer } from "../../../oracle/src/api/server";
import { createMetrics } from "../../../oracle/src/metrics";

describe("node HTTP API", () => {
  let api: ApiServer;
  let base: string;
  let redisUp = true;
  const metrics = createMetrics({ defaultMetrics: false });

  before(async () => {
    api = await startApi({
      registry: metrics.registry,
      log: pino({ level: "silent" }),
      checks: [
        { name: "rpc", check: async () => true },
        { name: "redis", check: async () => redisUp },
        { name: "runners", check: async () => ({ ok: true, detail: "registered signers: 0xabc" }) },
      ],
      attestation: async () => ({ runners: [{ index: 0, signer: "0xabc", measurement: "0x01" }] }),
      request: async (id) => (id === 7n ? { requestId: "7", status: "fulfilled", trail: [{ step: "seen", block: 3 }] } : undefined),
      models: () => ({ models: [{ name: "iris-classifier", modelId: 1 }] }),
    }, 0, "127.0.0.1");
    base = `http://127.0.0.1:${api.port}`;
  });
  after(() => api.close());

  const get = async (p: string, init?: RequestInit) => {
    const res = await fetch(base + p, init);
    const text = await res.text();
    return { status: res.status, type: res.headers.get("content-type") ?? "", text, json: () => JSON.parse(text) };
  };

  it("answers /healthz and /readyz, and /readyz turns 503 with the failing check named", async () => {
    expect((await get("/healthz")).json().status).to.equal("ok");
    let r = await get("/readyz");
    expect(r.status).to.equal(200);
    redisUp = false;
    r = await get("/readyz");
    expect(r.status).to.equal(503);
    expect(r.json().checks.find((c: { name: string }) => c.name === "redis").ok).to.equal(false);
    redisUp = true;
  });

  it("serves Prometheus metrics", async () => {
    metrics.requestsSeen.inc(3);
    const r = await get("/metrics");
    expect(r.type).to.include("text/plain");
    expect(r.text).to.include("oracle_requests_seen_total 3");
    expect(r.text).to.include("oracle_request_latency_seconds_bucket");
  });

  it("returns a known request's trail and 404 JSON for an unknown one", async () => {
    expect((await get("/v1/requests/7")).json().trail[0]).to.deep.equal({ step: "seen", block: 3 });
    const r = await get("/v1/requests/8");
    expect(r.status).to.equal(404);
    expect(r.json().error).to.equal("request 8 is not known to this node or the chain");
  });

  it("rejects malformed request ids with 400 and a reason", async () => {
    for (const bad of ["abc", "-1", "0x10", "1.5", "0", "9".repeat(79)]) {
      const r = await get(`/v1/requests/${bad}`);
      expect(r.status, bad).to.equal(400);
      expect(r.json().error, bad).to.match(/request id must be/);
    }
    const huge = (1n << 256n).toString();
    expect((await get(`/v1/requests/${huge}`)).status).to.equal(400);
  });

  it("a request id with a broken %-escape (%, %ZZ, %E0%A4%A, 1%) is a 400 with a reason, not a 500", async () => {
    for (const bad of ["%", "%ZZ", "%E0%A4%A", "1%"]) {
      const r = await get(`/v1/requests/${bad}`);
      expect(r.status, bad).to.equal(400);
      expect(r.json().error, bad).to.match(/malformed URL: .* %-escape that is not valid UTF-8/);
    }
  });

  it("answers unknown paths with 404 JSON and writes with 405", async () => {
    const r = await get("/v2/whatever");
    expect(r.status).to.equal(404);
    expect(r.json().error).to.include("no such path: /v2/whatever");
    const w = await get("/v1/requests/7", { method: "POST" });
    expect(w.status).to.equal(405);
    expect(w.json().error).to.include("read-only");
  });

  it("serves the attestation and the models", async () => {
    expect((await get("/v1/attestation")).json().runners[0].signer).to.equal("0xabc");
    expect((await get("/v1/models")).json().models[0].name).to.equal("iris-classifier");
  });
});
