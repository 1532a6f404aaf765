/**
 * AWS Nitro Enclaves attestation documents: COSE_Sign1 (tag 18 optional) over a CBOR payload,
 * ES384 (ECDSA P-384 / SHA-384), certificate chain from the pinned AWS Nitro root G1.
 *
 * The signature is verified over `["Signature1", protected, h'', payload]` built from the
 * protected-header and payload byte strings exactly as received: the payload map is decoded
 * only to read it, never re-encoded (real documents use indefinite-length maps and null fields,
 * which a re-encoding would change).
 */
import { verify as cryptoVerify, X509Certificate } from "crypto";
import { Decoder, Tag } from "cbor-x";
import { CheckList, errorMessage, isoTime, shortHex, signerLink, toHex, type VerificationRun } from "../checks";
import { AWS_NITRO_ROOT_G1, resolveTrustAnchor, type PinnedRoot } from "./pinned-roots";
import { evaluatePolicy } from "../policy";
import { resolvePolicy, type Policy, type PolicyInput } from "../policy-schema";
import type { CertificateInput, EvidenceVerifier, VerificationReport } from "../types";
import { checkIssuedBy, commonName, describeCertificate, fingerprintSha256, toX509, validity, validityProblem } from "./x509";

/** What a Nitro attestation document says (hex lowercase). Absent where decoding stopped. */
export interface NitroFacts {
  moduleId?: string;
  /** Document timestamp, milliseconds since the epoch. */
  timestampMs?: number;
  /** The timestamp as ISO-8601. */
  issuedAt?: string;
  /** Digest algorithm named by the document ("SHA384"). */
  digest?: string;
  /** PCRs by index. */
  pcrs?: Record<string, string>;
  publicKey?: string | null;
  userData?: string | null;
  nonce?: string | null;
  /** True when PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode. */
  debugMode?: boolean;
  /** True when the payload is an indefinite-length CBOR map. */
  indefiniteLengthPayload?: boolean;
  /** Subject of the enclave's leaf certificate. */
  certificateSubject?: string;
}

export interface NitroVerifyOptions {
  /** Unix seconds at which certificates and freshness are judged. */
  at: number;
  policy?: Policy | PolicyInput;
  /** Root to pin instead of AWS Nitro root G1 (tests with a test CA). */
  trustAnchor?: CertificateInput;
}

/** COSE algorithm id of ES384. */
const COSE_ALG_ES384 = -35;
/** A document's timestamp may be this many seconds after the audit time (clock skew). */
const CLOCK_SKEW_SECONDS = 60;
/** Check names of this verifier, in order; chain links add `chain.cabundle[i]`. */
export const NITRO_CHECKS = [
  "cose.structure",
  "cose.algorithm",
  "payload.fields",
  "root.pinned",
  "chain.certificate",
  "cose.signature",
  "payload.timestamp",
  "policy.debug",
] as const;

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });

/** CBOR head (major type and argument) for lengths below 2^32. */
function cborHead(major: number, length: number): Buffer {
  if (length < 24) return Buffer.from([(major << 5) | length]);
  if (length < 0x100) return Buffer.from([(major << 5) | 24, length]);
  if (length < 0x10000) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
  const head = Buffer.alloc(5);
  head[0] = (major << 5) | 26;
  head.writeUInt32BE(length, 1);
  return head;
}

/** The COSE Sig_structure for COSE_Sign1 with empty external AAD (RFC 9052 §4.4). */
export function coseSign1SigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Buffer {
  const context = Buffer.from("Signature1", "utf8");
  return Buffer.concat([
    Buffer.from([0x84]),
    cborHead(3, context.length),
    context,
    cborHead(2, protectedHeader.length),
    protectedHeader,
    Buffer.from([0x40]),
    cborHead(2, payload.length),
    payload,
  ]);
}

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

interface CoseParts {
  protectedHeader: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
  tagged: boolean;
}

function decodeCose(document: Uint8Array): CoseParts {
  let outer: unknown = decoder.decode(document);
  let tagged = false;
  if (outer instanceof Tag) {
    if (outer.tag !== 18) throw new Error(`CBOR tag ${outer.tag} is not COSE_Sign1 (18)`);
    outer = outer.value;
    tagged = true;
  }
  if (!Array.isArray(outer) || outer.length !== 4) throw new Error("not a CBOR array of 4 elements");
  const [protectedHeader, unprotected, payload, signature] = outer as unknown[];
  if (!isBytes(protectedHeader)) throw new Error("protected header is not a byte string");
  if (!(unprotected instanceof Map)) throw new Error("unprotected header is not a map");
  if (!isBytes(payload)) throw new Error("payload is not a byte string");
  if (!isBytes(signature)) throw new Error("signature is not a byte string");
  return { protectedHeader, payload, signature, tagged };
}

