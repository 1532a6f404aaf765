/**
 * Intel SGX/TDX DCAP quotes (v3, v4, v5) with their collateral (the JSON layout of
 * `@phala/dcap-qvl`: TCB info, QE identity, CRLs and issuer chains).
 *
 * Two sources of checks, both in the report:
 * - the auditor's own (`quote.*`, `root.pinned`, `chain.*`, `crl.*`): its own parse of the
 *   quote for the facts, the certificate chains against the pinned Intel SGX Root CA, and the
 *   CRLs' issuers, signatures and update windows, which dcap-qvl does not check;
 * - dcap-qvl's (`qvl.*`, see `dcap-qvl.ts`): the full Intel quote verification, run with the
 *   pinned root, reported step by step.
 * The collateral's layout is read by dcap-collateral.ts.
 */
import type { X509Certificate } from "crypto";
import type { Collateral } from "@phala/dcap-qvl";
import { CheckList, errorMessage, isoTime, requireCollateral, shortHex, signerLink, toHex, type VerificationRun } from "../checks";
import { parseDcapCollateral, readDcapCollateralFile, type DcapCollateral } from "./dcap-collateral";
import { crlProblems, normalizeSerial, parseCrl, type ParsedCrl } from "./crl";
import { parseDcapQuote, ATTESTATION_KEY_ECDSA_P256, CERT_TYPE_PCK_CHAIN, INTEL_QE_VENDOR_ID, type ParsedDcapQuote } from "./dcap-quote";
import { DCAP_QVL_STEPS, runDcapQvl, type QvlChain } from "./dcap-qvl";
import { DER_TAG, derChildren, derContent, derOid, expectTag, parseCertificateParts, readDer } from "./der";
import { INTEL_SGX_ROOT_CA, resolveTrustAnchor, type PinnedRoot } from "./pinned-roots";
import { evaluatePolicy } from "../policy";
import { resolvePolicy, type Policy, type PolicyInput } from "../policy-schema";
import type { CertificateInput, EvidenceValue, EvidenceVerifier, VerificationReport } from "../types";
import { checkIssuedBy, commonName, fingerprintSha256, splitPem, toX509, type LinkResult } from "./x509";

/** What a DCAP quote says (hex lowercase; FMSPC uppercase as Intel writes it). */
export interface DcapFacts {
  quoteVersion?: number;
  teeType?: "SGX" | "TDX";
  /** sgx, td10 (TDX 1.0) or td15 (TDX 1.5). */
  bodyType?: string;
  qeVendorId?: string;
  mrEnclave?: string;
  mrSigner?: string;
  isvProdId?: number;
  isvSvn?: number;
  attributes?: string;
  mrTd?: string;
  rtmr0?: string;
  rtmr1?: string;
  rtmr2?: string;
  rtmr3?: string;
  mrSeam?: string;
  tdAttributes?: string;
  mrConfigId?: string;
  mrOwner?: string;
  reportData?: string;
  /** SGX ATTRIBUTES.DEBUG or TDX TDATTRIBUTES.DEBUG. */
  debug?: boolean;
  fmspc?: string;
  /** Which Intel CA issued the PCK certificate: "Platform" or "Processor". */
  pckCa?: string;
  /** dcap-qvl's TCB status, or NoMatchingTcbLevel / Revoked when it rejects for that. */
  tcbStatus?: string;
  advisoryIds?: string[];
  tcbInfoIssueDate?: string;
  tcbInfoNextUpdate?: string;
}

export interface DcapVerifyOptions {
  at: number;
  collateral: DcapCollateral | unknown;
  policy?: Policy | PolicyInput;
  /** Root to pin instead of the Intel SGX Root CA. */
  trustAnchor?: CertificateInput;
}

const SGX_EXTENSION_OID = "1.2.840.113741.1.13.1";
const FMSPC_OID = "1.2.840.113741.1.13.1.4";

/** FMSPC from the PCK certificate's SGX extension, uppercase hex. */
export function pckFmspc(pck: X509Certificate): string {
  const extension = parseCertificateParts(pck.raw).extensions.get(SGX_EXTENSION_OID);
  if (!extension) throw new Error("the PCK certificate has no SGX extension");
  const sequence = expectTag(readDer(extension), DER_TAG.SEQUENCE, "SGX extension");
  for (const entry of derChildren(sequence)) {
    const [oid, value] = derChildren(entry);
    if (derOid(oid) === FMSPC_OID) return toHex(derContent(expectTag(value, DER_TAG.OCTET_STRING, "FMSPC"))).toUpperCase();
  }
  throw new Error("the PCK certificate's SGX extension has no FMSPC");
}

