/**
 * Certificate helpers over Node's `crypto.X509Certificate`: loading PEM/DER, fingerprints, and
 * the one check every chain link gets (issuer name, signature, validity at the audit time).
 */
import { createHash, X509Certificate } from "crypto";
import { isoTime } from "../checks";
import type { CertificateInput, EvidenceValue } from "../types";

/** Loads a certificate from PEM text or DER bytes. */
export function toX509(input: CertificateInput | X509Certificate): X509Certificate {
  if (input instanceof X509Certificate) return input;
  return new X509Certificate(typeof input === "string" ? input : Buffer.from(input));
}

/** Uppercase hex SHA-256 of the certificate's DER, without separators. */
export function fingerprintSha256(certificate: X509Certificate): string {
  return createHash("sha256").update(certificate.raw).digest("hex").toUpperCase();
}

/** The PEM certificate blocks of a text, in order. */
export function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The CN of a distinguished name as Node prints it ("C=US\nO=...\nCN=..."), or the whole name. */
export function commonName(distinguishedName: string): string {
  const match = distinguishedName.match(/(?:^|\n)CN=([^\n]+)/);
  return match ? match[1] : distinguishedName.replace(/\n/g, ", ");
}

/** Validity bounds in unix seconds. */
export function validity(certificate: X509Certificate): { notBefore: number; notAfter: number } {
  return {
    notBefore: Math.floor(new Date(certificate.validFrom).getTime() / 1000),
    notAfter: Math.floor(new Date(certificate.validTo).getTime() / 1000),
  };
}

/** Printable facts about a certificate, for a check's evidence. */
export function describeCertificate(certificate: X509Certificate): Record<string, EvidenceValue> {
  const { notBefore, notAfter } = validity(certificate);
  return {
    subject: certificate.subject.replace(/\n/g, ", "),
    issuer: certificate.issuer.replace(/\n/g, ", "),
    serial: certificate.serialNumber,
    notBefore: isoTime(notBefore),
    notAfter: isoTime(notAfter),
    sha256: fingerprintSha256(certificate),
  };
}

/** Whether the certificate is valid at `at`, and if not, why. */
export function validityProblem(certificate: X509Certificate, at: number): string | undefined {
  const { notBefore, notAfter } = validity(certificate);
  if (at < notBefore) return `not yet valid at ${isoTime(at)} (valid from ${isoTime(notBefore)})`;
  if (at > notAfter) return `expired at ${isoTime(at)} (valid until ${isoTime(notAfter)})`;
  return undefined;
}

export interface LinkResult {
  ok: boolean;
  detail: string;
  evidence: Record<string, EvidenceValue>;
}

/**
 * Checks one link of a chain: `certificate` names `issuer` as its issuer (names and key
 * identifiers, via OpenSSL's X509_check_issued), carries a signature that verifies with the
 * issuer's public key (ECDSA or RSA-PSS as the certificate says), is valid at `at`, and the
 * issuer is a CA (basicConstraints cA=true).
 */
export function checkIssuedBy(certificate: X509Certificate, issuer: X509Certificate, at: number): LinkResult {
  const problems: string[] = [];
  const subjectName = commonName(certificate.subject);
  const issuerName = commonName(issuer.subject);
  if (!certificate.checkIssued(issuer)) problems.push(`its issuer is not "${issuerName}" (names or key identifiers differ)`);
  let signatureOk = false;
  try {
    signatureOk = certificate.verify(issuer.publicKey);
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) problems.push(`its signature does not verify with the key of "${issuerName}"`);
  const timeProblem = validityProblem(certificate, at);
  if (timeProblem) problems.push(`it is ${timeProblem}`);
  if (!issuer.ca) problems.push(`"${issuerName}" is not a CA certificate`);
  const evidence = { ...describeCertificate(certificate), signedBy: fingerprintSha256(issuer), at: isoTime(at) };
  if (problems.length > 0) {
    return { ok: false, detail: `"${subjectName}": ${problems.join("; ")}`, evidence };
  }
  return {
    ok: true,
    detail: `"${subjectName}" is signed by "${issuerName}", names chain, valid at ${isoTime(at)}`,
    evidence,
  };
}