interface NitroPayload {
  moduleId: string;
  digest: string;
  timestampMs: number;
  pcrs: Record<string, string>;
  certificate: Uint8Array;
  cabundle: Uint8Array[];
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
}

function optionalBytes(map: Map<unknown, unknown>, key: string, max: number): Uint8Array | null {
  const value = map.get(key);
  if (value === undefined || value === null) return null;
  if (!isBytes(value)) throw new Error(`${key} is neither a byte string nor null`);
  if (value.length > max) throw new Error(`${key} is ${value.length} bytes, more than ${max}`);
  return value;
}

function decodePayload(payload: Uint8Array): NitroPayload {
  const map: unknown = decoder.decode(payload);
  if (!(map instanceof Map)) throw new Error("payload is not a CBOR map");
  const moduleId = map.get("module_id");
  if (typeof moduleId !== "string" || moduleId.length === 0) throw new Error("module_id is not a non-empty text string");
  const digest = map.get("digest");
  if (digest !== "SHA384") throw new Error(`digest is ${String(digest)}, expected SHA384`);
  const timestamp = map.get("timestamp");
  if ((typeof timestamp !== "number" && typeof timestamp !== "bigint") || timestamp <= 0) {
    throw new Error("timestamp is not a positive integer");
  }
  const pcrMap = map.get("pcrs");
  if (!(pcrMap instanceof Map) || pcrMap.size === 0 || pcrMap.size > 32) throw new Error("pcrs is not a map of 1-32 entries");
  const pcrs: Record<string, string> = {};
  for (const [index, value] of pcrMap) {
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index > 31) throw new Error(`PCR index ${String(index)} is not 0-31`);
    if (!isBytes(value) || ![32, 48, 64].includes(value.length)) throw new Error(`PCR${index} is not 32, 48 or 64 bytes`);
    pcrs[String(index)] = toHex(value);
  }
  const certificate = map.get("certificate");
  if (!isBytes(certificate) || certificate.length === 0) throw new Error("certificate is not a non-empty byte string");
  const cabundle = map.get("cabundle");
  if (!Array.isArray(cabundle) || cabundle.length === 0 || !cabundle.every(isBytes)) {
    throw new Error("cabundle is not a non-empty array of byte strings");
  }
  return {
    moduleId,
    digest,
    timestampMs: Number(timestamp),
    pcrs,
    certificate,
    cabundle: cabundle as Uint8Array[],
    publicKey: optionalBytes(map, "public_key", 1024),
    userData: optionalBytes(map, "user_data", 512),
    nonce: optionalBytes(map, "nonce", 512),
  };
}

const isZero = (hex: string | undefined): boolean => hex !== undefined && /^0+$/.test(hex);

type NitroRun = VerificationRun<NitroFacts>;

/** Verifies a Nitro attestation document; never throws for bad evidence. */
export function verifyNitro(document: Uint8Array, options: NitroVerifyOptions): VerificationReport<NitroFacts> {
  const { at } = options;
  const policy = resolvePolicy(options.policy);
  const anchor = resolveTrustAnchor(options.trustAnchor, AWS_NITRO_ROOT_G1);
  const run: NitroRun = { at, checks: new CheckList(), facts: {}, chain: [] };
  const { checks, facts, chain } = run;
  const finish = () => checks.finish({ format: "nitro", at, facts, chain, expected: NITRO_CHECKS });

  let cose: CoseParts;
  try {
    cose = decodeCose(document);
    checks.pass("cose.structure", `COSE_Sign1 array of 4 elements${cose.tagged ? " with tag 18" : " (untagged)"}`, { bytes: document.length });
  } catch (error) {
    checks.fail("cose.structure", `not a COSE_Sign1 document: ${errorMessage(error)}`, { bytes: document.length });
    return finish();
  }
  const algorithmOk = checkAlgorithm(cose, checks);

  let payload: NitroPayload;
  try {
    payload = decodePayload(cose.payload);
  } catch (error) {
    checks.fail("payload.fields", `payload is not a valid Nitro attestation: ${errorMessage(error)}`);
    return finish();
  }
  recordPayload(payload, cose, run);

  // Chain of trust: cabundle[0] is the root, then intermediates, then the enclave's certificate.
  let certificates: X509Certificate[];
  try {
    certificates = [...payload.cabundle, payload.certificate].map((der) => toX509(der));
  } catch (error) {
    checks.fail("root.pinned", `a certificate in cabundle or certificate does not parse: ${errorMessage(error)}`);
    return finish();
  }
  checkCertificateChain(certificates, anchor, run);
  const leaf = certificates[certificates.length - 1];
  facts.certificateSubject = leaf.subject.replace(/\n/g, ", ");

  const signatureOk = checkSignature(cose, leaf, algorithmOk, checks);
  chain.push({ role: "evidence", title: "Attestation document", subtitle: `${payload.moduleId} at ${facts.issuedAt}`, check: "cose.signature", ok: signatureOk });
  checkTimestamp(payload, leaf, run);
  checkNitroPolicy(payload, policy, run);
  return finish();
}

