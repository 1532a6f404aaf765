/**
 * An independent parser for Intel SGX/TDX DCAP quotes (v3, v4, v5), so the auditor reports
 * facts from its own reading of the bytes rather than only from the verification library.
 *
 * Layout (little-endian): header 48 bytes; v5 adds body type (u16) and body size (u32); the
 * body is an SGX report (384 bytes), a TD report 1.0 (584) or 1.5 (648); then the signature
 * data length (u32) and the signature data: ECDSA signature (64), attestation key (64), and the
 * QE certification data (QE report, its signature, QE auth data, PCK certificate chain).
 */
import { toHex } from "../checks";

/** Intel's QE vendor id (the Intel DCAP Quoting Enclave). */
export const INTEL_QE_VENDOR_ID = "939a7233f79c4ca9940a0db3957f0607";
export const HEADER_LENGTH = 48;
export const SGX_REPORT_LENGTH = 384;
export const TD_REPORT10_LENGTH = 584;
export const TD_REPORT15_LENGTH = 648;
/** Attestation key type 2: ECDSA-256 with P-256. */
export const ATTESTATION_KEY_ECDSA_P256 = 2;
/** Certification data type 5: PCK certificate chain (PEM). */
export const CERT_TYPE_PCK_CHAIN = 5;
/** Certification data type 6: QE report certification data (v4/v5). */
export const CERT_TYPE_QE_REPORT = 6;

export interface SgxReportBody {
  cpuSvn: string;
  miscSelect: number;
  attributes: string;
  mrEnclave: string;
  mrSigner: string;
  isvProdId: number;
  isvSvn: number;
  reportData: string;
  /** ATTRIBUTES.DEBUG (bit 1 of the first byte). */
  debug: boolean;
}

export interface TdReportBody {
  teeTcbSvn: string;
  mrSeam: string;
  mrSignerSeam: string;
  seamAttributes: string;
  tdAttributes: string;
  xfam: string;
  mrTd: string;
  mrConfigId: string;
  mrOwner: string;
  mrOwnerConfig: string;
  rtmr0: string;
  rtmr1: string;
  rtmr2: string;
  rtmr3: string;
  reportData: string;
  /** TD 1.5 only. */
  teeTcbSvn2?: string;
  mrServiceTd?: string;
  /** TDATTRIBUTES.DEBUG (bit 0 of the first byte). */
  debug: boolean;
}

export interface ParsedDcapQuote {
  version: number;
  attestationKeyType: number;
  teeType: "SGX" | "TDX";
  qeSvn: number;
  pceSvn: number;
  qeVendorId: string;
  body: { kind: "sgx"; report: SgxReportBody } | { kind: "td10" | "td15"; report: TdReportBody };
  /** Length of header (+ v5 body descriptor) + body: the bytes the attestation key signs. */
  signedLength: number;
  signature: Uint8Array;
  attestationKey: Uint8Array;
  qeReport: Uint8Array;
  /** The QE report parsed as an SGX report body. */
  qeReportBody: SgxReportBody;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  certificationType: number;
  certificationData: Uint8Array;
}

class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public offset = 0,
  ) {}

  take(length: number, what: string): Uint8Array {
    if (this.offset + length > this.bytes.length) {
      throw new Error(`quote is truncated: ${what} needs ${length} bytes at offset ${this.offset}, ${this.bytes.length - this.offset} left`);
    }
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u16(what: string): number {
    return Buffer.from(this.take(2, what)).readUInt16LE(0);
  }

  u32(what: string): number {
    return Buffer.from(this.take(4, what)).readUInt32LE(0);
  }
}

const hexAt = (b: Uint8Array, offset: number, length: number) => toHex(b.subarray(offset, offset + length));

/** Parses a 384-byte SGX report body (also the QE report). */
export function parseSgxReport(b: Uint8Array): SgxReportBody {
  const view = Buffer.from(b);
  return {
    cpuSvn: hexAt(b, 0, 16),
    miscSelect: view.readUInt32LE(16),
    attributes: hexAt(b, 48, 16),
    mrEnclave: hexAt(b, 64, 32),
    mrSigner: hexAt(b, 128, 32),
    isvProdId: view.readUInt16LE(256),
    isvSvn: view.readUInt16LE(258),
    reportData: hexAt(b, 320, 64),
    debug: (b[48] & 0x02) !== 0,
  };
}

