/**
 * Finds a model file by its sha256 in a folder: `<folder>/<64 hex>.onnx` (the node's cache
 * layout) or, failing that, any `*.onnx` file whose bytes hash to it (a folder of named models,
 * such as the repository's models/). The caller still checks the hash of the bytes it reads:
 * the index only says where to look.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { sha256Hex } from "../protocol/bytes";

interface Indexed {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** Per folder: file name → the hash it had at that size and mtime. */
const indexes = new Map<string, Map<string, Indexed>>();

/** The cache file name of a model hash (0x-hex, any case): `<64 lower-case hex>.onnx`. */
export function modelFileName(modelHash: string): string {
  return `${modelHash.toLowerCase().replace(/^0x/, "")}.onnx`;
}

/**
 * The path of the file with this sha256 in `dir`, or undefined. Files larger than `maxBytes` are
 * not hashed (they could not be served anyway).
 */
export function findModelFile(dir: string, modelHash: string, maxBytes = Number.MAX_SAFE_INTEGER): string | undefined {
  const hash = modelHash.toLowerCase();
  const direct = path.join(dir, modelFileName(hash));
  if (fs.existsSync(direct)) return direct;
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith(".onnx"));
  } catch {
    return undefined;
  }
  let index = indexes.get(dir);
  if (!index) indexes.set(dir, (index = new Map()));
  for (const name of names) {
    const file = path.join(dir, name);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      continue;
    }
    if (!stat.isFile() || stat.size > maxBytes) continue;
    let known = index.get(name);
    if (!known || known.size !== stat.size || known.mtimeMs !== stat.mtimeMs) {
      known = { size: stat.size, mtimeMs: stat.mtimeMs, sha256: sha256Hex(fs.readFileSync(file)) };
      index.set(name, known);
    }
    if (known.sha256 === hash) return file;
  }
  return undefined;
}