/** `cose.algorithm`: the protected header is ES384 and the signature 96 bytes. */
function checkAlgorithm(cose: CoseParts, checks: CheckList): boolean {
  let algorithmOk = false;
  try {
    const header: unknown = decoder.decode(cose.protectedHeader);
    const isEs384 = header instanceof Map && header.size === 1 && header.get(1) === COSE_ALG_ES384;
    const sigLengthOk = cose.signature.length === 96;
    algorithmOk = isEs384 && sigLengthOk;
    checks.record(
      "cose.algorithm",
      algorithmOk,
      !isEs384
        ? "protected header is not {1: -35} (ES384)"
        : sigLengthOk
          ? "protected header is {1: -35} (ES384); signature is 96 bytes r||s"
          : `signature is ${cose.signature.length} bytes, expected 96 (r||s for P-384)`,
      { protectedHeader: toHex(cose.protectedHeader), signatureBytes: cose.signature.length },
    );
  } catch (error) {
    checks.fail("cose.algorithm", `protected header does not decode: ${errorMessage(error)}`, { protectedHeader: toHex(cose.protectedHeader) });
  }
  return algorithmOk;
}

/** `payload.fields` and the facts a Nitro payload carries. */
function recordPayload(payload: NitroPayload, cose: CoseParts, { checks, facts }: NitroRun): void {
  facts.moduleId = payload.moduleId;
  facts.timestampMs = payload.timestampMs;
  facts.issuedAt = new Date(payload.timestampMs).toISOString();
  facts.digest = payload.digest;
  facts.pcrs = payload.pcrs;
  facts.publicKey = payload.publicKey && toHex(payload.publicKey);
  facts.userData = payload.userData && toHex(payload.userData);
  facts.nonce = payload.nonce && toHex(payload.nonce);
  facts.debugMode = isZero(payload.pcrs["0"]) && isZero(payload.pcrs["1"]) && isZero(payload.pcrs["2"]);
  facts.indefiniteLengthPayload = cose.payload[0] === 0xbf;
  checks.pass(
    "payload.fields",
    `payload map (${facts.indefiniteLengthPayload ? "indefinite" : "definite"} length) has module_id, digest SHA384, timestamp, ${Object.keys(payload.pcrs).length} PCRs, certificate and ${payload.cabundle.length} CA certificates`,
    { moduleId: payload.moduleId, timestamp: facts.issuedAt },
  );
}

/** `root.pinned` and one check per certificate below it (issued by the one above, valid at the audit time). */
function checkCertificateChain(certificates: X509Certificate[], anchor: PinnedRoot, { at, checks, chain }: NitroRun): void {
  const root = certificates[0];
  const rootFingerprint = fingerprintSha256(root);
  const rootOk = rootFingerprint === anchor.sha256;
  checks.record(
    "root.pinned",
    rootOk,
    rootOk ? `cabundle[0] is the pinned ${anchor.name}` : `cabundle[0] is not the pinned ${anchor.name}`,
    { pinned: anchor.sha256, actual: rootFingerprint, subject: root.subject.replace(/\n/g, ", ") },
  );
  chain.push({ role: "root", title: anchor.name, subtitle: `SHA-256 ${shortHex(anchor.sha256)}`, check: "root.pinned", ok: rootOk });
  const rootInvalid = validityProblem(root, at);
  for (let i = 1; i < certificates.length; i++) {
    const isLeaf = i === certificates.length - 1;
    const name = isLeaf ? "chain.certificate" : `chain.cabundle[${i}]`;
    const link = checkIssuedBy(certificates[i], certificates[i - 1], at);
    let ok = link.ok;
    let detail = link.detail;
    if (!isLeaf && !certificates[i].ca) {
      ok = false;
      detail += `; cabundle[${i}] is not a CA certificate`;
    }
    if (i === 1 && rootInvalid) {
      ok = false;
      detail += `; the root is ${rootInvalid}`;
    }
    checks.record(name, ok, detail, link.evidence);
    chain.push({
      role: isLeaf ? "leaf" : "intermediate",
      title: isLeaf ? "Enclave certificate" : `Intermediate CA ${i}`,
      subtitle: commonName(certificates[i].subject),
      check: name,
      ok,
    });
  }
}

