/**
 * The collateral of a DCAP quote, in the JSON layout of `@phala/dcap-qvl`: TCB info and QE
 * identity with their signatures and issuer chains, the Root CA and PCK CRLs, and optionally the
 * PCK certificate chain (when the quote does not carry it). Read and validated here; dcap.ts
 * verifies it.
 */
import { readFileSync } from "fs";
import { z } from "zod";
import { errorMessage } from "../checks";
import { EvidenceInputError } from "../errors";

const bytesOrHex = z.union([z.string().regex(/^[0-9a-fA-F]*$/, "must be hex"), z.array(z.number().int().min(0).max(255))]);

/** The collateral JSON (dcap-qvl's layout); extra fields are kept. */
export const DcapCollateralSchema = z
  .object({
    pck_crl_issuer_chain: z.string(),
    root_ca_crl: bytesOrHex,
    pck_crl: bytesOrHex,
    tcb_info_issuer_chain: z.string(),
    tcb_info: z.string(),
    tcb_info_signature: bytesOrHex,
    qe_identity_issuer_chain: z.string(),
    qe_identity: z.string(),
    qe_identity_signature: bytesOrHex,
    pck_certificate_chain: z.string().optional(),
  })
  .passthrough();

export type DcapCollateral = z.infer<typeof DcapCollateralSchema>;

/** Validates collateral; throws `EvidenceInputError` naming the missing or malformed fields. */
export function parseDcapCollateral(input: unknown): DcapCollateral {
  let value = input;
  if (typeof value === "string" || value instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof value === "string" ? value : Buffer.from(value).toString("utf8"));
    } catch (error) {
      throw new EvidenceInputError("DCAP collateral is not JSON", { cause: error });
    }
  }
  const result = DcapCollateralSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new EvidenceInputError("DCAP collateral does not have the expected fields", { details: problems });
  }
  return result.data;
}

/** Reads collateral JSON from a file. */
export function readDcapCollateralFile(path: string): DcapCollateral {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new EvidenceInputError(`cannot read DCAP collateral ${path}`, { details: errorMessage(error), cause: error });
  }
  return parseDcapCollateral(text);
}
