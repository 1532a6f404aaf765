/**
 * `oracle audit attest`: verify real TEE evidence under a policy and, only if it is valid,
 * countersign the EIP-712 `EnclaveAttestation` that `EnclaveRegistry.registerAttestedEnclave`
 * takes from a threshold of auditors.
 *
 *   oracle audit attest --format <nitro|dcap|sev-snp> --file F [--collateral C] [--at T]
 *        [--trust-anchor root.pem] --policy P --signer 0xENCLAVE --operator 0xOPERATOR --measurement 0x.. --tee-type N
 *        --expires-at T [--max-lifetime S] (--registry 0xADDR --chain-id N | --network N | --deployment F)
 *        (--key-env VAR | --key-file F) [--json]
 *
 * The auditor key comes from an environment variable or a file (mode 0600), never from an
 * argument value, so it does not land in shell history or `ps`; it is never printed.
 * The attestation binds the operator: only that account can register it, so a copy taken from the
 * mempool registers nothing for anyone else. The output shows it next to the signer.
 * Exit codes: 0 signed, 1 refused (the output names the failed check), 2 bad usage.
 */
import { readFileSync, statSync } from "fs";
import * as path from "path";
import { Command, InvalidArgumentError, Option } from "commander";
import { Wallet, getAddress, isAddress } from "ethers";
import { loadDeployment } from "../../chain/deployment";
import { TeeType } from "../../protocol/constants";
import { attestEvidence, DEFAULT_MAX_LIFETIME_SECONDS, type AttestOutcome } from "../attest";
import { errorMessage } from "../checks";
import { EXIT, readEvidenceArgs, unixSeconds, usage, type CliIo } from "./args";
import { AuditError } from "../errors";
import { loadPolicyFile, type Policy } from "../policy-schema";
import { checkLines } from "../text-report";
import { EVIDENCE_FORMATS, type EvidenceFormat } from "../types";

interface AttestOptions {
  format: EvidenceFormat;
  file: string;
  collateral?: string;
  at?: number;
  trustAnchor?: string;
  policy: string;
  signer: string;
  operator: string;
  measurement: string;
  teeType: number;
  expiresAt: number;
  maxLifetime: number;
  registry?: string;
  chainId?: bigint;
  network?: string;
  deployment?: string;
  keyEnv?: string;
  keyFile?: string;
  json?: boolean;
}

function positiveInt(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("give a positive whole number");
  return Number(value);
}

function chainIdArg(value: string): bigint {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("give the chain id as a positive whole number, e.g. 31337");
  return BigInt(value);
}

function teeTypeArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || TeeType[n] === undefined) {
    const known = Object.entries(TeeType).filter(([, v]) => typeof v === "number").map(([k, v]) => `${v} ${k}`).join(", ");
    throw new InvalidArgumentError(`unknown TEE type; one of ${known}`);
  }
  return n;
}

function addressArg(value: string): string {
  if (!isAddress(value)) throw new InvalidArgumentError("give a 20-byte hex address, e.g. 0x5FbDB2315678afecb367f032d93F642f64180aa3");
  return getAddress(value);
}

function bytes32Arg(value: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) throw new InvalidArgumentError("give a 0x-prefixed 32-byte hex word");
  return value.toLowerCase();
}

const PRIVATE_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

/**
 * Reads the auditor key from an environment variable or a file. Error messages name the
 * variable or file, never its content.
 */