/** `cose.signature`: ES384 over the COSE Sig_structure with the enclave certificate's P-384 key. */
function checkSignature(cose: CoseParts, leaf: X509Certificate, algorithmOk: boolean, checks: CheckList): boolean {
  const leafKey = leaf.publicKey;
  const curve = leafKey.asymmetricKeyDetails?.namedCurve;
  let signatureOk = false;
  if (leafKey.asymmetricKeyType !== "ec" || curve !== "secp384r1") {
    checks.fail("cose.signature", `the enclave certificate's key is ${leafKey.asymmetricKeyType} ${curve ?? ""}, not EC P-384`);
  } else if (!algorithmOk) {
    checks.fail("cose.signature", "not verified: the algorithm or signature length is not ES384");
  } else {
    signatureOk = cryptoVerify(
      "sha384",
      coseSign1SigStructure(cose.protectedHeader, cose.payload),
      { key: leafKey, dsaEncoding: "ieee-p1363" },
      cose.signature,
    );
    checks.record(
      "cose.signature",
      signatureOk,
      signatureOk
        ? "ES384 signature over Sig_structure [\"Signature1\", protected, h'', payload] verifies with the enclave certificate's key"
        : "ES384 signature does not verify with the enclave certificate's key: the document was altered or signed by another key",
      { signature: toHex(cose.signature), signer: fingerprintSha256(leaf) },
    );
  }
  return signatureOk;
}

/** `payload.timestamp`: within the enclave certificate's validity and not after the audit time. */
function checkTimestamp(payload: NitroPayload, leaf: X509Certificate, { at, checks }: NitroRun): void {
  const issuedAtIso = new Date(payload.timestampMs).toISOString();
  const issuedAt = payload.timestampMs / 1000;
  const leafValidity = validity(leaf);
  const timeProblems: string[] = [];
  if (issuedAt > at + CLOCK_SKEW_SECONDS) timeProblems.push(`it is later than the audit time ${isoTime(at)}`);
  if (issuedAt < leafValidity.notBefore || issuedAt > leafValidity.notAfter) {
    timeProblems.push("it is outside the enclave certificate's validity");
  }
  checks.record(
    "payload.timestamp",
    timeProblems.length === 0,
    timeProblems.length === 0
      ? `timestamp ${issuedAtIso} is within the enclave certificate's validity and not after the audit time`
      : `timestamp ${issuedAtIso}: ${timeProblems.join("; ")}`,
    { timestamp: issuedAtIso, at: isoTime(at), ...pick(describeCertificate(leaf), ["notBefore", "notAfter"]) },
  );
}

/** The policy checks (PCRs, debug, age, signer binding, nonce) and their links in the trust diagram. */
function checkNitroPolicy(payload: NitroPayload, policy: Policy, { at, checks, facts, chain }: NitroRun): void {
  const issuedAt = payload.timestampMs / 1000;
  const policyChecks = evaluatePolicy(
    {
      debug: facts.debugMode === true,
      debugReason: facts.debugMode ? "PCR0, PCR1 and PCR2 are all zero" : "PCR0-2 are not all zero",
      pcrs: payload.pcrs,
      issuedAt,
      signerFields: { user_data: facts.userData ?? null, public_key: facts.publicKey ?? null },
      nonce: facts.nonce ?? null,
    },
    policy,
    at,
  );
  checks.addAll(policyChecks);
  const pcrCheck = checks.get("policy.pcrs");
  chain.push({
    role: "measurement",
    title: facts.debugMode ? "PCRs (debug mode: all zero)" : "PCR0 (enclave image)",
    subtitle: shortHex(payload.pcrs["0"] ?? ""),
    check: pcrCheck ? "policy.pcrs" : "policy.debug",
    ok: pcrCheck ? pcrCheck.ok : checks.outcome("policy.debug") === false ? false : null,
  });
  chain.push(signerLink(checks, policy));
}

function pick<T extends Record<string, unknown>>(record: T, keys: (keyof T)[]): Partial<T> {
  return Object.fromEntries(keys.map((k) => [k, record[k]])) as Partial<T>;
}

/** The registry entry for Nitro documents. */
export const nitroVerifier: EvidenceVerifier = {
  format: "nitro",
  description: "AWS Nitro Enclaves attestation document (COSE_Sign1, ES384, AWS Nitro root G1)",
  collateral: "none",
  verify: (input) => verifyNitro(input.evidence, { at: input.at, policy: input.policy, trustAnchor: input.trustAnchor }),
};
