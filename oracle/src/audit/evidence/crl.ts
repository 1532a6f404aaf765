/**
 * X.509 CRLs (RFC 5280 §5): parse, check the issuer's signature, the update window and the
 * revoked serials. Node's crypto has no CRL class, so this reads the DER with `der.ts`.
 */
import { verify as cryptoVerify, X509Certificate } from "crypto";
import {
  DER_TAG,
  derBitString,
  derChildren,
  derEncoding,
  derOid,
  derTime,
  derUnsigned,
  expectTag,
  parseCertificateParts,
  readDer,
} from "./der";

export interface ParsedCrl {
  /** The signed part. */
  tbs: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  /** DER of the issuer Name. */
  issuer: Uint8Array;
  thisUpdate: number;
  nextUpdate?: number;
  /** Revoked serial numbers, uppercase hex without leading zeros. */
  revoked: Set<string>;
}

const SIGNATURE_HASH: Record<string, string> = {
  "1.2.840.10045.4.3.2": "sha256", // ecdsa-with-SHA256
  "1.2.840.10045.4.3.3": "sha384", // ecdsa-with-SHA384
  "1.2.840.113549.1.1.11": "sha256", // sha256WithRSAEncryption
  "1.2.840.113549.1.1.12": "sha384", // sha384WithRSAEncryption
};

/** Canonical form of a serial number: uppercase hex, no leading zeros. */
export function normalizeSerial(hex: string): string {
  return hex.replace(/^0x/i, "").toUpperCase().replace(/^0+(?=.)/, "");
}

/** Parses a DER CRL. */
export function parseCrl(der: Uint8Array): ParsedCrl {
  const list = expectTag(readDer(der), DER_TAG.SEQUENCE, "CertificateList");
  const [tbsElement, algorithmElement, signatureElement] = derChildren(list);
  const tbs = expectTag(tbsElement, DER_TAG.SEQUENCE, "tbsCertList");
  const fields = derChildren(tbs);
  let i = fields[0]?.tag === DER_TAG.INTEGER ? 1 : 0; // optional version
  i += 1; // signature algorithm (repeated inside tbs)
  const issuer = expectTag(fields[i++], DER_TAG.SEQUENCE, "CRL issuer");
  const thisUpdate = derTime(fields[i++]);
  let nextUpdate: number | undefined;
  if (fields[i] && (fields[i].tag === DER_TAG.UTC_TIME || fields[i].tag === DER_TAG.GENERALIZED_TIME)) {
    nextUpdate = derTime(fields[i++]);
  }
  const revoked = new Set<string>();
  if (fields[i]?.tag === DER_TAG.SEQUENCE) {
    for (const entry of derChildren(fields[i])) {
      revoked.add(normalizeSerial(derUnsigned(derChildren(entry)[0]).toString(16)));
    }
  }
  const algorithm = derOid(derChildren(expectTag(algorithmElement, DER_TAG.SEQUENCE, "signatureAlgorithm"))[0]);
  return {
    tbs: derEncoding(tbs),
    signatureAlgorithm: algorithm,
    signature: derBitString(signatureElement),
    issuer: derEncoding(issuer),
    thisUpdate,
    nextUpdate,
    revoked,
  };
}

/** Problems with a CRL judged against its expected issuer at `at`; empty when it is sound. */
export function crlProblems(crl: ParsedCrl, issuer: X509Certificate, at: number): string[] {
  const problems: string[] = [];
  const issuerSubject = parseCertificateParts(issuer.raw).subject;
  if (Buffer.compare(Buffer.from(issuerSubject), Buffer.from(crl.issuer)) !== 0) {
    problems.push("its issuer name is not the subject of the expected issuing CA");
  }
  const hash = SIGNATURE_HASH[crl.signatureAlgorithm];
  if (!hash) {
    problems.push(`its signature algorithm ${crl.signatureAlgorithm} is not supported`);
  } else {
    let ok = false;
    try {
      ok = cryptoVerify(hash, crl.tbs, issuer.publicKey, crl.signature);
    } catch {
      ok = false;
    }
    if (!ok) problems.push("its signature does not verify with the issuing CA's key");
  }
  if (at < crl.thisUpdate) problems.push("it was issued after the audit time");
  if (crl.nextUpdate !== undefined && at > crl.nextUpdate) problems.push("it is past its nextUpdate at the audit time");
  return problems;
}
