/**
 * The node's HTTP API (express): health, readiness, Prometheus metrics, the runners' attestation,
 * request status with its trail, and the models served. Every error is JSON with a reason.
 *
 *   GET /healthz              the process is up (200)
 *   GET /readyz               RPC answers, Redis answers (if configured), every runner attested and registered (200 / 503)
 *   GET /metrics              Prometheus text format
 *   GET /v1/attestation       per runner: report, signatures, platform certificate, measurement, signer
 *   GET /v1/requests/:id      status and trail of one request (decimal id)
 *   GET /v1/models            models served, with on-chain ids and hashes
 *   GET /console/             the read-only web console (see ./console), when configured
 */
import http from "node:http";
import express, { NextFunction, Request, Response } from "express";
import type { Registry } from "prom-client";
import type { Logger } from "pino";
import { within } from "../chain/retry";
import { mountConsole, type ConsoleDeps } from "./console";
import { HttpError, parseRequestId } from "./http";

export interface ReadinessCheck {
  name: string;
  /** Resolves true when healthy; a thrown error or false makes the node not ready. */
  check(): Promise<boolean | { ok: boolean; detail?: string }>;
}

export interface ApiDeps {
  registry: Registry;
  checks: ReadinessCheck[];
  attestation(): Promise<unknown>;
  /** Status of a request, or undefined if neither this node nor the chain knows it. */
  request(id: bigint): Promise<unknown | undefined>;
  models(): unknown;
  log: Logger;
  /** Node identity shown on /healthz. */
  info?: Record<string, unknown>;
  /** The web console (/console/); absent: not served. */
  console?: ConsoleDeps;
}

export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("json replacer", (_k: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v));

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok", uptimeSeconds: Math.round(process.uptime()), ...(deps.info ?? {}) });
  });

  app.get("/readyz", async (_req, res) => {
    const results = await Promise.all(deps.checks.map(async (c) => {
      try {
        const r = await within(c.check(), 2000, `${c.name} check timed out`);
        const v = typeof r === "boolean" ? { ok: r } : r;
        return { name: c.name, ok: v.ok, ...(v.detail ? { detail: v.detail } : {}) };
      } catch (err) {
        return { name: c.name, ok: false, detail: (err as Error).message };
      }
    }));
    const ready = results.every((r) => r.ok);
    res.status(ready ? 200 : 503).json({ ready, checks: results });
  });

  app.get("/metrics", async (_req, res) => {
    res.set("Content-Type", deps.registry.contentType);
    res.send(await deps.registry.metrics());
  });

  app.get("/v1/attestation", async (_req, res) => {
    res.json(await deps.attestation());
  });

  app.get("/v1/requests/:id", async (req, res) => {
    const id = parseRequestId(String(req.params.id));
    const status = await deps.request(id);
    if (status === undefined) throw new HttpError(404, `request ${id} is not known to this node or the chain`);
    res.json(status);
  });

  app.get("/v1/models", (_req, res) => {
    res.json(deps.models());
  });

  if (deps.console) mountConsole(app, deps.console);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(req.method === "GET" ? 404 : 405, req.method === "GET"
      ? `no such path: ${req.path} (try /healthz, /readyz, /metrics, /v1/attestation, /v1/requests/:id, /v1/models${deps.console ? ", /console/" : ""})`
      : `method ${req.method} not allowed: the API is read-only`));
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = errorStatus(err);
    if (status === 400 && !(err instanceof HttpError)) err = badPathError(req);
    if (status >= 500) deps.log.error({ err: (err as Error).message }, "api error");
    res.status(status).json({ error: status >= 500 ? "internal error" : (err as Error).message, status });
  });
  return app;
}

export interface ApiServer {
  port: number;
  close(): Promise<void>;
}

/** Listens; resolves with the bound port (useful with port 0). */
export async function startApi(deps: ApiDeps, port: number, host: string): Promise<ApiServer> {
  const app = createApp(deps);
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      return closing;
    },
  };
}

/** 4xx errors raised by express itself (a path whose %-escapes do not decode) keep their status; anything else is a 500. */
function errorStatus(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  const status = (err as { status?: unknown })?.status;
  return typeof status === "number" && status >= 400 && status < 500 ? status : 500;
}

function badPathError(req: Request): HttpError {
  return new HttpError(400, `malformed URL: ${JSON.stringify(req.originalUrl.slice(0, 120))} has a %-escape that is not valid UTF-8 (a request id is a decimal integer)`);
}
