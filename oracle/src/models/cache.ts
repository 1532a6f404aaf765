/**
 * The node's model cache: `<dir>/<sha256 hex>.onnx`, written only with bytes whose sha256 was
 * checked, atomically (temporary file, then rename). Pinned models (`oracle model fetch`) are
 * listed in `<dir>/pins.json` and never evicted; others are evicted least recently used first
 * when the cache grows past its size limit. The runner reads the same folder (store.ts), and
 * checks each file's hash again before it creates a session.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { sha256Hex } from "../protocol/bytes";
import { ModelHashMismatchError } from "./errors";
import { modelFileName } from "./locate";
import { readModelSpec } from "./spec";

const HASH_RE = /^0x[0-9a-f]{64}$/;
const PINS_FILE = "pins.json";

/** One cached model, as `oracle model list` shows it. */
export interface CachedModel {
  modelHash: string;
  file: string;
  bytes: number;
  pinned: boolean;
  /** The name in the file's spec, or why the spec cannot be read. */
  name: string;
}

export class ModelCache {
  readonly dir: string;
  /** Largest total size of unpinned files before eviction; default 1 GiB. */
  readonly maxBytes: number;

  constructor(dir: string, options: { maxBytes?: number } = {}) {
    this.dir = path.resolve(dir);
    this.maxBytes = options.maxBytes ?? 1024 * 1024 * 1024;
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** The cache path of a model hash (the file may not exist). */
  path(modelHash: string): string {
    return path.join(this.dir, modelFileName(checkHash(modelHash)));
  }

  has(modelHash: string): boolean {
    return fs.existsSync(this.path(modelHash));
  }

  /** Marks a cached model as used now (for eviction order). */
  touch(modelHash: string): void {
    const now = new Date();
    try {
      fs.utimesSync(this.path(modelHash), now, now);
    } catch {
      // not cached: nothing to mark
    }
  }

  /**
   * Stores bytes under their hash after checking that they hash to `modelHash`
   * (ModelHashMismatchError otherwise; nothing is written). Returns the file's path.
   */
  put(modelHash: string, bytes: Uint8Array, source = "fetched bytes"): string {
    const hash = checkHash(modelHash);
    const actual = sha256Hex(bytes);
    if (actual !== hash) throw new ModelHashMismatchError(source, hash, actual);
    return this.store(hash, bytes);
  }

  /** Adds every `*.onnx` file of a folder (e.g. the repository's models/) under its hash; returns the hashes. */
  importDir(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((n) => n.endsWith(".onnx")).sort().map((n) => {
      const bytes = fs.readFileSync(path.join(dir, n));
      const hash = sha256Hex(bytes);
      this.store(hash, bytes);
      return hash;
    });
  }

  /** Writes bytes already known to hash to `hash` (atomically, once), then evicts. */
  private store(hash: string, bytes: Uint8Array): string {
    const file = this.path(hash);
    if (!fs.existsSync(file)) {
      const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
      fs.writeFileSync(tmp, bytes);
      fs.renameSync(tmp, file);
    }
    this.evict(hash);
    return file;
  }

  pins(): Set<string> {
    try {
      return new Set((JSON.parse(fs.readFileSync(path.join(this.dir, PINS_FILE), "utf8")) as string[]).filter((h) => HASH_RE.test(h)));
    } catch {
      return new Set();
    }
  }

  /** Pins a cached model: it is never evicted. */
  pin(modelHash: string): void {
    const pins = this.pins();
    pins.add(checkHash(modelHash));
    const file = path.join(this.dir, PINS_FILE);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify([...pins].sort(), null, 2) + "\n");
    fs.renameSync(`${file}.tmp`, file);
  }

  /** Every cached model, by hash. */
  list(): CachedModel[] {
    const pins = this.pins();
    return fs.readdirSync(this.dir)
      .filter((n) => /^[0-9a-f]{64}\.onnx$/.test(n))
      .sort()
      .map((n) => {
        const file = path.join(this.dir, n);
        const bytes = fs.readFileSync(file);
        let name: string;
        try {
          name = readModelSpec(bytes).name;
        } catch (err) {
          name = `(no valid spec: ${(err as Error).message.split("\n")[0]})`;
        }
        const modelHash = "0x" + n.slice(0, 64);
        return { modelHash, file, bytes: bytes.length, pinned: pins.has(modelHash), name };
      });
  }

  /** Deletes least recently used unpinned files until the unpinned total fits `maxBytes`; `keep` stays. */
  private evict(keep: string): void {
    const pins = this.pins();
    const files = fs.readdirSync(this.dir)
      .filter((n) => /^[0-9a-f]{64}\.onnx$/.test(n) && !pins.has("0x" + n.slice(0, 64)) && "0x" + n.slice(0, 64) !== keep)
      .map((n) => ({ file: path.join(this.dir, n), stat: fs.statSync(path.join(this.dir, n)) }))
      .sort((a, b) => a.stat.mtimeMs - b.stat.mtimeMs);
    const kept = pins.has(keep) ? 0 : fs.statSync(this.path(keep)).size;
    let total = kept + files.reduce((s, f) => s + f.stat.size, 0);
    for (const f of files) {
      if (total <= this.maxBytes) break;
      fs.rmSync(f.file, { force: true });
      total -= f.stat.size;
    }
  }
}

function checkHash(modelHash: string): string {
  const hash = String(modelHash).toLowerCase();
  if (!HASH_RE.test(hash)) throw new TypeError(`not a model hash (0x and 64 hex digits): ${modelHash}`);
  return hash;
}
