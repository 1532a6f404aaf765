/**
 * deployments/<network>.json: written by scripts/deploy.ts, read by the node and the auditor.
 * The node takes every contract address from this file and nowhere else.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { getAddress } from "ethers";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "an 0x-prefixed 20-byte address").transform((a) => getAddress(a));
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "an 0x-prefixed 32-byte hex word");

export const DeploymentSchema = z.object({
  /** Network name (the file's base name). */
  network: z.string(),
  chainId: z.number().int().positive(),
  /** Block of the first deployment transaction: the watcher's default start. */
  deploymentBlock: z.number().int().nonnegative(),
  /** Contract name → address; InferenceOracle, ModelRegistry and EnclaveRegistry are required. */
  contracts: z.object({ InferenceOracle: address, ModelRegistry: address, EnclaveRegistry: address }).catchall(address),
  /** Model name (as in models/manifest.json) → on-chain model id. */
  models: z.record(z.number().int().positive()),
  /** Model name → sha256 of its .onnx bytes, as registered. */
  modelHashes: z.record(bytes32).default({}),
  /** The development platform (a SIMULATION of TEE hardware) whose root the EnclaveRegistry trusts. */
  devPlatform: z
    .object({
      rootPublicKey: z.object({ x: bytes32, y: bytes32 }),
      rootId: bytes32,
      /** Where its state (keys) lives, relative to the repository; secret material, gitignored. */
      stateFile: z.string().optional(),
    })
    .optional(),
  /** Runner measurement allowed in the EnclaveRegistry and for every model at deploy time. */
  measurement: bytes32.optional(),
  deployer: address.optional(),
  deployedAt: z.string().optional(),
});
export type Deployment = z.infer<typeof DeploymentSchema>;

/** Reads and validates a deployment file; the error names the file and what is wrong in it. */
export function loadDeployment(file: string): Deployment {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === "ENOENT" ? " (run scripts/deploy.ts for this network first)" : "";
    throw new Error(`deployment file ${file} cannot be read: ${e.message}${hint}`);
  }
  const parsed = DeploymentSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ");
    throw new Error(`deployment file ${file} is not valid: ${issues}`);
  }
  return parsed.data;
}

export function writeDeployment(file: string, d: Deployment): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(DeploymentSchema.parse(d), null, 2) + "\n");
}
