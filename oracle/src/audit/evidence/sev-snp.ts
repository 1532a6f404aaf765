/**
 * AMD SEV-SNP attestation reports (1184 bytes) with the VCEK certificate and the ASK/ARK chain.
 *
 * The VCEK (ECDSA P-384) signs report bytes 0x000-0x29F; the signature sits at 0x2A0 as r and s,
 * 72 bytes each, little-endian. The ASK signs the VCEK and the ARK signs the ASK and itself
 * (RSASSA-PSS, SHA-384); the ARK is pinned by fingerprint. The VCEK's extensions carry the TCB
 * it was issued for and the chip's hardware id, which must equal the report's reported TCB and
 * chip id: otherwise the VCEK belongs to another chip or TCB.
 */
import { readFileSync } from "fs";
import { dirname, resolve } from "path";
import { verify as cryptoVerify, X509Certificate } from "crypto";
import { CheckList, errorMessage, requireCollateral, shortHex, signerLink, toHex, type VerificationRun } from "../checks";
import { DER_TAG, derContent, derUnsigned, parseCertificateParts, readDer } from "./der";
import { EvidenceInputError } from "../errors";
import { AMD_ARK_MILAN, resolveTrustAnchor, type PinnedRoot } from "./pinned-roots";
import { evaluatePolicy } from "../policy";
import { resolvePolicy, type Policy, type PolicyInput } from "../policy-schema";
import type { CertificateInput, EvidenceVerifier, TrustLink, VerificationReport } from "../types";
import { checkIssuedBy, commonName, fingerprintSha256, splitPem, toX509, validityProblem } from "./x509";

export const SNP_REPORT_LENGTH = 1184;
/** Bytes 0x000..SIGNED_LENGTH-1 are signed. */
export const SNP_SIGNED_LENGTH = 0x2a0;
export const SNP_OFFSETS = {
  version: 0x00,
  guestSvn: 0x04,
  policy: 0x08,
  familyId: 0x10,
  imageId: 0x20,
  vmpl: 0x30,
  signatureAlgorithm: 0x34,
  currentTcb: 0x38,
  platformInfo: 0x40,
  reportData: 0x50,
  measurement: 0x90,
  hostData: 0xc0,
  idKeyDigest: 0xe0,
  authorKeyDigest: 0x110,
  reportId: 0x140,
  reportedTcb: 0x180,
  chipId: 0x1a0,
  committedTcb: 0x1e0,
  launchTcb: 0x1f0,
  signature: 0x2a0,
} as const;
/** Guest policy bit 19: debugging the guest is allowed (the hypervisor can read its memory). */
export const SNP_POLICY_DEBUG_BIT = 19n;
/** Signature algorithm 1: ECDSA P-384 with SHA-384. */
const SIG_ALGO_ECDSA_P384_SHA384 = 1;

/** A TCB version: the security patch levels of the firmware components. */
export interface SnpTcb {
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
}

export interface SevSnpFacts {
  version?: number;
  guestSvn?: number;
  /** Guest policy, u64 as hex. */
  policy?: string;
  /** Guest policy DEBUG bit (19). */
  debug?: boolean;
  vmpl?: number;
  signatureAlgorithm?: number;
  familyId?: string;
  imageId?: string;
  reportData?: string;
  measurement?: string;
  hostData?: string;
  idKeyDigest?: string;
  authorKeyDigest?: string;
  reportId?: string;
  reportedTcb?: SnpTcb;
  currentTcb?: SnpTcb;
  committedTcb?: SnpTcb;
  launchTcb?: SnpTcb;
  chipId?: string;
  /** Product name from the VCEK, e.g. "Milan-B0". */
  productName?: string;
}

/** The VCEK and its issuers. The ARK defaults to the pinned one when absent. */
export interface SevSnpCollateral {
  vcek: CertificateInput;
  ask: CertificateInput;
  ark?: CertificateInput;
}

export interface SevSnpVerifyOptions {
  at: number;
  collateral: SevSnpCollateral | unknown;
  policy?: Policy | PolicyInput;
  /** ARK to pin instead of AMD's ARK-Milan (tests with a test CA, other product lines). */
  trustAnchor?: CertificateInput;
}

export const SEV_SNP_CHECKS = ["report.structure", "root.pinned", "chain.ask", "chain.vcek", "vcek.tcb", "report.signature", "policy.debug"] as const;

function tcbAt(report: Buffer, offset: number): SnpTcb {
  return { bootloader: report[offset], tee: report[offset + 1], snp: report[offset + 6], microcode: report[offset + 7] };
}

