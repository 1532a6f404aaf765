/**
 * The watcher's checkpoint: how far it has scanned (block and hash, to notice reorgs) and the
 * settled watermark, the highest block below which every request it saw is settled (fulfilled,
 * expired, or failed for good). A restarted node re-scans from `settled + 1` and re-checks each
 * request on-chain, so losing Redis (or the file) loses no work: it only costs a re-scan.
 *
 * Kept in a small file in the data dir and, when Redis is configured, in Redis too. On load the
 * lower `settled` wins: a re-scan is cheap, a skipped block is a lost request.
 */
import fs from "node:fs";
import path from "node:path";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

export interface Checkpoint {
  scannedBlock: number;
  scannedHash: string;
  settledBlock: number;
}

export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(cp: Checkpoint): Promise<void>;
}

export class FileCheckpointStore implements CheckpointStore {
  constructor(readonly file: string) {}

  async load(): Promise<Checkpoint | undefined> {
    try {
      return parse(fs.readFileSync(this.file, "utf8"));
    } catch {
      return undefined;
    }
  }

  async save(cp: Checkpoint): Promise<void> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(cp));
    fs.renameSync(tmp, this.file); // atomic: a crash leaves the old or the new file, never half
  }
}

export class RedisCheckpointStore implements CheckpointStore {
  constructor(private readonly redis: Redis, readonly key: string) {}

  async load(): Promise<Checkpoint | undefined> {
    const v = await this.redis.get(this.key);
    return v ? parse(v) : undefined;
  }

  async save(cp: Checkpoint): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(cp));
  }
}

/** Writes to every store, loads the most conservative checkpoint of those that answer. */
export class CombinedCheckpointStore implements CheckpointStore {
  constructor(private readonly stores: CheckpointStore[], private readonly log?: Logger) {}

  async load(): Promise<Checkpoint | undefined> {
    let best: Checkpoint | undefined;
    for (const s of this.stores) {
      const cp = await s.load().catch((err) => {
        this.log?.warn({ err: (err as Error).message }, "checkpoint store unreadable");
        return undefined;
      });
      if (cp && (!best || cp.settledBlock < best.settledBlock)) best = cp;
    }
    return best;
  }

  async save(cp: Checkpoint): Promise<void> {
    await Promise.all(this.stores.map((s) => s.save(cp).catch((err) =>
      this.log?.warn({ err: (err as Error).message }, "checkpoint not saved to one store"))));
  }
}

function parse(s: string): Checkpoint | undefined {
  const v = JSON.parse(s) as Partial<Checkpoint>;
  if (typeof v.scannedBlock !== "number" || typeof v.settledBlock !== "number" || typeof v.scannedHash !== "string") {
    return undefined;
  }
  return { scannedBlock: v.scannedBlock, scannedHash: v.scannedHash, settledBlock: v.settledBlock };
}
