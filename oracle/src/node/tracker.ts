/**
 * What this node knows about each request it has seen: its status and a trail of timestamped
 * steps (seen at block, queued, computed, submitted tx, confirmed), served by /v1/requests/:id.
 * Bounded: the oldest settled entries are dropped first.
 */
export type RequestStatus =
  | "seen" | "queued" | "computed" | "submitted" | "fulfilled" | "settled-elsewhere" | "failed" | "declined" | "dropped";

export interface TrailStep {
  step: string;
  at: string;
  block?: number;
  tx?: string;
  detail?: string;
}

export interface RequestRecord {
  requestId: string;
  modelId?: string;
  blockNumber: number;
  status: RequestStatus;
  trail: TrailStep[];
}

const TERMINAL: ReadonlySet<RequestStatus> = new Set(["fulfilled", "settled-elsewhere", "failed", "declined", "dropped"]);

export class RequestTracker {
  private readonly records = new Map<string, RequestRecord>();

  constructor(private readonly maxEntries = 200_000) {}

  get(requestId: string): RequestRecord | undefined {
    return this.records.get(requestId);
  }

  /** Records a step; creates the record if needed. Terminal statuses are not overwritten by later steps. */
  step(requestId: string, status: RequestStatus, step: Omit<TrailStep, "at">, init?: { modelId?: string; blockNumber?: number }): void {
    let rec = this.records.get(requestId);
    if (!rec) {
      rec = { requestId, modelId: init?.modelId, blockNumber: init?.blockNumber ?? 0, status, trail: [] };
      this.records.set(requestId, rec);
      this.evict();
    } else if (init?.blockNumber !== undefined) {
      rec.blockNumber = init.blockNumber;
    }
    rec.trail.push({ ...step, at: new Date().toISOString() });
    if (rec.trail.length > 50) rec.trail.splice(1, rec.trail.length - 50);
    if (!TERMINAL.has(rec.status) || TERMINAL.has(status)) rec.status = status;
  }

  isSettled(requestId: string): boolean {
    const r = this.records.get(requestId);
    return !!r && TERMINAL.has(r.status);
  }

  /** Requests seen but not settled, oldest block first. */
  pending(): RequestRecord[] {
    return [...this.records.values()].filter((r) => !TERMINAL.has(r.status)).sort((a, b) => a.blockNumber - b.blockNumber);
  }

  /** Lowest block holding an unsettled request, or undefined when all are settled. */
  lowestPendingBlock(): number | undefined {
    let low: number | undefined;
    for (const r of this.records.values()) if (!TERMINAL.has(r.status) && (low === undefined || r.blockNumber < low)) low = r.blockNumber;
    return low;
  }

  /** The most recently first-seen requests, newest first (the console's list). */
  recent(limit: number): RequestRecord[] {
    const out: RequestRecord[] = [];
    const all = [...this.records.values()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) out.push(all[i]);
    return out;
  }

  /** Requests seen and not settled. */
  get pendingCount(): number {
    let n = 0;
    for (const r of this.records.values()) if (!TERMINAL.has(r.status)) n++;
    return n;
  }

  get size(): number {
    return this.records.size;
  }

  private evict(): void {
    if (this.records.size <= this.maxEntries) return;
    for (const [id, r] of this.records) {
      if (TERMINAL.has(r.status)) {
        this.records.delete(id);
        if (this.records.size <= this.maxEntries) return;
      }
    }
  }
}
