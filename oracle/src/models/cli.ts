/**
 * `oracle model …`: the publisher's and the operator's model commands.
 *
 *   oracle model inspect <file.onnx> [--json]              graph, operators, shapes, size, metadata
 *   oracle model check <file.onnx> [--json]                will the runner serve it? (exit 1 if not, with the fix)
 *   oracle model pack <file.onnx> --spec <spec.json> --out <packed.onnx>
 *   oracle model fetch <sha256> [--uri <uri>]              fetch into the node's cache (hash checked) and pin it
 *   oracle model list                                      what the node's cache holds
 *   oracle model publish …                                 (publish.ts) register it on-chain
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command } from "commander";
import { ModelCache } from "./cache";
import { checkModel, formatCheck } from "./check";
import { ModelFetcher } from "./fetch";
import { formatSummary, summarize } from "./inspect";
import { packModel } from "./pack";
import { registerPublishCommand } from "./publish";

function readModelFile(file: string): Uint8Array {
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist: give the path of an .onnx file`);
  return fs.readFileSync(file);
}

/** The node's model cache folder: `<data dir>/models`. */
export function cacheDir(dataDir: string | undefined): string {
  return path.join(path.resolve(dataDir ?? process.env.ORACLE_DATA_DIR ?? ".oracle-data"), "models");
}

/** Mirrors from `--mirror` flags, else ORACLE_MODEL_MIRRORS (comma-separated). */
export function mirrorsFrom(flags: string[] | undefined): string[] {
  if (flags && flags.length) return flags;
  return (process.env.ORACLE_MODEL_MIRRORS ?? "").split(",").map((m) => m.trim()).filter(Boolean);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerModelCommands(program: Command): void {
  const model = program.command("model").description("Model files: inspect, check, pack and publish a model; fetch and list the node's cached models");

  model.command("inspect <file>").description("Show an ONNX file's graph: inputs, outputs, operators, parameters, size, metadata")
    .option("--json", "print JSON")
    .action((file: string, opts: { json?: boolean }) => {
      const s = summarize(readModelFile(file));
      process.stdout.write(opts.json ? JSON.stringify(s, null, 2) + "\n" : formatSummary(s));
    });

  model.command("check <file>").description("Check a model against what the runner serves; every refusal says what to change (exit 1)")
    .option("--json", "print JSON")
    .action(async (file: string, opts: { json?: boolean }) => {
      const r = await checkModel(readModelFile(file));
      process.stdout.write(opts.json ? JSON.stringify({ ok: r.ok, problems: r.problems, spec: r.spec, integerOnly: r.integerOnly, selfTest: r.selfTest, sha256: r.summary?.sha256 }, null, 2) + "\n" : formatCheck(r));
      if (!r.ok) process.exitCode = 1;
    });

  model.command("pack <file>").description("Write a spec (JSON: names, shapes, types, decimals, bounds, labels, encoding, determinism) into the model's metadata")
    .requiredOption("--spec <file>", "the spec as JSON (docs/models.md)")
    .requiredOption("--out <file>", "where to write the packed model")
    .action(async (file: string, opts: { spec: string; out: string }) => {
      let spec: unknown;
      try {
        spec = JSON.parse(fs.readFileSync(opts.spec, "utf8"));
      } catch (err) {
        throw new Error(`--spec ${opts.spec}: ${(err as Error).message}`);
      }
      const { bytes } = packModel(readModelFile(file), spec);
      const check = await checkModel(bytes);
      if (!check.ok) {
        process.stdout.write(formatCheck(check));
        throw new Error(`not written: the packed model would not be served; fix the problems above`);
      }
      fs.writeFileSync(opts.out, bytes);
      process.stdout.write(`wrote ${opts.out} (${bytes.length} bytes)\nsha256 ${check.summary!.sha256}\n`);
    });

  model.command("fetch <sha256>").description("Fetch a model into the node's cache (its sha256 checked first) and pin it")
    .option("--uri <uri>", "where to fetch it (https://, http://, file://, sha256:); default sha256:<hash> against the mirrors")
    .option("--mirror <url>", "a mirror for sha256: URIs (repeatable; default ORACLE_MODEL_MIRRORS)", collect)
    .option("--data-dir <dir>", "the node's data directory (default ORACLE_DATA_DIR or .oracle-data)")
    .action(async (hash: string, opts: { uri?: string; mirror?: string[]; dataDir?: string }) => {
      const h = hash.toLowerCase().startsWith("0x") ? hash.toLowerCase() : `0x${hash.toLowerCase()}`;
      if (!/^0x[0-9a-f]{64}$/.test(h)) throw new Error(`${hash} is not a sha256 (64 hex digits)`);
      const cache = new ModelCache(cacheDir(opts.dataDir));
      // The operator's own URI: a local file or a host on its network is fine.
      const fetcher = new ModelFetcher({ cache, mirrors: mirrorsFrom(opts.mirror), fileUris: true, privateHosts: true });
      const file = await fetcher.ensure(h, opts.uri ?? `sha256:${h.slice(2)}`);
      cache.pin(h);
      process.stdout.write(`cached and pinned ${h}\n  ${file}\n`);
    });

  model.command("list").description("List the models in the node's cache")
    .option("--data-dir <dir>", "the node's data directory (default ORACLE_DATA_DIR or .oracle-data)")
    .option("--json", "print JSON")
    .action((opts: { dataDir?: string; json?: boolean }) => {
      const list = new ModelCache(cacheDir(opts.dataDir)).list();
      if (opts.json) {
        process.stdout.write(JSON.stringify(list, null, 2) + "\n");
        return;
      }
      if (!list.length) process.stdout.write("no cached models\n");
      for (const m of list) process.stdout.write(`${m.modelHash}  ${String(m.bytes).padStart(9)} B  ${m.pinned ? "pinned" : "      "}  ${m.name}\n`);
    });

  registerPublishCommand(model);
}