export function readAuditorKey(source: { keyEnv?: string; keyFile?: string }, env: NodeJS.ProcessEnv = process.env): Wallet {
  if ((source.keyEnv === undefined) === (source.keyFile === undefined)) {
    throw new AuditError("give the auditor key with exactly one of --key-env VAR or --key-file FILE (never as an argument value)");
  }
  let text: string;
  let where: string;
  if (source.keyEnv !== undefined) {
    where = `environment variable ${source.keyEnv}`;
    const value = env[source.keyEnv];
    if (value === undefined || value === "") throw new AuditError(`${where} is not set: export the auditor's private key in it`);
    text = value.trim();
  } else {
    const file = source.keyFile!;
    where = `key file ${file}`;
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
      text = readFileSync(file, "utf8").trim();
    } catch (error) {
      throw new AuditError(`cannot read ${where}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
    }
    if (process.platform !== "win32" && (mode & 0o077) !== 0) {
      throw new AuditError(`${where} has mode ${mode.toString(8)}: others can read the auditor key; chmod 600 it`);
    }
  }
  if (!PRIVATE_KEY.test(text)) throw new AuditError(`${where} does not hold a private key (64 hex digits, 0x optional)`);
  return new Wallet(text.startsWith("0x") ? text : `0x${text}`);
}

/** The registry address and chain id from the flags, or from the deployment file. */
function resolveTarget(command: Command, options: AttestOptions): { registry: string; chainId: bigint } {
  let registry = options.registry;
  let chainId = options.chainId;
  if (options.network !== undefined || options.deployment !== undefined) {
    const file = path.resolve(options.deployment ?? path.join("deployments", `${options.network}.json`));
    let d;
    try {
      d = loadDeployment(file);
    } catch (error) {
      return usage(command, errorMessage(error));
    }
    if (registry !== undefined && registry !== d.contracts.EnclaveRegistry) {
      usage(command, `--registry ${registry} differs from the EnclaveRegistry ${d.contracts.EnclaveRegistry} in ${file}; give one of them`);
    }
    if (chainId !== undefined && chainId !== BigInt(d.chainId)) {
      usage(command, `--chain-id ${chainId} differs from chainId ${d.chainId} in ${file}; give one of them`);
    }
    registry = d.contracts.EnclaveRegistry;
    chainId = BigInt(d.chainId);
  }
  if (registry === undefined || chainId === undefined) {
    usage(command, "say which EnclaveRegistry the signature is for: --registry 0xADDR --chain-id N, or --network N (reads deployments/<N>.json)");
  }
  return { registry, chainId };
}

/** The outcome in words (signature included when signed; the key never is). */
export function formatAttestText(outcome: AttestOutcome): string {
  if (!outcome.signed) {
    return [`REFUSED: nothing signed; first failed check: ${outcome.failedCheck}`, "", "checks:", ...checkLines(outcome.checks)].join("\n");
  }
  const r = outcome.result;
  return [
    `SIGNED by auditor ${r.auditor}: EnclaveAttestation for enclave signer ${r.attestation.signer}`,
    `  operator      ${r.attestation.operator} (the only account that can register it; it is paid the signer's fees)`,
    `  measurement   ${r.attestation.measurement}`,
    `  teeType       ${r.attestation.teeType} (${TeeType[r.attestation.teeType]})`,
    `  evidenceHash  ${r.evidenceHash} (sha256 of the evidence bytes)`,
    `  expiresAt     ${r.attestation.expiresAt} (${new Date(r.attestation.expiresAt * 1000).toISOString()})`,
    `  domain        EnclaveRegistry v${r.domain.version}, chain ${r.domain.chainId}, ${r.domain.verifyingContract}`,
    `  digest        ${r.digest}`,
    `  signature     ${r.signature}`,
    "",
    "checks:",
    ...checkLines(r.checks),
  ].join("\n");
}

async function runAttest(command: Command, options: AttestOptions, io: CliIo): Promise<void> {
  const { evidence, collateral } = readEvidenceArgs(command, options);
  let trustAnchor: Buffer | undefined;
  if (options.trustAnchor !== undefined) {
    try {
      trustAnchor = readFileSync(options.trustAnchor);
    } catch (error) {
      return usage(command, `cannot read --trust-anchor ${options.trustAnchor}: ${errorMessage(error)}`);
    }
  }
  let policy: Policy;
  try {
    policy = loadPolicyFile(options.policy);
  } catch (error) {
    return usage(command, errorMessage(error));
  }
  const { registry, chainId } = resolveTarget(command, options);
  let key: Wallet;
  try {
    key = readAuditorKey(options);
  } catch (error) {
    return usage(command, errorMessage(error));
  }
  let outcome: AttestOutcome;
  try {
    outcome = await attestEvidence(
      {
        format: options.format, evidence, collateral, at: options.at ?? Math.floor(Date.now() / 1000), policy,
        trustAnchor: trustAnchor && (trustAnchor.includes("-----BEGIN") ? trustAnchor.toString("utf8") : trustAnchor),
        signer: options.signer, operator: options.operator, measurement: options.measurement, teeType: options.teeType, expiresAt: options.expiresAt,
        maxLifetimeSeconds: options.maxLifetime, chainId, registry,
      },
      key,
    );
  } catch (error) {
    if (error instanceof AuditError) return usage(command, error.message);
    throw error;
  }
  if (options.json) {
    const body = outcome.signed
      ? { signed: true, ...outcome.result }
      : { signed: false, failedCheck: outcome.failedCheck, checks: outcome.checks };
    io.out(`${JSON.stringify(body, null, 2)}\n`);
  } else {
    io.out(`${formatAttestText(outcome)}\n`);
  }
  io.setExitCode(outcome.signed ? EXIT.VALID : EXIT.INVALID);
}

/** Adds `attest` under the `audit` command. */
export function registerAttestCommand(audit: Command, io: CliIo): Command {
  return audit
    .command("attest")
    .description("verify real TEE evidence under a policy and, only if valid, countersign the EnclaveAttestation for registerAttestedEnclave")
    .addOption(new Option("--format <format>", "evidence format").choices(EVIDENCE_FORMATS).makeOptionMandatory())
    .requiredOption("--file <path>", "the evidence (Nitro document, DCAP quote, SEV-SNP report); evidenceHash = sha256 of these bytes")
    .option("--collateral <path>", "dcap / sev-snp collateral, as for verify-evidence")
    .option("--at <unix-seconds>", "verify as of this time (default: now)", unixSeconds)
    .option("--trust-anchor <pem-or-der>", "vendor root to pin instead of the built-in one (a test CA, a root the project does not embed)")
    .requiredOption("--policy <path>", "policy JSON; must name enclaveSigner and pin the code (PCR0, mrEnclave, mrTd or measurement)")
    .requiredOption("--signer <0xADDRESS>", "the enclave's result-signing address, bound in the evidence", addressArg)
    .requiredOption("--operator <0xADDRESS>", "the operator account that alone may register the attestation (and is paid the signer's fees)", addressArg)
    .requiredOption("--measurement <0xBYTES32>", "the runner measurement to bind to the signer", bytes32Arg)
    .requiredOption("--tee-type <n>", "1 AwsNitro, 2 IntelSgx, 3 IntelTdx, 4 AmdSevSnp", teeTypeArg)
    .requiredOption("--expires-at <unix-seconds>", "when the attestation (and the signer's registration) lapses", unixSeconds)
    .option("--max-lifetime <seconds>", "refuse an --expires-at further than this after --at", positiveInt, DEFAULT_MAX_LIFETIME_SECONDS)
    .option("--registry <0xADDRESS>", "the EnclaveRegistry (EIP-712 verifying contract)", addressArg)
    .option("--chain-id <n>", "the chain of the registry", chainIdArg)
    .option("--network <name>", "read the registry and chain id from deployments/<name>.json")
    .option("--deployment <file>", "read the registry and chain id from this deployment file")
    .option("--key-env <VAR>", "environment variable holding the auditor's private key")
    .option("--key-file <path>", "file (mode 0600) holding the auditor's private key")
    .option("--json", "print {attestation (with operator), signature, auditor, evidenceHash, checks} as JSON")
    .action(async function (this: Command, options: AttestOptions) {
      await runAttest(this, options, io);
    });
}