const bytesOf = (value: string | number[]) => (typeof value === "string" ? Buffer.from(value, "hex") : Buffer.from(value));

/** A chain as given (leaf first), without a trailing copy of the pinned root. */
interface ChainView {
  certificates: X509Certificate[];
  /** Fingerprint of the top certificate when it is self-issued (a root carried along). */
  carriedRoot?: string;
}

function chainView(pem: string): ChainView {
  const certificates = splitPem(pem).map((p) => toX509(p));
  const top = certificates[certificates.length - 1];
  if (top && top.subject === top.issuer) {
    certificates.pop();
    return { certificates, carriedRoot: fingerprintSha256(top) };
  }
  return { certificates };
}

/** Verifies each link of `view` up to the anchor; the results are leaf first. */
function verifyChain(view: ChainView, anchor: PinnedRoot, at: number): LinkResult[] {
  return view.certificates.map((certificate, i) =>
    checkIssuedBy(certificate, view.certificates[i + 1] ?? anchor.certificate, at),
  );
}

function linkCheck(checks: CheckList, name: string, what: string, results: LinkResult[], labels: string[]): boolean {
  if (results.length === 0) return checks.fail(name, `${what}: no certificates`);
  const failed = results.findIndex((r) => !r.ok);
  const evidence: Record<string, EvidenceValue> = {};
  results.forEach((r, i) => {
    evidence[`${labels[i] ?? `certificate ${i}`}`] = `${r.evidence.subject} (sha256 ${r.evidence.sha256}, ${r.evidence.notBefore} to ${r.evidence.notAfter})`;
  });
  return failed < 0
    ? checks.pass(name, `${what}: ${results.map((r) => r.detail).join("; ")}`, evidence)
    : checks.fail(name, `${what}: ${results[failed].detail}`, evidence);
}

type DcapRun = VerificationRun<DcapFacts>;

/** What the chain checks found, for the CRL checks and dcap-qvl. */
interface DcapChains {
  pckLeaf?: X509Certificate;
  pckCa?: X509Certificate;
  tcbView: ChainView;
  qeView: ChainView;
  pckChainOk: boolean;
  tcbOk: boolean;
  qeOk: boolean;
}

/** Verifies a DCAP quote with its collateral; never throws for bad evidence. */
export function verifyDcap(quote: Uint8Array, options: DcapVerifyOptions): VerificationReport<DcapFacts> {
  const { at } = options;
  const collateral = parseDcapCollateral(options.collateral);
  const policy = resolvePolicy(options.policy);
  const anchor = resolveTrustAnchor(options.trustAnchor, INTEL_SGX_ROOT_CA);
  const run: DcapRun = { at, checks: new CheckList(), facts: {}, chain: [] };
  const { checks, facts, chain } = run;
  const expected = [
    "quote.structure",
    "root.pinned",
    "chain.pck",
    "chain.tcb-signing",
    "crl.root-ca",
    "crl.pck",
    ...DCAP_QVL_STEPS.map((s) => s.name),
    "policy.debug",
  ];
  const finish = () => checks.finish({ format: "dcap", at, facts, chain, expected });

  // 1. The auditor's own parse of the quote.
  let parsed: ParsedDcapQuote;
  try {
    parsed = parseDcapQuote(quote);
  } catch (error) {
    checks.fail("quote.structure", `not a DCAP quote: ${errorMessage(error)}`, { bytes: quote.length });
    return finish();
  }
  checkQuoteStructure(parsed, collateral, run);
  // 2. Chains against the pinned root: PCK (quote or collateral), TCB info and QE identity signing.
  const chains = checkChains(parsed, collateral, anchor, run);
  // 3. CRLs: issuer, signature, update window, and the serials of the chains' certificates.
  const { rootCrlOk, pckCrlOk } = checkCrls(chains, collateral, anchor, run);
  // 4. dcap-qvl, with the pinned root.
  runQvl(quote, parsed, collateral, anchor, { ...chains, rootCrlOk, pckCrlOk }, run);
  // 5. Policy.
  checkDcapPolicy(parsed, policy, run);
  return finish();
}