/** Parses a TD report body (584 bytes for TDX 1.0, 648 for 1.5). */
export function parseTdReport(b: Uint8Array): TdReportBody {
  const report: TdReportBody = {
    teeTcbSvn: hexAt(b, 0, 16),
    mrSeam: hexAt(b, 16, 48),
    mrSignerSeam: hexAt(b, 64, 48),
    seamAttributes: hexAt(b, 112, 8),
    tdAttributes: hexAt(b, 120, 8),
    xfam: hexAt(b, 128, 8),
    mrTd: hexAt(b, 136, 48),
    mrConfigId: hexAt(b, 184, 48),
    mrOwner: hexAt(b, 232, 48),
    mrOwnerConfig: hexAt(b, 280, 48),
    rtmr0: hexAt(b, 328, 48),
    rtmr1: hexAt(b, 376, 48),
    rtmr2: hexAt(b, 424, 48),
    rtmr3: hexAt(b, 472, 48),
    reportData: hexAt(b, 520, 64),
    debug: (b[120] & 0x01) !== 0,
  };
  if (b.length >= TD_REPORT15_LENGTH) {
    report.teeTcbSvn2 = hexAt(b, 584, 16);
    report.mrServiceTd = hexAt(b, 600, 48);
  }
  return report;
}

/** Parses a DCAP quote; throws with the offset and field when the bytes do not fit the format. */
export function parseDcapQuote(quote: Uint8Array): ParsedDcapQuote {
  const r = new Reader(quote);
  const version = r.u16("version");
  if (version < 3 || version > 5) throw new Error(`quote version ${version} is not 3, 4 or 5`);
  const attestationKeyType = r.u16("attestation key type");
  const teeRaw = r.u32("TEE type");
  if (teeRaw !== 0 && teeRaw !== 0x81) throw new Error(`TEE type 0x${teeRaw.toString(16)} is neither SGX (0) nor TDX (0x81)`);
  const teeType = teeRaw === 0 ? "SGX" : "TDX";
  const qeSvn = r.u16("QE SVN");
  const pceSvn = r.u16("PCE SVN");
  const qeVendorId = toHex(r.take(16, "QE vendor id"));
  r.take(20, "user data");

  let kind: "sgx" | "td10" | "td15";
  let bodyLength: number;
  if (version === 5) {
    const bodyType = r.u16("body type");
    bodyLength = r.u32("body size");
    const expected: Record<number, ["sgx" | "td10" | "td15", number]> = {
      1: ["sgx", SGX_REPORT_LENGTH],
      2: ["td10", TD_REPORT10_LENGTH],
      3: ["td15", TD_REPORT15_LENGTH],
    };
    const entry = expected[bodyType];
    if (!entry) throw new Error(`v5 body type ${bodyType} is not 1 (SGX), 2 (TD 1.0) or 3 (TD 1.5)`);
    if (entry[1] !== bodyLength) throw new Error(`v5 body type ${bodyType} has size ${bodyLength}, expected ${entry[1]}`);
    kind = entry[0];
  } else {
    kind = teeType === "SGX" ? "sgx" : "td10";
    bodyLength = kind === "sgx" ? SGX_REPORT_LENGTH : TD_REPORT10_LENGTH;
  }
  if ((kind === "sgx") !== (teeType === "SGX")) throw new Error(`body type ${kind} does not match TEE type ${teeType}`);
  const bodyBytes = r.take(bodyLength, "report body");
  const body =
    kind === "sgx" ? { kind, report: parseSgxReport(bodyBytes) } : { kind, report: parseTdReport(bodyBytes) };
  const signedLength = r.offset;

  const signatureDataLength = r.u32("signature data length");
  const signatureData = new Reader(r.take(signatureDataLength, "signature data"));
  const signature = signatureData.take(64, "quote signature");
  const attestationKey = signatureData.take(64, "attestation key");
  let qe: Reader = signatureData;
  if (version >= 4) {
    const outerType = signatureData.u16("certification data type");
    if (outerType !== CERT_TYPE_QE_REPORT) throw new Error(`certification data type ${outerType}, expected 6 (QE report)`);
    qe = new Reader(signatureData.take(signatureData.u32("certification data size"), "QE report certification data"));
  }
  const qeReport = qe.take(SGX_REPORT_LENGTH, "QE report");
  const qeReportSignature = qe.take(64, "QE report signature");
  const qeAuthData = qe.take(qe.u16("QE auth data size"), "QE auth data");
  const certificationType = qe.u16("PCK certification data type");
  const certificationData = qe.take(qe.u32("PCK certification data size"), "PCK certification data");

  return {
    version,
    attestationKeyType,
    teeType,
    qeSvn,
    pceSvn,
    qeVendorId,
    body: body as ParsedDcapQuote["body"],
    signedLength,
    signature,
    attestationKey,
    qeReport,
    qeReportBody: parseSgxReport(qeReport),
    qeReportSignature,
    qeAuthData,
    certificationType,
    certificationData,
  };
}
