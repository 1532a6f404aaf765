/**
 * The auditor's evidence verifiers: public API.
 *
 *   verifyEvidence({format, evidence, collateral?, at?, policy?, trustAnchor?}) → VerificationReport
 *   renderHtmlReport(report) → string        formatReportText(report) → string
 *   parsePolicy(json) / loadPolicyFile(path) → Policy
 *   registerEvidenceVerifier(verifier)        (the extension point for more formats)
 *   evaluatePolicy(claims, policy, at) → Check[]  (for a verifier's policy checks)
 */
export { verifyEvidence, registerEvidenceVerifier, getEvidenceVerifier, evidenceVerifiers } from "./evidence/registry";
export { verifyNitro, nitroVerifier, coseSign1SigStructure, type NitroFacts, type NitroVerifyOptions } from "./evidence/nitro";
export { verifyDcap, dcapVerifier, type DcapFacts, type DcapVerifyOptions } from "./evidence/dcap";
export { parseDcapCollateral, readDcapCollateralFile, type DcapCollateral } from "./evidence/dcap-collateral";
export { DCAP_QVL_STEPS } from "./evidence/dcap-qvl";
export { parseDcapQuote, type ParsedDcapQuote } from "./evidence/dcap-quote";
export {
  verifySevSnp,
  sevSnpVerifier,
  parseSevSnpReport,
  parseSevSnpCollateral,
  readSevSnpCollateralFile,
  type SevSnpCollateral,
  type SevSnpFacts,
  type SevSnpVerifyOptions,
} from "./evidence/sev-snp";
export { PolicySchema, DEFAULT_POLICY, parsePolicy, loadPolicyFile, resolvePolicy, TCB_STATUSES, type Policy, type PolicyInput } from "./policy-schema";
export { evaluatePolicy, signerBindingHash, type PolicyClaims } from "./policy";
export { CheckList } from "./checks";
export { renderHtmlReport } from "./html-report";
export { formatReportText } from "./text-report";
export { registerAuditCommands } from "./cli";
export { processIo, EXIT, type CliIo } from "./cli/args";
export {
  AWS_NITRO_ROOT_G1,
  INTEL_SGX_ROOT_CA,
  AMD_ARK_MILAN,
  AWS_NITRO_ROOT_G1_SHA256,
  INTEL_SGX_ROOT_CA_SHA256,
  AMD_ARK_MILAN_SHA256,
  AWS_NITRO_ROOT_G1_PEM,
  INTEL_SGX_ROOT_CA_PEM,
  AMD_ARK_MILAN_PEM,
  type PinnedRoot,
} from "./evidence/pinned-roots";
export { AuditError, EvidenceInputError, UnsupportedFormatError, PolicyError } from "./errors";
export {
  EVIDENCE_FORMATS,
  type EvidenceFormat,
  type EvidenceInput,
  type ResolvedEvidenceInput,
  type EvidenceVerifier,
  type VerificationReport,
  type Check,
  type TrustLink,
  type CertificateInput,
} from "./types";
