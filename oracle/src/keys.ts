/**
 * Where the node's sending keys come from, for an operator who keeps them off the command line and
 * out of the environment: a key file readable only by its owner (`ORACLE_PRIVATE_KEY_FILE`), or an
 * encrypted JSON keystore (`ORACLE_KEYSTORE`, the Web3 Secret Storage format geth, Foundry's
 * `cast wallet` and ethers write) with its password in a file (`ORACLE_KEYSTORE_PASSWORD_FILE`) or
 * the environment. `oracle keystore create` writes one. Nothing here ever prints a key or a password.
 */
import fs from "node:fs";
import path from "node:path";
import { Wallet, encryptKeystoreJson, isKeystoreJson } from "ethers";
import { PermanentError } from "./errors";

/** A key source that cannot be used; the message says what to fix and never holds a secret. */
export class KeySourceError extends PermanentError {
  override name = "KeySourceError";
}

/** A 32-byte private key as the node takes it: 64 hex digits, 0x optional. */
export const HEX_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

/** A {@link HEX_KEY} (trimmed) as the node keeps it: lower case, 0x-prefixed. */
export function normalizeKey(key: string): string {
  const k = key.trim();
  return (k.startsWith("0x") ? k : `0x${k}`).toLowerCase();
}

/** Refuses a secret file that other users can read, as ssh does for a private key. */
function ownerOnly(file: string, what: string): void {
  if (process.platform === "win32") return;
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new KeySourceError(`${what} ${file} can be read by other users (mode ${mode.toString(8)}): chmod 600 ${file}`);
  }
}

function readSecretFile(file: string, what: string): string {
  let text: string;
  try {
    ownerOnly(file, what);
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof KeySourceError) throw err;
    throw new KeySourceError(`${what} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return text;
}

/**
 * The keys in a key file: 32-byte hex keys (optional 0x), one per line or separated by commas;
 * blank lines and lines starting with # are skipped. The file must be readable by its owner only.
 */
export function readKeyFile(file: string): string[] {
  const text = readSecretFile(file, "ORACLE_PRIVATE_KEY_FILE");
  const parts = text.split("\n").filter((l) => !l.trim().startsWith("#")).join(",").split(",").map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new KeySourceError(`ORACLE_PRIVATE_KEY_FILE ${file} holds no key: write the operator key (64 hex digits) in it`);
  const bad = parts.findIndex((p) => !HEX_KEY.test(p));
  if (bad >= 0) throw new KeySourceError(`ORACLE_PRIVATE_KEY_FILE ${file}: key ${bad + 1} is not a 32-byte hex key (64 hex digits, optional 0x; the value is not shown)`);
  return parts.map(normalizeKey);
}

/** The password of a keystore: from its file (owner-only, one trailing newline dropped) or as given. */
export function keystorePassword(opts: { password?: string; passwordFile?: string }): string {
  if (opts.password !== undefined && opts.passwordFile !== undefined) {
    throw new KeySourceError("give the keystore password one way: ORACLE_KEYSTORE_PASSWORD_FILE or ORACLE_KEYSTORE_PASSWORD, not both");
  }
  const password = opts.passwordFile !== undefined
    ? readSecretFile(opts.passwordFile, "ORACLE_KEYSTORE_PASSWORD_FILE").replace(/\r?\n$/, "")
    : opts.password;
  if (password === undefined) {
    throw new KeySourceError("ORACLE_KEYSTORE needs its password: set ORACLE_KEYSTORE_PASSWORD_FILE to a file holding it (chmod 600), or ORACLE_KEYSTORE_PASSWORD");
  }
  if (password === "") throw new KeySourceError("the keystore password is empty: an encrypted keystore needs a password");
  return password;
}

/**
 * Decrypts each keystore (paths separated by commas; one password for all) and returns their keys
 * in order: the first is the operator key. Takes about half a second per file (scrypt).
 */
export function decryptKeystores(files: string, password: string): string[] {
  return files.split(",").map((f) => f.trim()).filter(Boolean).map((file) => {
    let json: string;
    try {
      json = fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new KeySourceError(`ORACLE_KEYSTORE ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (!isKeystoreJson(json)) throw new KeySourceError(`ORACLE_KEYSTORE ${file} is not an encrypted JSON keystore (Web3 Secret Storage v3): write one with \`oracle keystore create\``);
    try {
      return Wallet.fromEncryptedJsonSync(json, password).privateKey.toLowerCase();
    } catch (err) {
      const why = /incorrect password/i.test((err as Error).message) ? "the password is wrong" : (err as Error).message.split(" (")[0];
      throw new KeySourceError(`ORACLE_KEYSTORE ${file} cannot be decrypted: ${why}`);
    }
  });
}

/**
 * Writes `key` (or a new random key) to `file` as an encrypted JSON keystore, readable by its owner
 * only; refuses to overwrite. `scryptN` defaults to ethers' (2^17); `onProgress` gets 0..1.
 */
export async function createKeystore(
  file: string, password: string, opts: { key?: string; scryptN?: number; onProgress?: (fraction: number) => void } = {},
): Promise<{ address: string }> {
  if (password === "") throw new KeySourceError("the keystore password is empty: an encrypted keystore needs a password");
  if (opts.key !== undefined && !HEX_KEY.test(opts.key.trim())) throw new KeySourceError("the key to import is not a 32-byte hex key (64 hex digits, optional 0x; the value is not shown)");
  if (fs.existsSync(file)) throw new KeySourceError(`${file} exists: choose another path (a keystore is never overwritten)`);
  const wallet = opts.key !== undefined ? new Wallet(normalizeKey(opts.key)) : Wallet.createRandom();
  const json = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, password, {
    scrypt: opts.scryptN ? { N: opts.scryptN } : undefined, progressCallback: opts.onProgress,
  });
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, json, { mode: 0o600, flag: "wx" });
  return { address: wallet.address };
}
