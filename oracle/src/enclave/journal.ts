/**
 * The signature journal: every signature the enclave host lets out, with the results it covers,
 * one JSON line per signature in `<dir>/<signer>.jsonl`, flushed to disk before the signature is
 * released. The host asks it first whether a result would contradict one the same key already
 * signed for the same request (same id, model and input, another output or status): that pair
 * of signatures is what the EquivocationSlasher takes as proof, so the host withholds the new
 * signature instead (EquivocationRefusedError). With the journal kept beside the sealed key, the
 * guarantee holds across crashes, retries and restarts that restore the key.
 */
import fs from "node:fs";
import path from "node:path";

/** One signed result as journaled (hex strings, the request id in decimal). */
export interface JournaledResult {
  requestId: string;
  modelHash: string;
  inputHash: string;
  outputHash: string;
  status: number;
}

/** One line of the journal: a signature and the results it covers (one for `fulfil`, n for a batch). */
export interface JournalEntry {
  signer: string;
  mode: "single" | "batch";
  signature: string;
  results: JournaledResult[];
}

/** A result that contradicts one already signed by the same key. */
export interface Conflict {
  requestId: string;
  signed: { outputHash: string; status: number };
  attempted: { outputHash: string; status: number };
}

const requestKey = (r: JournaledResult) => `${r.requestId}:${r.modelHash.toLowerCase()}:${r.inputHash.toLowerCase()}`;
const resultKey = (r: { outputHash: string; status: number }) => `${r.outputHash.toLowerCase()}:${r.status}`;

export class SignatureJournal {
  /** request key -> result key of what this signer signed for it. */
  readonly #signed = new Map<string, string>();
  readonly #file: string | undefined;

  /**
   * The journal of `signer`: loaded from `<dir>/<signer>.jsonl` when `dir` is given (and the
   * file exists), in memory only otherwise (the guard then lasts as long as the process).
   */
  constructor(readonly signer: string, dir?: string) {
    if (dir === undefined) return;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#file = path.join(dir, `${signer}.jsonl`);
    if (!fs.existsSync(this.#file)) return;
    dropTornTail(this.#file);
    for (const entry of readJournalFile(this.#file)) this.#remember(entry.results);
  }

  /** The results of `results` (in order, each against the journal and the ones before it) that contradict a signed one. */
  conflicts(results: JournaledResult[]): Conflict[] {
    const seen = new Map<string, string>();
    const out: Conflict[] = [];
    for (const r of results) {
      const key = requestKey(r);
      const previous = this.#signed.get(key) ?? seen.get(key);
      if (previous !== undefined && previous !== resultKey(r)) {
        const [outputHash, status] = previous.split(":");
        out.push({ requestId: r.requestId, signed: { outputHash, status: Number(status) }, attempted: { outputHash: r.outputHash, status: r.status } });
      }
      seen.set(key, resultKey(r));
    }
    return out;
  }

  /** Records a signature about to be released; on disk (written and flushed) before it returns. */
  append(entry: JournalEntry): void {
    if (this.#file !== undefined) {
      const fd = fs.openSync(this.#file, "a", 0o600);
      try {
        fs.writeSync(fd, JSON.stringify(entry) + "\n");
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    this.#remember(entry.results);
  }

  #remember(results: JournaledResult[]): void {
    for (const r of results) this.#signed.set(requestKey(r), resultKey(r));
  }
}

/**
 * Cuts a last line that has no newline: a crash in the middle of `append`, whose signature was
 * therefore never released. Left in place, the next line would be glued to it.
 */
function dropTornTail(file: string): void {
  const text = fs.readFileSync(file, "utf8");
  if (text.length === 0 || text.endsWith("\n")) return;
  fs.truncateSync(file, Buffer.byteLength(text.slice(0, text.lastIndexOf("\n") + 1)));
}

/** Every entry of one journal file; a torn last line (a crash mid-write, never flushed) is skipped. */
export function readJournalFile(file: string): JournalEntry[] {
  const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0);
  const out: JournalEntry[] = [];
  lines.forEach((line, i) => {
    try {
      out.push(JSON.parse(line) as JournalEntry);
    } catch (err) {
      if (i !== lines.length - 1) throw new Error(`signature journal ${file} line ${i + 1} is corrupt: ${(err as Error).message}`);
    }
  });
  return out;
}

/** Every entry of every journal in `dir` (the e2e suite and an operator's own checks read them all). */
export function readJournalDir(dir: string): JournalEntry[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort().flatMap((f) => readJournalFile(path.join(dir, f)));
}