/** Parses the fields of a report (it does not verify anything). */
export function parseSevSnpReport(report: Uint8Array): SevSnpFacts {
  if (report.length !== SNP_REPORT_LENGTH) throw new Error(`report is ${report.length} bytes, expected ${SNP_REPORT_LENGTH}`);
  const b = Buffer.from(report);
  const hex = (offset: number, length: number) => b.subarray(offset, offset + length).toString("hex");
  const policy = b.readBigUInt64LE(SNP_OFFSETS.policy);
  return {
    version: b.readUInt32LE(SNP_OFFSETS.version),
    guestSvn: b.readUInt32LE(SNP_OFFSETS.guestSvn),
    policy: `0x${policy.toString(16)}`,
    debug: ((policy >> SNP_POLICY_DEBUG_BIT) & 1n) === 1n,
    vmpl: b.readUInt32LE(SNP_OFFSETS.vmpl),
    signatureAlgorithm: b.readUInt32LE(SNP_OFFSETS.signatureAlgorithm),
    familyId: hex(SNP_OFFSETS.familyId, 16),
    imageId: hex(SNP_OFFSETS.imageId, 16),
    reportData: hex(SNP_OFFSETS.reportData, 64),
    measurement: hex(SNP_OFFSETS.measurement, 48),
    hostData: hex(SNP_OFFSETS.hostData, 32),
    idKeyDigest: hex(SNP_OFFSETS.idKeyDigest, 48),
    authorKeyDigest: hex(SNP_OFFSETS.authorKeyDigest, 48),
    reportId: hex(SNP_OFFSETS.reportId, 32),
    currentTcb: tcbAt(b, SNP_OFFSETS.currentTcb),
    reportedTcb: tcbAt(b, SNP_OFFSETS.reportedTcb),
    committedTcb: tcbAt(b, SNP_OFFSETS.committedTcb),
    launchTcb: tcbAt(b, SNP_OFFSETS.launchTcb),
    chipId: hex(SNP_OFFSETS.chipId, 64),
  };
}

/** r||s (96 bytes, big-endian) from the report's little-endian 72-byte components. */
export function snpSignatureP1363(report: Uint8Array): Buffer {
  const component = (offset: number) => {
    const big = Buffer.from(report.subarray(offset, offset + 72)).reverse();
    if (big.subarray(0, 24).some((byte) => byte !== 0)) throw new Error("signature component exceeds 48 bytes");
    return big.subarray(24);
  };
  return Buffer.concat([component(SNP_OFFSETS.signature), component(SNP_OFFSETS.signature + 72)]);
}

/** VCEK extension OIDs (AMD "Versioned Chip Endorsement Key" specification). */
const VCEK_OID = {
  productName: "1.3.6.1.4.1.3704.1.2",
  bootloader: "1.3.6.1.4.1.3704.1.3.1",
  tee: "1.3.6.1.4.1.3704.1.3.2",
  snp: "1.3.6.1.4.1.3704.1.3.3",
  microcode: "1.3.6.1.4.1.3704.1.3.8",
  hwid: "1.3.6.1.4.1.3704.1.4",
} as const;

interface VcekClaims {
  tcb: Partial<SnpTcb>;
  hwid?: string;
  productName?: string;
}

function vcekClaims(vcek: X509Certificate): VcekClaims {
  const extensions = parseCertificateParts(vcek.raw).extensions;
  const tcb: Partial<SnpTcb> = {};
  for (const key of ["bootloader", "tee", "snp", "microcode"] as const) {
    const value = extensions.get(VCEK_OID[key]);
    if (value) tcb[key] = Number(derUnsigned(readDer(value)));
  }
  const hwid = extensions.get(VCEK_OID.hwid);
  const name = extensions.get(VCEK_OID.productName);
  let productName: string | undefined;
  if (name) {
    const element = readDer(name);
    productName = element.tag === DER_TAG.IA5_STRING ? Buffer.from(derContent(element)).toString("latin1") : undefined;
  }
  return { tcb, hwid: hwid && toHex(hwid), productName };
}

/** The certificates of an SEV-SNP report's chain, parsed. */
interface SevSnpChain {
  vcek: X509Certificate;
  ask: X509Certificate;
  ark?: X509Certificate;
}

