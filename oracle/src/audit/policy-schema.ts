/**
 * The measurement policy an auditor verifies evidence against: its schema, the default, and
 * reading one from a file. Its evaluation against a verifier's claims is in `policy.ts`.
 */
import { readFileSync } from "fs";
import { getAddress, isAddress } from "ethers";
import { z } from "zod";
import { PolicyError } from "./errors";

const hexValue = z
  .string()
  .regex(/^(0x)?([0-9a-fA-F]{2})*$/, "must be hex (an even number of digits, 0x optional)")
  .transform((value) => value.replace(/^0x/, "").toLowerCase());

/** One hex value or a non-empty list of them; always a list after parsing. */
const oneOrMany = z.preprocess((value) => (Array.isArray(value) ? value : [value]), z.array(hexValue).nonempty());

/** TCB statuses of Intel DCAP (as dcap-qvl reports them). */
export const TCB_STATUSES = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
  "NoMatchingTcbLevel",
] as const;

/** The policy schema. Unknown keys are rejected so that a typo cannot weaken a policy. */
export const PolicySchema = z
  .object({
    /** Allowed launch measurements (SEV-SNP MEASUREMENT, development platform measurement). */
    measurement: oneOrMany.optional(),
    /** Allowed Nitro PCR values by index, e.g. {"0": "...", "8": "..."}; each one value or a list. */
    pcrs: z.record(z.string().regex(/^(?:[0-9]|[1-2][0-9]|3[01])$/, "PCR index must be 0-31"), oneOrMany).optional(),
    /** Allowed SGX MRENCLAVE values. */
    mrEnclave: oneOrMany.optional(),
    /** Allowed SGX MRSIGNER values. */
    mrSigner: oneOrMany.optional(),
    /** Allowed TDX MRTD values. */
    mrTd: oneOrMany.optional(),
    /** Acceptable DCAP TCB statuses; unset means any status the quote verifier accepts. */
    allowedTcbStatuses: z.array(z.enum(TCB_STATUSES)).nonempty().optional(),
    /** Whether debug enclaves are acceptable. Default false. */
    debugAllowed: z.boolean().default(false),
    /** Maximum age of the evidence at the audit time, in seconds (needs a timestamp in the evidence). */
    maxAgeSeconds: z.number().int().positive().optional(),
    /** The enclave signer (Ethereum address) the evidence must bind. */
    enclaveSigner: z
      .string()
      .refine((value) => isAddress(value), "must be a 20-byte hex Ethereum address")
      .transform((value) => getAddress(value))
      .optional(),
    /** Expected nonce (Nitro `nonce` field). */
    nonce: hexValue.optional(),
  })
  .strict();

/** A policy as written in a file: hex with or without 0x, each value single or a list. */
export interface PolicyInput {
  measurement?: string | string[];
  pcrs?: Record<string, string | string[]>;
  mrEnclave?: string | string[];
  mrSigner?: string | string[];
  mrTd?: string | string[];
  allowedTcbStatuses?: (typeof TCB_STATUSES)[number][];
  debugAllowed?: boolean;
  maxAgeSeconds?: number;
  enclaveSigner?: string;
  nonce?: string;
}
/** A validated policy (hex lowercase without 0x, lists, checksummed signer). */
export type Policy = z.output<typeof PolicySchema>;

/** The policy used when none is given: nothing pinned, debug enclaves rejected. */
export const DEFAULT_POLICY: Policy = Object.freeze(PolicySchema.parse({})) as Policy;

/** Validates a policy object; throws `PolicyError` naming every problem. */
export function parsePolicy(input: unknown): Policy {
  const result = PolicySchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new PolicyError("invalid policy", { details: problems.join("; "), cause: result.error });
  }
  return result.data;
}

/** Reads and validates a policy JSON file. */
export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new PolicyError(`cannot read policy file ${path}`, { details: (error as Error).message, cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PolicyError(`policy file ${path} is not JSON`, { details: (error as Error).message, cause: error });
  }
  try {
    return parsePolicy(json);
  } catch (error) {
    if (error instanceof PolicyError) throw new PolicyError(`policy file ${path}`, { details: error.message, cause: error });
    throw error;
  }
}

/** Accepts a validated policy, a raw policy object, or nothing (the default policy). */
export function resolvePolicy(policy: Policy | PolicyInput | undefined): Policy {
  return policy === undefined ? DEFAULT_POLICY : parsePolicy(policy);
}
