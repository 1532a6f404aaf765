/**
 * Prometheus metrics of the node (prom-client), one registry per node so tests and several
 * in-process nodes do not share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface OracleMetrics {
  registry: Registry;
  requestsSeen: Counter;
  requestsQueued: Counter;
  requestsFulfilled: Counter<"outcome">;
  requestsFailed: Counter<"reason">;
  requestsDeclined: Counter<"reason">;
  latency: Histogram;
  gasSpent: Counter;
  txSent: Counter<"kind">;
  runnerRestarts: Counter;
  signerRefreshes: Counter<"outcome">;
  batchSize: Histogram;
  watcherBlock: Gauge;
  rpcErrors: Counter;
  /** Sends that found their nonce already used by another transaction of the key (another process sending from it). */
  nonceResyncs: Counter;
  inFlight: Gauge;
  /** Requests seen and not yet settled (the "no progress while pending" alert reads it). */
  requestsPending: Gauge;
  /** When each registered enclave signer's attestation expires, unix seconds. */
  signerExpiry: Gauge<"runner" | "signer">;
  /** Balance of each sending key, in ether. */
  senderBalance: Gauge<"address">;
  /** Fees the operator can withdraw from the oracle, in ether. */
  operatorFees: Gauge<"operator">;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): OracleMetrics {
  const registry = new Registry();
  // The standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …): what Node.js
  // dashboards query. Several nodes are told apart by their scrape target, not by a name prefix.
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const r = [registry];
  const metrics: OracleMetrics = {
    registry,
    requestsSeen: new Counter({ name: "oracle_requests_seen_total", help: "InferenceRequested events seen (confirmed)", registers: r }),
    requestsQueued: new Counter({ name: "oracle_requests_queued_total", help: "Jobs added to the queue (duplicates not counted)", registers: r }),
    requestsFulfilled: new Counter({
      name: "oracle_requests_fulfilled_total", help: "Requests settled by this node's transactions, by outcome (fulfilled, skipped: already done elsewhere)",
      labelNames: ["outcome"], registers: r,
    }),
    requestsFailed: new Counter({ name: "oracle_requests_failed_total", help: "Jobs failed permanently, by reason", labelNames: ["reason"], registers: r }),
    requestsDeclined: new Counter({
      name: "oracle_requests_declined_total", help: "Requests this node declined to serve (nothing computed or sent), by reason", labelNames: ["reason"], registers: r,
    }),
    latency: new Histogram({
      name: "oracle_request_latency_seconds", help: "Request block seen to fulfilment receipt, seconds",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300], registers: r,
    }),
    gasSpent: new Counter({ name: "oracle_gas_spent_total", help: "Gas used by this node's fulfilment transactions", registers: r }),
    txSent: new Counter({ name: "oracle_tx_sent_total", help: "Transactions sent, by kind (first, resend)", labelNames: ["kind"], registers: r }),
    runnerRestarts: new Counter({ name: "oracle_runner_restarts_total", help: "Enclave runner restarts (each re-registers a new signer)", registers: r }),
    signerRefreshes: new Counter({
      name: "oracle_signer_refreshes_total", labelNames: ["outcome"], registers: r,
      help: "refreshSigner after a move of the registry's revocation epoch: refreshed, or refused (the signer is no longer active: measurement, root or bond)",
    }),
    batchSize: new Histogram({
      name: "oracle_batch_size", help: "Results per fulfilBatch transaction",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: r,
    }),
    watcherBlock: new Gauge({ name: "oracle_watcher_block", help: "Last block scanned by the watcher", registers: r }),
    rpcErrors: new Counter({ name: "oracle_rpc_errors_total", help: "RPC calls that failed and were retried", registers: r }),
    nonceResyncs: new Counter({
      name: "oracle_nonce_resyncs_total", registers: r,
      help: "Sends that found their nonce already used by another transaction of the sending key (another process sends from it: give each node its own key)",
    }),
    inFlight: new Gauge({ name: "oracle_jobs_in_flight", help: "Jobs being computed or submitted by this node", registers: r }),
    requestsPending: new Gauge({ name: "oracle_requests_pending", help: "Requests this node has seen and not yet settled", registers: r }),
    signerExpiry: new Gauge({
      name: "oracle_signer_expiry_timestamp_seconds", help: "When each registered enclave signer's attestation expires (unix seconds, from the EnclaveRegistry)",
      labelNames: ["runner", "signer"], registers: r,
    }),
    senderBalance: new Gauge({ name: "oracle_sender_balance_ether", help: "Balance of each sending key, in ether", labelNames: ["address"], registers: r }),
    operatorFees: new Gauge({ name: "oracle_operator_fees_ether", help: "Fees the operator can withdraw from the oracle (balances), in ether", labelNames: ["operator"], registers: r }),
  };
  // Labelled counters appear in /metrics only once a label value exists: start the ones that
  // dashboards and alerts compute rates of at zero, so "no progress" is a zero, not an absent series.
  metrics.requestsFulfilled.inc({ outcome: "fulfilled" }, 0);
  metrics.requestsFulfilled.inc({ outcome: "already-settled" }, 0);
  metrics.txSent.inc({ kind: "first" }, 0);
  metrics.txSent.inc({ kind: "resend" }, 0);
  return metrics;
}