/** `quote.structure`: ECDSA P-256 attestation key, Intel's QE, a PCK chain in the quote or the collateral. */
function checkQuoteStructure(parsed: ParsedDcapQuote, collateral: DcapCollateral, { checks, facts }: DcapRun): void {
  Object.assign(facts, quoteFacts(parsed));
  const structureProblems: string[] = [];
  if (parsed.attestationKeyType !== ATTESTATION_KEY_ECDSA_P256) structureProblems.push(`attestation key type ${parsed.attestationKeyType} is not 2 (ECDSA P-256)`);
  if (parsed.qeVendorId !== INTEL_QE_VENDOR_ID) structureProblems.push(`QE vendor id ${parsed.qeVendorId} is not Intel's ${INTEL_QE_VENDOR_ID}`);
  if (parsed.certificationType !== CERT_TYPE_PCK_CHAIN && !collateral.pck_certificate_chain) {
    structureProblems.push(`certification data type ${parsed.certificationType} carries no PCK chain and the collateral has none`);
  }
  checks.record(
    "quote.structure",
    structureProblems.length === 0,
    structureProblems.length === 0
      ? `${parsed.teeType} quote v${parsed.version} (${parsed.body.kind} body, ${parsed.signedLength} signed bytes), ECDSA P-256 attestation key, Intel QE`
      : structureProblems.join("; "),
    { version: parsed.version, teeType: parsed.teeType, body: parsed.body.kind, qeVendorId: parsed.qeVendorId, signedBytes: parsed.signedLength },
  );
}

/** `root.pinned`, `chain.pck`, `chain.tcb-signing`: every chain verified to the pinned root. */
function checkChains(parsed: ParsedDcapQuote, collateral: DcapCollateral, anchor: PinnedRoot, { at, checks, facts, chain }: DcapRun): DcapChains {
  const pckPem = collateral.pck_certificate_chain ?? Buffer.from(parsed.certificationData).toString("latin1");
  const pckView = chainView(pckPem);
  const tcbView = chainView(collateral.tcb_info_issuer_chain);
  const qeView = chainView(collateral.qe_identity_issuer_chain);
  const carried = [
    ["PCK chain", pckView],
    ["TCB info issuer chain", tcbView],
    ["QE identity issuer chain", qeView],
  ] as const;
  const foreignRoots = carried.filter(([, v]) => v.carriedRoot !== undefined && v.carriedRoot !== anchor.sha256);
  checks.record(
    "root.pinned",
    foreignRoots.length === 0,
    foreignRoots.length === 0
      ? `chains are verified to the pinned ${anchor.name} (dcap-qvl is given the same root); any root they carry is that one`
      : `${foreignRoots.map(([n]) => n).join(", ")} end in a root that is not the pinned ${anchor.name}`,
    { pinned: anchor.sha256, ...Object.fromEntries(carried.map(([n, v]) => [n, v.carriedRoot ?? "(no root carried)"])) },
  );
  chain.push({ role: "root", title: anchor.name, subtitle: `SHA-256 ${shortHex(anchor.sha256)}`, check: "root.pinned", ok: checks.passed("root.pinned") });

  const pckLinks = verifyChain(pckView, anchor, at);
  const pckChainOk = linkCheck(checks, "chain.pck", "PCK chain", pckLinks, ["PCK certificate", "PCK CA"]);
  const pckLeaf = pckView.certificates[0];
  const pckCa = pckView.certificates[1];
  if (pckCa) {
    facts.pckCa = commonName(pckCa.subject).match(/PCK (\w+) CA/)?.[1] ?? commonName(pckCa.subject);
    chain.push({ role: "intermediate", title: "PCK CA", subtitle: commonName(pckCa.subject), check: "chain.pck", ok: pckLinks[1]?.ok ?? false });
  }
  if (pckLeaf) {
    try {
      facts.fmspc = pckFmspc(pckLeaf);
    } catch {
      // Reported by qvl.fmspc; the fact stays absent.
    }
    chain.push({ role: "leaf", title: "PCK certificate", subtitle: `FMSPC ${facts.fmspc ?? "?"}`, check: "chain.pck", ok: pckLinks[0]?.ok ?? false });
  }
  const tcbLinks = verifyChain(tcbView, anchor, at);
  const qeLinks = verifyChain(qeView, anchor, at);
  const tcbOk = tcbLinks.length > 0 && tcbLinks.every((l) => l.ok);
  const qeOk = qeLinks.length > 0 && qeLinks.every((l) => l.ok);
  if (tcbOk && qeOk) {
    linkCheck(checks, "chain.tcb-signing", "TCB info and QE identity issuer chains", tcbLinks, ["TCB signing certificate"]);
  } else {
    linkCheck(checks, "chain.tcb-signing", tcbOk ? "QE identity issuer chain" : "TCB info issuer chain", tcbOk ? qeLinks : tcbLinks, ["TCB signing certificate"]);
  }
  return { pckLeaf, pckCa, tcbView, qeView, pckChainOk, tcbOk, qeOk };
}

