// The console page: polls this node's /console/api/* and draws what it gets. Every value from the
// chain or a model file (labels, URIs, names, reasons) is put in the page as text (textContent,
// attribute values through setAttribute), never parsed as HTML.
"use strict";
(function () {
  const LIVE_MS = 2000;
  const REQUESTS_MS = 3000;
  const OVERVIEW_MS = 5000;

  /** el("td", {class: "num"}, "text", childNode, ...) */
  function el(tag, attrs) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null && v !== false) node.setAttribute(k, String(v));
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === undefined || c === null || c === false) continue;
      node.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const $ = (id) => document.getElementById(id);
  const short = (hex, keep) => (typeof hex === "string" && hex.length > 2 * (keep || 8) + 2 ? hex.slice(0, (keep || 8) + 2) + "…" + hex.slice(-(keep || 8) / 2 - 2) : hex || "");
  const iso = (unix) => new Date(unix * 1000).toISOString().replace(".000Z", "Z");
  const time = (isoString) => (isoString || "").replace(/^.*T/, "").replace(/\.\d+Z$/, "Z");

  async function getJson(url) {
    const r = await fetch(url, { headers: { accept: "application/json" }, cache: "no-store" });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || r.status + " " + r.statusText);
    return body;
  }

  let problemSet = new Map();
  function problem(key, message) {
    if (message) problemSet.set(key, message); else problemSet.delete(key);
    const p = $("problem");
    p.textContent = [...problemSet.values()].join(" · ");
    p.hidden = problemSet.size === 0;
  }

  // ------------------------------------------------------------------ live charts (uPlot)

  const CHARTS = [
    { id: "chart-fulfilled", series: [["fulfilled/s", "fulfilledPerSec", "#1a7f37"]], unit: "/s" },
    { id: "chart-latency", series: [["p50", "latencyP50", "#0969da"], ["p99", "latencyP99", "#cf222e"]], unit: " s" },
    { id: "chart-queue", series: [["queued", "queueDepth", "#8250df"], ["in flight", "inFlight", "#bf8700"]], unit: "" },
    { id: "chart-batch", series: [["results/batch", "batchSize", "#0969da"]], unit: "" },
    { id: "chart-gas", series: [["gas/result", "gasPerResult", "#57606a"]], unit: "" },
  ];
  const plots = new Map();

  function chartWidth(fig) {
    return Math.max(220, fig.clientWidth - 14);
  }

  function drawCharts(live) {
    for (const c of CHARTS) {
      const fig = $(c.id);
      const data = [live.t].concat(c.series.map((s) => live[s[1]]));
      const points = c.series.reduce((n, s) => n + live[s[1]].filter((v) => v !== null).length, 0);
      fig.setAttribute("data-points", String(points));
      let now = fig.querySelector(".now");
      if (!now) { now = el("span", { class: "now" }); fig.querySelector("figcaption").appendChild(now); }
      const last = c.series.map((s) => { const arr = live[s[1]]; for (let i = arr.length - 1; i >= 0; i--) if (arr[i] !== null) return arr[i]; return null; });
      now.textContent = last.every((v) => v === null) ? "" : "now " + last.map((v) => (v === null ? "–" : v + c.unit)).join(" / ");
      let plot = plots.get(c.id);
      if (!plot) {
        if (typeof uPlot !== "function") { problem("uplot", "the chart library did not load"); return; }
        plot = new uPlot({
          width: chartWidth(fig), height: 150,
          scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min || 0), max > 0 ? max * 1.15 : 1] } },
          axes: [{ size: 28, font: "10px sans-serif" }, { size: 46, font: "10px sans-serif" }],
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          series: [{}].concat(c.series.map((s) => ({ label: s[0], stroke: s[2], width: 1.5, spanGaps: false, points: { show: false } }))),
        }, data, fig);
        plots.set(c.id, plot);
      } else {
        plot.setData(data);
      }
    }
  }

  window.addEventListener("resize", () => {
    for (const c of CHARTS) { const p = plots.get(c.id); if (p) p.setSize({ width: chartWidth($(c.id)), height: 150 }); }
  });

  async function pollLive() {
    try {
      drawCharts(await getJson("/console/api/live"));
      problem("live", null);
    } catch (e) {
      problem("live", "live series: " + e.message);
    }
  }

  // ------------------------------------------------------------------ requests

  const STATE_CLASS = { fulfilled: "ok", "settled-elsewhere": "ok", failed: "bad", dropped: "bad", declined: "bad", expired: "bad" };

  function values(view, withTop) {
    if (!view) return el("span", { class: "muted" }, "–");
    const box = el("div", { class: "vals" });
    if (withTop && view.top) box.appendChild(el("span", { class: "best" }, "→ " + view.top));
    for (const v of view.values) box.appendChild(el("span", { class: withTop && view.top === v.name ? "best" : undefined }, el("span", { class: "k" }, v.name + " "), v.value));
    return box;
  }

  const openTrails = new Set(); // kept open across refreshes

  function trail(r) {
    const steps = r.trail || [];
    if (!steps.length) return el("span", { class: "muted" }, r.onChainState ? "on-chain: " + r.onChainState : "–");
    const list = el("ol");
    for (const s of steps) {
      list.appendChild(el("li", {}, el("span", { class: "t" }, time(s.at) + " "), s.step,
        s.block !== undefined ? " @" + s.block : "", s.tx ? el("code", { title: s.tx }, " " + short(s.tx, 6)) : "", s.detail ? " — " + s.detail : ""));
    }
    const box = el("details", { class: "trail", open: openTrails.has(r.requestId) }, el("summary", {}, steps.map((s) => s.step).join(" → ")), list);
    box.addEventListener("toggle", () => { if (box.open) openTrails.add(r.requestId); else openTrails.delete(r.requestId); });
    return box;
  }

  function requestRow(r) {
    const state = el("td", {}, el("span", { class: "badge " + (STATE_CLASS[r.status] || "work") }, r.status));
    if (r.resultStatus && r.resultStatus !== "Ok") state.appendChild(el("div", { class: "reason" }, "result: " + r.resultStatus));
    if (r.reason) state.appendChild(el("div", { class: "reason" }, r.reason));
    if (r.callback && !r.callback.startsWith("delivered")) state.appendChild(el("div", { class: "reason" }, "callback " + r.callback));
    return el("tr", { "data-request": r.requestId, "data-status": r.status },
      el("td", { class: "num" }, r.requestId),
      el("td", {}, r.model || (r.modelId ? "model " + r.modelId : "–")),
      state,
      el("td", {}, values(r.input, false)),
      el("td", {}, values(r.output, true)),
      el("td", {}, trail(r)),
      el("td", {}, el("a", { href: "/console/audit/" + encodeURIComponent(r.requestId), class: "audit-link" }, "audit")),
    );
  }

  let searching = null;
  async function pollRequests() {
    const url = searching ? "/console/api/requests?id=" + encodeURIComponent(searching) : "/console/api/requests?limit=50";
    const note = $("requests-note");
    try {
      const { requests } = await getJson(url);
      const body = $("requests").tBodies[0];
      body.replaceChildren(...requests.map(requestRow));
      note.textContent = searching ? "request " + searching : requests.length ? "the " + requests.length + " most recent requests this node has seen, newest first" : "no requests seen yet";
      problem("requests", null);
    } catch (e) {
      if (searching) { $("requests").tBodies[0].replaceChildren(); note.textContent = e.message; }
      else problem("requests", "requests: " + e.message);
    }
  }

  $("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $("search-id").value.trim();
    searching = v || null;
    $("search-clear").hidden = !searching;
    void pollRequests();
  });
  $("search-clear").addEventListener("click", () => {
    searching = null;
    $("search-id").value = "";
    $("search-clear").hidden = true;
    void pollRequests();
  });

  // ------------------------------------------------------------------ enclaves, keys, fees, models

  let overview = null;
  let clockSkew = 0;

  function countdown(expiresAt) {
    if (!expiresAt) return el("span", { class: "muted" }, "–");
    const left = expiresAt - (Date.now() / 1000 + clockSkew);
    if (left <= 0) return el("span", { class: "soon" }, "expired " + iso(expiresAt));
    const d = Math.floor(left / 86400), h = Math.floor((left % 86400) / 3600), m = Math.floor((left % 3600) / 60), s = Math.floor(left % 60);
    const text = (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + s + "s";
    return el("span", { class: left < 3600 ? "soon" : undefined, title: "expires " + iso(expiresAt) }, text);
  }

  function drawOverview() {
    const o = overview;
    if (!o) return;
    const info = $("node-info");
    info.replaceChildren("network ", el("b", {}, o.node.network), " · chain ", el("b", {}, o.node.chainId), " · oracle ",
      el("code", { title: o.node.oracle }, short(o.node.oracle, 6)), " · operator ", el("code", { title: o.node.operator }, short(o.node.operator, 6)),
      " · queue ", el("b", {}, o.node.queue));
    $("sim").hidden = !o.node.simulation;
    $("enclaves").tBodies[0].replaceChildren(...o.enclaves.map((e) => el("tr", {},
      el("td", { class: "num" }, e.runner),
      el("td", {}, e.signer ? el("code", { title: e.signer }, short(e.signer, 6)) : el("span", { class: "badge warn" }, "restarting")),
      el("td", {}, e.operator ? el("code", { title: e.operator }, short(e.operator, 6)) : "–"),
      el("td", {}, e.measurement ? el("code", { title: e.measurement }, short(e.measurement, 6)) : "–"),
      el("td", {}, e.teeType || "–"),
      el("td", {}, el("span", { class: "badge " + (e.registered && e.status === "Active" ? "ok" : e.status === "Revoked" ? "bad" : "warn") }, e.registered ? e.status || "registered" : "not registered")),
      el("td", {}, countdown(e.expiresAt)),
      el("td", { class: "num" }, el("span", { class: e.restarts ? "soon" : undefined }, e.restarts)),
    )));
    $("keys").tBodies[0].replaceChildren(...o.keys.map((k) => el("tr", {},
      el("td", {}, el("code", {}, k.address)), el("td", {}, k.operator ? "operator" : "sender"),
      el("td", { class: "num" }, k.balanceEther === null ? "?" : Number(k.balanceEther).toFixed(4) + " ETH"))));
    $("fees").replaceChildren("Fees to withdraw (operator ", el("code", {}, short(o.fees.operator, 6)), "): ",
      o.fees.withdrawableEther === null ? el("b", {}, "?") : el("b", { title: o.fees.withdrawableEther + " ETH" }, Number(o.fees.withdrawableEther).toFixed(6) + " ETH"));
    $("models").tBodies[0].replaceChildren(...o.models.map((m) => el("tr", {},
      el("td", { title: m.description }, el("b", {}, m.name), el("div", { class: "muted small" }, m.inputLength + " in → " + m.outputLength + " out, " + m.decimals + " decimals")),
      el("td", { class: "num" }, m.modelId === null ? "–" : m.modelId),
      el("td", {}, m.labels ? m.labels.join(", ") : "–"),
      el("td", {}, m.uri !== undefined ? el("code", {}, m.uri) : "–"),
      el("td", { class: "num" }, m.feeEther !== undefined ? m.feeEther + " ETH" : "–"),
      el("td", {}, m.active === undefined ? "–" : el("span", { class: "badge " + (m.active ? "ok" : "bad") }, m.active ? "active" : "inactive")),
      el("td", {}, el("span", { class: "badge " + (m.cached ? "ok" : "warn") }, m.cached ? "cached" : "not cached")),
      el("td", {}, el("code", { title: m.modelHash }, short(m.modelHash, 6))),
    )));
    problem("chain", o.problems && o.problems.length ? "chain reads failed: " + o.problems.join("; ") : null);
  }

  async function pollOverview() {
    try {
      overview = await getJson("/console/api/overview");
      clockSkew = overview.at - Date.now() / 1000;
      drawOverview();
      problem("overview", null);
    } catch (e) {
      problem("overview", "overview: " + e.message);
    }
  }

  function every(ms, fn) {
    let busy = false;
    const tick = async () => { if (busy) return; busy = true; try { await fn(); } finally { busy = false; } };
    void tick();
    setInterval(tick, ms);
  }

  every(LIVE_MS, pollLive);
  every(REQUESTS_MS, pollRequests);
  every(OVERVIEW_MS, pollOverview);
  setInterval(() => { if (overview) drawOverview(); }, 1000);
})();
