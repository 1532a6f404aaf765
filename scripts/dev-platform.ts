/**
 * Creates the development platform (a SOFTWARE SIMULATION of TEE hardware) for a network:
 *   npx ts-node scripts/dev-platform.ts --network <name> [--force]
 * writes .oracle-data/dev-platform/<network>.json (mode 0600, gitignored; the file `npm run deploy` uses) and prints the vendor root
 * public key and rootId, which the registry owner adds with EnclaveRegistry.addRoot(x, y).
 * An existing platform is kept (and printed) unless --force is given.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { createDevPlatform, loadDevPlatform, saveDevPlatform } from "../oracle/src/enclave/platform";
import { devPlatformFile } from "./deploy";

function main(argv: string[]): void {
  const at = argv.indexOf("--network");
  const network = at >= 0 ? argv[at + 1] : undefined;
  if (!network || !/^[A-Za-z0-9_-]+$/.test(network)) {
    process.stderr.write("usage: dev-platform --network <name> [--force]\n");
    process.exit(2);
  }
  const file = devPlatformFile(network);
  let created = false;
  if (!existsSync(file) || argv.includes("--force")) {
    saveDevPlatform(createDevPlatform(), file);
    created = true;
  }
  const platform = loadDevPlatform(file);
  process.stdout.write(JSON.stringify({
    network,
    file: path.relative(process.cwd(), file),
    created,
    simulation: "development platform: a software simulation of TEE hardware, not hardware-backed",
    rootKeyX: platform.rootPublicKey.x,
    rootKeyY: platform.rootPublicKey.y,
    rootId: platform.rootId,
    platformId: platform.platformId,
  }, null, 2) + "\n");
}

main(process.argv.slice(2));