/** `crl.root-ca`, `crl.pck`. */
function checkCrls({ pckCa, pckLeaf, tcbView, qeView }: DcapChains, collateral: DcapCollateral, anchor: PinnedRoot, { at, checks }: DcapRun): { rootCrlOk: boolean; pckCrlOk: boolean } {
  const intermediates = [pckCa, ...tcbView.certificates, ...qeView.certificates].filter(
    (c, i, all): c is X509Certificate => !!c && all.findIndex((o) => o?.fingerprint256 === c.fingerprint256) === i,
  );
  const rootCrlOk = crlCheck(checks, "crl.root-ca", "Root CA CRL", collateral.root_ca_crl, anchor.certificate, at, intermediates);
  const pckCrlOk = pckCa
    ? crlCheck(checks, "crl.pck", "PCK CRL", collateral.pck_crl, pckCa, at, pckLeaf ? [pckLeaf] : [])
    : checks.fail("crl.pck", "PCK CRL: the PCK chain has no CA certificate to check it against");
  return { rootCrlOk, pckCrlOk };
}

/** dcap-qvl's steps (told which chains already failed), and the TCB facts. */
function runQvl(
  quote: Uint8Array, parsed: ParsedDcapQuote, collateral: DcapCollateral, anchor: PinnedRoot,
  { tcbOk, qeOk, pckChainOk, rootCrlOk, pckCrlOk }: DcapChains & { rootCrlOk: boolean; pckCrlOk: boolean },
  { at, checks, facts, chain }: DcapRun,
): void {
  const faultyChains: QvlChain[] = [];
  if (!tcbOk || !rootCrlOk) faultyChains.push("tcb-info");
  if (!qeOk) faultyChains.push("qe-identity");
  if (!pckChainOk || !pckCrlOk) faultyChains.push("pck");
  const qvl = runDcapQvl(quote, collateral as unknown as Collateral, at, anchor.certificate.raw, {
    faultyChains,
    qeReportDebug: parsed.qeReportBody.debug,
  });
  checks.addAll(qvl.checks);
  facts.tcbStatus = qvl.tcbStatus;
  facts.advisoryIds = qvl.advisoryIds;
  try {
    const tcbInfo = JSON.parse(collateral.tcb_info) as { issueDate?: string; nextUpdate?: string };
    facts.tcbInfoIssueDate = tcbInfo.issueDate;
    facts.tcbInfoNextUpdate = tcbInfo.nextUpdate;
  } catch {
    // qvl.tcb-info-validity reports undecodable TCB info.
  }
  chain.push({ role: "evidence", title: "QE report", subtitle: `QE SVN ${parsed.qeSvn}, signed by the PCK key`, check: "qvl.qe-report-signature", ok: checks.outcome("qvl.qe-report-signature") });
  chain.push({ role: "evidence", title: `${parsed.teeType} quote v${parsed.version}`, subtitle: "signed by the QE's attestation key", check: "qvl.quote-signature", ok: checks.outcome("qvl.quote-signature") });
}