/** Validates collateral: `{vcek, ask, ark?}`, `{vcek, askArk}` (PEM of ASK then ARK) or a PEM bundle. */
export function parseSevSnpCollateral(input: unknown): SevSnpChain {
  try {
    if (typeof input === "string") return identifyBundle(splitPem(input).map((p) => toX509(p)));
    if (Array.isArray(input)) return identifyBundle(input.map((c) => toX509(c as CertificateInput)));
    if (input && typeof input === "object") {
      const o = input as Record<string, CertificateInput | undefined>;
      if (o.vcek === undefined) throw new Error("vcek is missing");
      const vcek = toX509(o.vcek);
      if (o.askArk !== undefined) {
        const text = typeof o.askArk === "string" ? o.askArk : Buffer.from(o.askArk).toString("latin1");
        const issuers = identifyBundle([vcek, ...splitPem(text).map((p) => toX509(p))]);
        return issuers;
      }
      if (o.ask === undefined) throw new Error("ask is missing (the AMD SEV key that signs the VCEK)");
      return { vcek, ask: toX509(o.ask), ark: o.ark === undefined ? undefined : toX509(o.ark) };
    }
    throw new Error("expected {vcek, ask, ark?}, {vcek, askArk} or a PEM bundle");
  } catch (error) {
    if (error instanceof EvidenceInputError) throw error;
    throw new EvidenceInputError("SEV-SNP collateral is unusable", { details: errorMessage(error), cause: error });
  }
}

/** Sorts a set of certificates into VCEK (the EC key), ARK (self-issued) and ASK (the other). */
function identifyBundle(certificates: X509Certificate[]): SevSnpChain {
  const vcek = certificates.filter((c) => c.publicKey.asymmetricKeyType === "ec");
  const ark = certificates.filter((c) => c.publicKey.asymmetricKeyType !== "ec" && c.subject === c.issuer);
  const ask = certificates.filter((c) => c.publicKey.asymmetricKeyType !== "ec" && c.subject !== c.issuer);
  if (vcek.length !== 1) throw new Error(`expected one VCEK (EC key) among the certificates, found ${vcek.length}`);
  if (ask.length !== 1) throw new Error(`expected one ASK (RSA, not self-issued) among the certificates, found ${ask.length}`);
  if (ark.length > 1) throw new Error(`expected at most one ARK (self-issued), found ${ark.length}`);
  return { vcek: vcek[0], ask: ask[0], ark: ark[0] };
}

/**
 * Reads collateral for the CLI: a JSON file `{"vcek": "vcek.der", "askArk": "ask_ark.pem"}`
 * (or `ask` and `ark`), paths relative to the JSON file; or a PEM bundle of VCEK, ASK and ARK.
 */
export function readSevSnpCollateralFile(path: string): SevSnpChain {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (error) {
    throw new EvidenceInputError(`cannot read SEV-SNP collateral ${path}`, { details: errorMessage(error), cause: error });
  }
  const text = raw.toString("latin1");
  if (text.trimStart().startsWith("{")) {
    let spec: Record<string, unknown>;
    try {
      spec = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new EvidenceInputError(`SEV-SNP collateral ${path} is not JSON`, { details: errorMessage(error), cause: error });
    }
    const load = (key: string): Buffer | undefined => {
      const value = spec[key];
      if (value === undefined) return undefined;
      if (typeof value !== "string") throw new EvidenceInputError(`SEV-SNP collateral ${path}: "${key}" must be a file path`);
      const file = resolve(dirname(path), value);
      try {
        return readFileSync(file);
      } catch (error) {
        throw new EvidenceInputError(`SEV-SNP collateral ${path}: cannot read "${key}" file ${file}`, { cause: error });
      }
    };
    const entries = Object.fromEntries(["vcek", "ask", "ark", "askArk"].map((k) => [k, load(k)]).filter(([, v]) => v));
    if (entries.askArk) entries.askArk = (entries.askArk as Buffer).toString("latin1");
    return parseSevSnpCollateral(entries);
  }
  if (splitPem(text).length === 0) {
    throw new EvidenceInputError(`SEV-SNP collateral ${path} is neither JSON nor a PEM bundle`, {
      details: 'give {"vcek": "vcek.der", "askArk": "ask_ark.pem"} or a PEM file with the VCEK, ASK and ARK',
    });
  }
  return parseSevSnpCollateral(text);
}

type SevSnpRun = VerificationRun<SevSnpFacts>;

