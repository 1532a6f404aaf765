/**
 * `oracle keystore create <file>`: writes the operator's key (a new one, or ORACLE_PRIVATE_KEY with
 * --import) as an encrypted JSON keystore readable by its owner only, so the node can start with
 * ORACLE_KEYSTORE and ORACLE_KEYSTORE_PASSWORD_FILE instead of a key in its environment.
 */
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { CONFIG_SPEC } from "../config";
import { KeySourceError, createKeystore, keystorePassword } from "../keys";

interface CreateOpts {
  import?: boolean;
  scryptN?: string;
}

export function registerKeystoreCommand(program: Command): void {
  const keystore = program.command("keystore").description("Encrypted JSON keystores for the node's sending keys (ORACLE_KEYSTORE)");
  keystore
    .command("create <file>")
    .description("Write a new key (or ORACLE_PRIVATE_KEY, with --import) to <file> as an encrypted JSON keystore, mode 600; prints its address")
    .option("--import", "encrypt the key in ORACLE_PRIVATE_KEY instead of making a new one")
    .option("--scrypt-n <n>", "scrypt cost, a power of two from 1024 (default 131072: about half a second to decrypt; lower only for tests)")
    .addHelpText("after", "\nThe password is read from ORACLE_KEYSTORE_PASSWORD_FILE (a file only its owner can read) or\nORACLE_KEYSTORE_PASSWORD, never from a flag. Start the node with\n  ORACLE_KEYSTORE=<file> ORACLE_KEYSTORE_PASSWORD_FILE=<password file> oracle start\n")
    .action(async (file: string, opts: CreateOpts) => {
      try {
        const scryptN = opts.scryptN === undefined ? undefined : Number(opts.scryptN);
        if (scryptN !== undefined && !(Number.isInteger(scryptN) && scryptN >= 1024 && (scryptN & (scryptN - 1)) === 0)) {
          throw new KeySourceError(`--scrypt-n must be a power of two from 1024, got "${opts.scryptN}"`);
        }
        const env = (k: "keystorePassword" | "keystorePasswordFile" | "privateKeys") => process.env[CONFIG_SPEC[k].env] || undefined;
        const password = keystorePassword({ password: env("keystorePassword"), passwordFile: env("keystorePasswordFile") });
        let key: string | undefined;
        if (opts.import) {
          key = env("privateKeys")?.trim();
          if (!key) throw new KeySourceError("--import encrypts the key in ORACLE_PRIVATE_KEY: set it (keys are never taken from flags)");
          if (key.includes(",")) throw new KeySourceError("--import takes one key, and ORACLE_PRIVATE_KEY holds several: create one keystore per key and list them in ORACLE_KEYSTORE, separated by commas");
        }
        const bar = process.stderr.isTTY
          ? new cliProgress.SingleBar({ format: " encrypting (scrypt) {bar} {percentage}%", hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic)
          : undefined;
        bar?.start(100, 0);
        const { address } = await createKeystore(file, password, { key, scryptN, onProgress: (f) => bar?.update(Math.round(f * 100)) });
        bar?.stop();
        process.stdout.write(JSON.stringify({ keystore: file, address }, null, 2) + "\n");
        process.stderr.write(`keystore written (mode 600). Start the node with ORACLE_KEYSTORE=${file} and ORACLE_KEYSTORE_PASSWORD_FILE=<the password file>${opts.import ? "" : `; fund ${address} first`}\n`);
      } catch (err) {
        process.stderr.write(`error: ${(err as Error).message}\n`);
        process.exit(err instanceof KeySourceError ? 2 : 1);
      }
    });
}
