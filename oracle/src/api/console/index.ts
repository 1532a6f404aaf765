/**
 * The read-only web console, served by the node's HTTP API. Every script and style comes from the
 * node itself (this folder's static files and uPlot from node_modules); the page asks only this
 * node, and the Content-Security-Policy says so to the browser.
 *
 *   GET /                       → /console/
 *   GET /console/               the page (static/index.html; /console too)
 *   GET /console/assets/<file>  console.js, console.css, uPlot.iife.min.js, uPlot.min.css
 *   GET /console/api/live       the live series (./sampler)
 *   GET /console/api/requests   recent requests, or ?id=N for one; ?limit=1..200 (default 50)
 *   GET /console/api/overview   enclaves, sending keys, fees, models (./state)
 *   GET /console/audit/:id      the request's end-to-end audit as a page (./audit)
 */
import { createHash } from "node:crypto";
import path from "node:path";
import express, { type NextFunction, type Request, type Response } from "express";
import { REPORT_STYLE } from "../../audit/html-report";
import { HttpError, parseRequestId } from "../http";
import type { WorkQueue } from "../../queue";
import { AuditPages } from "./audit";
import { LiveSampler } from "./sampler";
import { ConsoleState, type ConsoleStateDeps } from "./state";

export interface ConsoleDeps {
  state: ConsoleState;
  sampler: LiveSampler;
  audits: AuditPages;
}

/**
 * Builds the console's parts and starts their timers (the live sampler every second, the chain
 * overview every ten: it also sets the gauges alerts read). `stop()` ends both.
 */
export function startConsole(deps: ConsoleStateDeps & { queue: WorkQueue; sourceDir: string }): ConsoleDeps & { stop(): void } {
  const state = new ConsoleState(deps);
  const sampler = new LiveSampler({
    metrics: deps.metrics,
    queueDepth: async () => {
      const c = await deps.queue.counts();
      return Object.entries(c).filter(([k]) => !["active", "completed", "failed"].includes(k)).reduce((a, [, n]) => a + n, 0);
    },
    pending: () => deps.tracker.pendingCount,
  });
  const audits = new AuditPages(deps);
  state.start();
  sampler.start();
  return { state, sampler, audits, stop: () => { sampler.stop(); state.stop(); } };
}

const STATIC_DIR = path.join(__dirname, "static");
const UPLOT_DIR = path.dirname(require.resolve("uplot/dist/uPlot.iife.min.js"));

/** The files the page may load, by the name it asks for: nothing else is served. */
const ASSETS: Record<string, { file: string; type: string }> = {
  "console.js": { file: path.join(STATIC_DIR, "console.js"), type: "text/javascript; charset=utf-8" },
  "console.css": { file: path.join(STATIC_DIR, "console.css"), type: "text/css; charset=utf-8" },
  "uPlot.iife.min.js": { file: path.join(UPLOT_DIR, "uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "uPlot.min.css": { file: path.join(UPLOT_DIR, "uPlot.min.css"), type: "text/css; charset=utf-8" },
};

/** The page and its assets: scripts and styles from this node only, data from this node only. */
export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join("; ");

/** The audit pages: no script at all; their one inline style sheet allowed by its hash. */
export const AUDIT_CSP = [
  "default-src 'none'", `style-src 'sha256-${createHash("sha256").update(REPORT_STYLE).digest("base64")}' 'self'`,
  "img-src 'self' data:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join("; ");

function secure(csp: string) {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.set({
      "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
      "Cross-Origin-Resource-Policy": "same-origin", "X-Frame-Options": "DENY",
    });
    next();
  };
}

function limitParam(raw: unknown): number {
  if (raw === undefined) return 50;
  const s = String(raw);
  if (!/^\d{1,3}$/.test(s) || Number(s) < 1 || Number(s) > 200) throw new HttpError(400, `limit must be a whole number from 1 to 200, got "${s.slice(0, 20)}"`);
  return Number(s);
}

/** Adds the console's routes to the node's app. */
export function mountConsole(app: express.Express, deps: ConsoleDeps): void {
  const page = secure(CONSOLE_CSP);
  app.get("/", (_req, res) => res.redirect(302, "/console/"));
  app.get("/console/", page, (_req, res) => {
    res.set("Cache-Control", "no-cache");
    res.sendFile(path.join(STATIC_DIR, "index.html"));
  });
  app.get("/console/assets/:name", page, (req, res) => {
    const asset = ASSETS[String(req.params.name)];
    if (!asset) throw new HttpError(404, `no such console asset: ${String(req.params.name).slice(0, 80)}`);
    res.type(asset.type).set("Cache-Control", "no-cache").sendFile(asset.file);
  });
  app.get("/console/api/live", page, (_req, res) => {
    res.set("Cache-Control", "no-store").json(deps.sampler.snapshot());
  });
  app.get("/console/api/requests", page, async (req, res) => {
    const id = req.query.id === undefined || req.query.id === "" ? undefined : parseRequestId(String(req.query.id));
    const requests = await deps.state.requests(limitParam(req.query.limit), id);
    if (id !== undefined && requests.length === 0) throw new HttpError(404, `request ${id} is not known to this node or the chain`);
    res.set("Cache-Control", "no-store").json({ requests });
  });
  app.get("/console/api/overview", page, async (_req, res) => {
    res.set("Cache-Control", "no-store").json(await deps.state.overview());
  });
  app.get("/console/audit/:id", secure(AUDIT_CSP), async (req, res) => {
    const result = await deps.audits.page(parseRequestId(String(req.params.id)));
    res.status(result.status).type("html").set("Cache-Control", "no-store").send(result.html);
  });
}