/** Verifies an SEV-SNP report with its VCEK and ASK (and ARK); never throws for bad evidence. */
export function verifySevSnp(report: Uint8Array, options: SevSnpVerifyOptions): VerificationReport<SevSnpFacts> {
  const { at } = options;
  const collateral = parseSevSnpCollateral(options.collateral);
  const policy = resolvePolicy(options.policy);
  const anchor = resolveTrustAnchor(options.trustAnchor, AMD_ARK_MILAN);
  const checks = new CheckList();
  const chain: TrustLink[] = [];
  let facts: SevSnpFacts = {};
  const finish = () => checks.finish({ format: "sev-snp", at, facts, chain, expected: SEV_SNP_CHECKS });

  try {
    facts = parseSevSnpReport(report);
  } catch (error) {
    checks.fail("report.structure", `not an SEV-SNP report: ${errorMessage(error)}`, { bytes: report.length });
    return finish();
  }
  const run: SevSnpRun = { at, checks, facts, chain };
  checkReportStructure(report, run);
  // Chain: pinned ARK -> ASK -> VCEK.
  const vcekIsP384 = checkCertificateChain(collateral, anchor, run);
  // The VCEK must be the one for this chip at this TCB.
  checkVcekTcb(collateral, run);
  checkReportSignature(report, collateral, vcekIsP384, run);
  checkSevSnpPolicy(policy, run);
  return finish();
}

/** `report.structure`: version 2 or later, ECDSA P-384 with SHA-384. */
function checkReportStructure(report: Uint8Array, { checks, facts }: SevSnpRun): void {
  const structureProblems: string[] = [];
  if ((facts.version ?? 0) < 2) structureProblems.push(`report version ${facts.version} is older than 2`);
  if (facts.signatureAlgorithm !== SIG_ALGO_ECDSA_P384_SHA384) structureProblems.push(`signature algorithm ${facts.signatureAlgorithm} is not 1 (ECDSA P-384 with SHA-384)`);
  checks.record(
    "report.structure",
    structureProblems.length === 0,
    structureProblems.length === 0 ? `SEV-SNP report version ${facts.version}, ${SNP_REPORT_LENGTH} bytes, ECDSA P-384 with SHA-384` : structureProblems.join("; "),
    { version: facts.version ?? null, signatureAlgorithm: facts.signatureAlgorithm ?? null, bytes: report.length },
  );
}

/** `root.pinned`, `chain.ask`, `chain.vcek`; returns whether the VCEK's key is EC P-384. */
function checkCertificateChain(collateral: SevSnpChain, anchor: PinnedRoot, { at, checks, chain }: SevSnpRun): boolean {
  const ark = collateral.ark ?? anchor.certificate;
  const arkFingerprint = fingerprintSha256(ark);
  const arkSelfSigned = (() => {
    try {
      return ark.verify(ark.publicKey);
    } catch {
      return false;
    }
  })();
  const arkProblem = validityProblem(ark, at);
  const rootOk = arkFingerprint === anchor.sha256 && arkSelfSigned && !arkProblem;
  checks.record(
    "root.pinned",
    rootOk,
    arkFingerprint !== anchor.sha256
      ? `the ARK given is not the pinned ${anchor.name}`
      : !arkSelfSigned
        ? `the ARK's self-signature does not verify`
        : arkProblem
          ? `the ARK is ${arkProblem}`
          : `the ARK is the pinned ${anchor.name}${collateral.ark ? "" : " (built in; the collateral carried none)"}, self-signed, valid at the audit time`,
    { pinned: anchor.sha256, actual: arkFingerprint, subject: ark.subject.replace(/\n/g, ", ") },
  );
  chain.push({ role: "root", title: anchor.name, subtitle: `SHA-256 ${shortHex(anchor.sha256)}`, check: "root.pinned", ok: rootOk });
  const askLink = checkIssuedBy(collateral.ask, ark, at);
  checks.record("chain.ask", askLink.ok, askLink.detail, askLink.evidence);
  chain.push({ role: "intermediate", title: "ASK", subtitle: commonName(collateral.ask.subject), check: "chain.ask", ok: askLink.ok });
  const vcekLink = checkIssuedBy(collateral.vcek, collateral.ask, at);
  const vcekKey = collateral.vcek.publicKey;
  const vcekIsP384 = vcekKey.asymmetricKeyType === "ec" && vcekKey.asymmetricKeyDetails?.namedCurve === "secp384r1";
  checks.record(
    "chain.vcek",
    vcekLink.ok && vcekIsP384,
    vcekIsP384 ? vcekLink.detail : `${vcekLink.detail}; its key is not EC P-384`,
    vcekLink.evidence,
  );
  chain.push({ role: "leaf", title: "VCEK", subtitle: commonName(collateral.vcek.subject), check: "chain.vcek", ok: checks.passed("chain.vcek") });
  return vcekIsP384;
}

