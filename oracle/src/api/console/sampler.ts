/**
 * The console's live series: every second the node's own counters and histograms are read (no
 * scrape, no Prometheus needed) and turned into rates and quantiles over a short window, kept for
 * the last ten minutes so a page opened now draws history at once.
 *
 *   fulfilled/s     requests this node fulfilled per second
 *   latency p50/p99 request block seen → fulfilment receipt, from the latency histogram's buckets
 *   queue depth     jobs waiting (or delayed for a retry) in the queue; in flight: being computed or submitted by this node
 *   batch size      mean results per fulfilBatch transaction
 *   gas/result      gas of this node's fulfilment transactions per result
 */
import type { Counter, Histogram } from "prom-client";
import type { OracleMetrics } from "../../metrics";

/** One series point per tick; null where the window saw nothing (a gap in the chart, not a zero). */
export interface LiveSeries {
  /** Unix seconds of each point. */
  t: number[];
  fulfilledPerSec: (number | null)[];
  latencyP50: (number | null)[];
  latencyP99: (number | null)[];
  queueDepth: (number | null)[];
  inFlight: (number | null)[];
  batchSize: (number | null)[];
  gasPerResult: (number | null)[];
}

export interface SamplerDeps {
  metrics: OracleMetrics;
  /** Jobs waiting or delayed in the queue, not yet taken by a worker (BullMQ asks Redis). */
  queueDepth(): Promise<number>;
  /** Requests seen and not settled (sets oracle_requests_pending too). */
  pending(): number;
}

export interface SamplerOptions {
  /** Milliseconds between samples (default 1000). */
  intervalMs?: number;
  /** Samples kept (default 600: ten minutes at one per second). */
  keep?: number;
  /** Samples a rate or quantile is computed over (default 5). */
  window?: number;
}

/** Cumulative totals read at one instant. */
interface Raw {
  t: number;
  fulfilled: number;
  gas: number;
  batchSum: number;
  batchCount: number;
  /** Latency histogram: cumulative count per upper bound (last one +Inf). */
  latency: { le: number; count: number }[];
  queueDepth: number | null;
  inFlight: number;
}

async function counterTotal(c: Counter<string>, match?: Record<string, string>): Promise<number> {
  const { values } = await c.get();
  return values.filter((v) => !match || Object.entries(match).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

async function histogramState(h: Histogram<string>): Promise<{ buckets: { le: number; count: number }[]; sum: number; count: number }> {
  const { values } = await h.get();
  const buckets: { le: number; count: number }[] = [];
  let sum = 0;
  let count = 0;
  for (const v of values) {
    if (v.metricName?.endsWith("_bucket")) buckets.push({ le: v.labels.le === "+Inf" ? Infinity : Number(v.labels.le), count: v.value });
    else if (v.metricName?.endsWith("_sum")) sum += v.value;
    else if (v.metricName?.endsWith("_count")) count += v.value;
  }
  return { buckets: buckets.sort((a, b) => a.le - b.le), sum, count };
}

/**
 * The q-quantile of the observations that fell between two cumulative bucket readings, with
 * linear interpolation inside the bucket (as PromQL's histogram_quantile). Undefined when none fell.
 */
export function bucketQuantile(q: number, before: { le: number; count: number }[], after: { le: number; count: number }[]): number | undefined {
  const counts = after.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.count ?? 0) }));
  const total = counts.length ? counts[counts.length - 1].count : 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of counts) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe; // beyond the largest bound: say the bound, as Prometheus does
      const inBucket = b.count - prevCount;
      return inBucket > 0 ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

export class LiveSampler {
  private readonly raw: Raw[] = [];
  private readonly series: LiveSeries = {
    t: [], fulfilledPerSec: [], latencyP50: [], latencyP99: [], queueDepth: [], inFlight: [], batchSize: [], gasPerResult: [],
  };
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<void>;
  private readonly intervalMs: number;
  private readonly keep: number;
  private readonly window: number;

  constructor(private readonly deps: SamplerDeps, opts: SamplerOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.keep = opts.keep ?? 600;
    this.window = opts.window ?? 5;
  }

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => { void this.sample(); }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The series as the page draws them (copies). */
  snapshot(): LiveSeries {
    const out = {} as LiveSeries;
    for (const [k, v] of Object.entries(this.series)) (out as unknown as Record<string, unknown[]>)[k] = [...v];
    return out;
  }

  /** Takes one sample now (the timer calls it; tests may too). A sample already running is awaited, not doubled. */
  sample(): Promise<void> {
    this.sampling ??= this.read().finally(() => { this.sampling = undefined; });
    return this.sampling;
  }

  private async read(): Promise<void> {
    const m = this.deps.metrics;
    const [fulfilled, gas, batch, latency, queueDepth, inFlight] = await Promise.all([
      counterTotal(m.requestsFulfilled, { outcome: "fulfilled" }),
      counterTotal(m.gasSpent),
      histogramState(m.batchSize),
      histogramState(m.latency),
      this.deps.queueDepth().catch(() => null),
      m.inFlight.get().then((g) => g.values.reduce((a, v) => a + v.value, 0)),
    ]);
    const pending = this.deps.pending();
    m.requestsPending.set(pending);
    const now: Raw = {
      t: Math.floor(Date.now() / 1000), fulfilled, gas, batchSum: batch.sum, batchCount: batch.count, latency: latency.buckets, queueDepth, inFlight,
    };
    this.raw.push(now);
    if (this.raw.length > this.window + 1) this.raw.shift();
    const then = this.raw[0];
    const dt = Math.max(1e-3, now.t - then.t);
    const dBatches = now.batchCount - then.batchCount;
    const dResults = now.batchSum - then.batchSum;
    const s = this.series;
    s.t.push(now.t);
    s.fulfilledPerSec.push(this.raw.length > 1 ? round((now.fulfilled - then.fulfilled) / dt, 3) : null);
    s.latencyP50.push(round(bucketQuantile(0.5, then.latency, now.latency), 3));
    s.latencyP99.push(round(bucketQuantile(0.99, then.latency, now.latency), 3));
    s.queueDepth.push(queueDepth);
    s.inFlight.push(inFlight);
    s.batchSize.push(dBatches > 0 ? round(dResults / dBatches, 2) : null);
    s.gasPerResult.push(dResults > 0 ? Math.round((now.gas - then.gas) / dResults) : null);
    for (const arr of Object.values(s) as unknown[][]) if (arr.length > this.keep) arr.shift();
  }
}

function round(x: number | undefined, digits: number): number | null {
  if (x === undefined || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