/** The policy checks (debug, MRENCLAVE/MRSIGNER/MRTD, TCB status, signer binding) and their links. */
function checkDcapPolicy(parsed: ParsedDcapQuote, policy: Policy, { at, checks, facts, chain }: DcapRun): void {
  const report = parsed.body.report;
  const isSgx = parsed.body.kind === "sgx";
  checks.addAll(
    evaluatePolicy(
      {
        debug: report.debug,
        debugReason: isSgx ? `ATTRIBUTES.DEBUG is ${report.debug ? "set" : "clear"}` : `TDATTRIBUTES.DEBUG is ${report.debug ? "set" : "clear"}`,
        mrEnclave: facts.mrEnclave,
        mrSigner: facts.mrSigner,
        mrTd: facts.mrTd,
        tcbStatus: facts.tcbStatus,
        reportData: facts.reportData,
      },
      policy,
      at,
    ),
  );
  const measurementCheck = isSgx ? "policy.mr-enclave" : "policy.mr-td";
  chain.push({
    role: "measurement",
    title: `${isSgx ? "MRENCLAVE" : "MRTD"} · TCB ${facts.tcbStatus ?? "unknown"}`,
    subtitle: shortHex((isSgx ? facts.mrEnclave : facts.mrTd) ?? ""),
    check: checks.get(measurementCheck) ? measurementCheck : "qvl.tcb-level",
    ok: checks.get(measurementCheck) ? checks.outcome(measurementCheck) : checks.outcome("qvl.tcb-level"),
  });
  chain.push(signerLink(checks, policy));
}

function quoteFacts(parsed: ParsedDcapQuote): DcapFacts {
  const facts: DcapFacts = {
    quoteVersion: parsed.version,
    teeType: parsed.teeType,
    bodyType: parsed.body.kind,
    qeVendorId: parsed.qeVendorId,
  };
  if (parsed.body.kind === "sgx") {
    const r = parsed.body.report;
    Object.assign(facts, {
      mrEnclave: r.mrEnclave,
      mrSigner: r.mrSigner,
      isvProdId: r.isvProdId,
      isvSvn: r.isvSvn,
      attributes: r.attributes,
      reportData: r.reportData,
      debug: r.debug,
    });
  } else {
    const r = parsed.body.report;
    Object.assign(facts, {
      mrTd: r.mrTd,
      rtmr0: r.rtmr0,
      rtmr1: r.rtmr1,
      rtmr2: r.rtmr2,
      rtmr3: r.rtmr3,
      mrSeam: r.mrSeam,
      tdAttributes: r.tdAttributes,
      mrConfigId: r.mrConfigId,
      mrOwner: r.mrOwner,
      reportData: r.reportData,
      debug: r.debug,
    });
  }
  return facts;
}

function crlCheck(
  checks: CheckList,
  name: string,
  what: string,
  raw: string | number[],
  issuer: X509Certificate,
  at: number,
  covered: X509Certificate[],
): boolean {
  let crl: ParsedCrl;
  try {
    crl = parseCrl(bytesOf(raw));
  } catch (error) {
    return checks.fail(name, `${what} does not parse: ${errorMessage(error)}`);
  }
  const problems = crlProblems(crl, issuer, at);
  const revoked = covered.filter((c) => crl.revoked.has(normalizeSerial(c.serialNumber)));
  for (const certificate of revoked) problems.push(`"${commonName(certificate.subject)}" (serial ${certificate.serialNumber}) is revoked`);
  const evidence: Record<string, EvidenceValue> = {
    issuer: commonName(issuer.subject),
    thisUpdate: isoTime(crl.thisUpdate),
    nextUpdate: crl.nextUpdate === undefined ? null : isoTime(crl.nextUpdate),
    revokedEntries: crl.revoked.size,
    at: isoTime(at),
  };
  return problems.length === 0
    ? checks.pass(
        name,
        `${what} is signed by "${commonName(issuer.subject)}", current at ${isoTime(at)}, and revokes none of ${covered.map((c) => `"${commonName(c.subject)}"`).join(", ") || "the chain"}`,
        evidence,
      )
    : checks.fail(name, `${what}: ${problems.join("; ")}`, evidence);
}

/** The registry entry for DCAP quotes. */
export const dcapVerifier: EvidenceVerifier = {
  format: "dcap",
  description: "Intel SGX/TDX DCAP quote v3/v4/v5 with collateral JSON (Intel SGX Root CA, dcap-qvl)",
  collateral: "required",
  readCollateral: readDcapCollateralFile,
  verify: requireCollateral(
    "a DCAP quote needs its collateral",
    "pass the collateral JSON (TCB info, QE identity, CRLs, issuer chains)",
    verifyDcap,
  ),
};