/** `vcek.tcb`: the VCEK was issued for this chip at the reported TCB. */
function checkVcekTcb(collateral: SevSnpChain, { checks, facts }: SevSnpRun): void {
  let claims: VcekClaims;
  try {
    claims = vcekClaims(collateral.vcek);
  } catch (error) {
    claims = { tcb: {} };
    checks.fail("vcek.tcb", `the VCEK's AMD extensions do not parse: ${errorMessage(error)}`);
  }
  if (!checks.get("vcek.tcb")) {
    facts.productName = claims.productName;
    const reported = facts.reportedTcb!;
    const mismatches = (["bootloader", "tee", "snp", "microcode"] as const).filter((k) => claims.tcb[k] !== reported[k]);
    const chipOk = claims.hwid === facts.chipId;
    const problems = [
      ...mismatches.map((k) => `${k} SPL: VCEK ${claims.tcb[k] ?? "absent"}, report ${reported[k]}`),
      ...(chipOk ? [] : ["the VCEK's hardware id is not the report's chip id"]),
    ];
    checks.record(
      "vcek.tcb",
      problems.length === 0,
      problems.length === 0
        ? `the VCEK was issued for this chip at the reported TCB (bootloader ${reported.bootloader}, TEE ${reported.tee}, SNP ${reported.snp}, microcode ${reported.microcode})`
        : `the VCEK does not belong to this report: ${problems.join("; ")}`,
      {
        reportedTcb: JSON.stringify(reported),
        vcekTcb: JSON.stringify(claims.tcb),
        chipId: facts.chipId ?? null,
        vcekHwid: claims.hwid ?? null,
      },
    );
  }
}

/** `report.signature`: ECDSA P-384 over the signed part of the report with the VCEK. */
function checkReportSignature(report: Uint8Array, collateral: SevSnpChain, vcekIsP384: boolean, { checks, facts, chain }: SevSnpRun): void {
  const vcekKey = collateral.vcek.publicKey;
  let signatureOk = false;
  try {
    const signature = snpSignatureP1363(report);
    signatureOk =
      vcekIsP384 &&
      cryptoVerify("sha384", report.subarray(0, SNP_SIGNED_LENGTH), { key: vcekKey, dsaEncoding: "ieee-p1363" }, signature);
    checks.record(
      "report.signature",
      signatureOk,
      signatureOk
        ? "ECDSA P-384 signature over report bytes 0x000-0x29F verifies with the VCEK"
        : "the signature over report bytes 0x000-0x29F does not verify with the VCEK: the report was altered or signed by another key",
      { signature: toHex(signature) },
    );
  } catch (error) {
    checks.fail("report.signature", `the signature field is malformed: ${errorMessage(error)}`);
  }
  chain.push({ role: "evidence", title: "SEV-SNP report", subtitle: `version ${facts.version}, VMPL ${facts.vmpl}`, check: "report.signature", ok: signatureOk });
}

/** The policy checks (debug, measurement, signer binding) and their links. */
function checkSevSnpPolicy(policy: Policy, { at, checks, facts, chain }: SevSnpRun): void {
  checks.addAll(
    evaluatePolicy(
      {
        debug: facts.debug ?? false,
        debugReason: `guest policy ${facts.policy} has DEBUG (bit 19) ${facts.debug ? "set" : "clear"}`,
        measurement: facts.measurement,
        reportData: facts.reportData,
      },
      policy,
      at,
    ),
  );
  chain.push({
    role: "measurement",
    title: "Launch measurement",
    subtitle: shortHex(facts.measurement ?? ""),
    check: checks.get("policy.measurement") ? "policy.measurement" : undefined,
    ok: checks.get("policy.measurement") ? checks.outcome("policy.measurement") : null,
  });
  chain.push(signerLink(checks, policy));
}

/** The registry entry for SEV-SNP reports. */
export const sevSnpVerifier: EvidenceVerifier = {
  format: "sev-snp",
  description: "AMD SEV-SNP attestation report with VCEK and ASK/ARK (AMD ARK-Milan)",
  collateral: "required",
  readCollateral: readSevSnpCollateralFile,
  verify: requireCollateral(
    "an SEV-SNP report needs its VCEK and ASK",
    "pass {vcek, ask, ark?}, {vcek, askArk} or a PEM bundle of VCEK, ASK and ARK",
    verifySevSnp,
  ),
};
