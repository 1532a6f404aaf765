#!/usr/bin/env node
// `npm run demo`: says something at once (before TypeScript loads), builds what the demo needs
// (the contracts, with `hardhat compile`: incremental, so a second run costs about a second),
// then runs scripts/demo.ts through ts-node (transpile only).
"use strict";
const { spawnSync } = require("node:child_process");
const path = require("node:path");

const root = path.join(__dirname, "..");
const t0 = Date.now();
const say = (s) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${s}\n`);

say("npm run demo: building the contracts (hardhat compile; the first run compiles 40 files, ~20 s)…");
const hardhat = require.resolve("hardhat/internal/cli/bootstrap.js", { paths: [root] });
// Its output (compiler warnings of dependencies) is shown only when it fails.
const built = spawnSync(process.execPath, [hardhat, "compile", "--quiet"], { cwd: root, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
if (built.status !== 0) {
  process.stderr.write(`${built.stdout ?? ""}${built.stderr ?? ""}demo failed: \`npx hardhat compile\` exited with ${built.status ?? built.signal}${built.error ? ` (${built.error.message})` : ""}\n`);
  process.exit(1);
}
say("contracts built; loading the demo (TypeScript)…");
process.env.TS_NODE_PROJECT = process.env.TS_NODE_PROJECT || path.join(root, "tsconfig.json");
require(require.resolve("ts-node/register/transpile-only", { paths: [root] }));
const { main } = require(path.join(root, "scripts", "demo.ts"));
main(t0).then((code) => process.exit(code));
