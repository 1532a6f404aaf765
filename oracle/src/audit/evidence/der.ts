/**
 * A minimal DER reader: enough ASN.1 to read X.509 extensions, names and CRLs that Node's
 * `crypto.X509Certificate` does not expose (Intel SGX extensions, AMD VCEK extensions, CRL
 * entries). It reads definite-length DER only and rejects anything that overruns its parent.
 */

/** One decoded TLV element; offsets index into the buffer it was read from. */
export interface DerElement {
  /** Full identifier octet (class, constructed bit and tag number for tags < 31). */
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset one past the last content octet. */
  readonly end: number;
  /** The buffer the element was read from. */
  readonly source: Uint8Array;
}

export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Reads the TLV element at `offset`, bounded by `limit`. */
export function readDer(source: Uint8Array, offset = 0, limit = source.length): DerElement {
  if (offset + 2 > limit) throw new Error(`DER: truncated element at offset ${offset}`);
  const tag = source[offset];
  if ((tag & 0x1f) === 0x1f) throw new Error(`DER: multi-byte tags are not supported (offset ${offset})`);
  let length = source[offset + 1];
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error(`DER: unsupported length form at offset ${offset}`);
    if (contentStart + count > limit) throw new Error(`DER: truncated length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + source[contentStart + i];
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) throw new Error(`DER: element at offset ${offset} overruns its container`);
  return { tag, start: offset, contentStart, end, source };
}

/** The content octets of an element. */
export function derContent(element: DerElement): Uint8Array {
  return element.source.subarray(element.contentStart, element.end);
}

/** The whole encoding (identifier, length and content) of an element. */
export function derEncoding(element: DerElement): Uint8Array {
  return element.source.subarray(element.start, element.end);
}

/** The child elements of a constructed element. */
export function derChildren(element: DerElement): DerElement[] {
  const children: DerElement[] = [];
  let offset = element.contentStart;
  while (offset < element.end) {
    const child = readDer(element.source, offset, element.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** Asserts an element's tag and returns it, with a message naming what was expected. */
export function expectTag(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (!element) throw new Error(`DER: ${what} is missing`);
  if (element.tag !== tag) {
    throw new Error(`DER: ${what} has tag 0x${element.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  }
  return element;
}

/** Decodes an OBJECT IDENTIFIER to its dotted form. */
export function derOid(element: DerElement): string {
  const bytes = derContent(expectTag(element, DER_TAG.OID, "object identifier"));
  if (bytes.length === 0) throw new Error("DER: empty object identifier");
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = arcs.shift() ?? 0;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs].join(".");
}

/** Decodes a non-negative INTEGER (as used for serials, SVNs) to a bigint. */
export function derUnsigned(element: DerElement): bigint {
  const bytes = derContent(expectTag(element, DER_TAG.INTEGER, "integer"));
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** Decodes UTCTime or GeneralizedTime (the forms X.509 uses: ...Z) to unix seconds. */
export function derTime(element: DerElement): number {
  const text = Buffer.from(derContent(element)).toString("latin1");
  let match: RegExpMatchArray | null;
  let year: number;
  if (element.tag === DER_TAG.UTC_TIME) {
    match = text.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!match) throw new Error(`DER: malformed UTCTime ${text}`);
    const yy = Number(match[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (element.tag === DER_TAG.GENERALIZED_TIME) {
    match = text.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!match) throw new Error(`DER: malformed GeneralizedTime ${text}`);
    year = Number(match[1]);
  } else {
    throw new Error(`DER: tag 0x${element.tag.toString(16)} is not a time`);
  }
  const [, , mo, d, h, mi, s] = match.map(Number);
  return Date.UTC(year, mo - 1, d, h, mi, s) / 1000;
}

/** The bytes of a BIT STRING with no unused bits (signatures, keys). */
export function derBitString(element: DerElement): Uint8Array {
  const bytes = derContent(expectTag(element, DER_TAG.BIT_STRING, "bit string"));
  if (bytes.length === 0 || bytes[0] !== 0) throw new Error("DER: bit string with unused bits");
  return bytes.subarray(1);
}

/** The parts of an X.509 certificate that Node's X509Certificate does not expose. */
export interface CertificateParts {
  /** DER of the issuer Name. */
  issuer: Uint8Array;
  /** DER of the subject Name. */
  subject: Uint8Array;
  /** Extensions by OID: the content of each extnValue OCTET STRING. */
  extensions: Map<string, Uint8Array>;
}

/** Reads the issuer, subject and extensions of a DER certificate. */
export function parseCertificateParts(der: Uint8Array): CertificateParts {
  const certificate = expectTag(readDer(der), DER_TAG.SEQUENCE, "certificate");
  const tbs = expectTag(derChildren(certificate)[0], DER_TAG.SEQUENCE, "tbsCertificate");
  const fields = derChildren(tbs);
  let index = fields[0]?.tag === 0xa0 ? 1 : 0; // optional [0] version
  index += 2; // serialNumber, signature
  const issuer = expectTag(fields[index], DER_TAG.SEQUENCE, "issuer");
  const subject = expectTag(fields[index + 2], DER_TAG.SEQUENCE, "subject");
  const extensions = new Map<string, Uint8Array>();
  const extensionsWrapper = fields.slice(index + 4).find((f) => f.tag === 0xa3);
  if (extensionsWrapper) {
    const list = expectTag(derChildren(extensionsWrapper)[0], DER_TAG.SEQUENCE, "extensions");
    for (const extension of derChildren(list)) {
      const parts = derChildren(extension);
      const oid = derOid(parts[0]);
      const value = expectTag(parts[parts.length - 1], DER_TAG.OCTET_STRING, `extension ${oid} value`);
      extensions.set(oid, derContent(value));
    }
  }
  return { issuer: derEncoding(issuer), subject: derEncoding(subject), extensions };
}
