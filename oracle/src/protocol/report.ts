/**
 * The development platform's attestation report and platform certificate, as the contracts read
 * them. The platform is a SIMULATION of TEE hardware (see docs/attestation.md): a vendor root
 * certifies a platform key, and the platform key signs reports that bind an enclave signer to the
 * runner measurement and to the one operator allowed to register it. Signatures are P-256
 * (secp256r1) over sha256 of the ABI encoding below, with low-s (OpenZeppelin's `P256.verify`
 * rejects s > n/2). `contracts/libraries/AttestationReport.sol` encodes the same bytes; a test
 * holds the two equal.
 *
 * Field order (fixed):
 *   report      = abi.encode(uint16 version, uint8 teeType, bytes32 platformId, bytes32 measurement,
 *                            address enclaveSigner, address operator, bytes32 runtime,
 *                            uint64 issuedAt, uint64 expiresAt)                  (REPORT_VERSION 2)
 *   certificate = abi.encode(uint16 version, bytes32 platformId, bytes32 platformKeyX,
 *                            bytes32 platformKeyY, uint64 notBefore, uint64 notAfter) (CERTIFICATE_VERSION 1)
 *   rootId      = keccak256(abi.encode(bytes32 rootKeyX, bytes32 rootKeyY))
 *
 * `operator` is the only account the EnclaveRegistry lets register the report (it must be
 * msg.sender): a copy of the report taken from the mempool or from the node's `/v1/attestation`
 * cannot be submitted by anyone else to take the signer, and its fees, over. Version 1 had no
 * operator; the registry rejects it.
 */
import { AbiCoder, keccak256, sha256 } from "ethers";

export interface AttestationReport {
  version: number;
  teeType: number;
  platformId: string;
  measurement: string;
  enclaveSigner: string;
  /** The account that may register the signer and is paid its fees (msg.sender of `registerEnclave`). */
  operator: string;
  /** sha256 of the runtime identifiers (Node major version, onnxruntime-node version). */
  runtime: string;
  issuedAt: bigint;
  expiresAt: bigint;
}

export interface PlatformCertificate {
  version: number;
  platformId: string;
  platformKeyX: string;
  platformKeyY: string;
  notBefore: bigint;
  notAfter: bigint;
}

/** A P-256 signature as the contracts take it: two 32-byte words, s in the lower half. */
export interface P256Signature {
  r: string;
  s: string;
}

const REPORT_ABI = ["uint16", "uint8", "bytes32", "bytes32", "address", "address", "bytes32", "uint64", "uint64"];
const CERT_ABI = ["uint16", "bytes32", "bytes32", "bytes32", "uint64", "uint64"];
const coder = AbiCoder.defaultAbiCoder();

export function encodeReport(r: AttestationReport): string {
  return coder.encode(REPORT_ABI, [
    r.version, r.teeType, r.platformId, r.measurement, r.enclaveSigner, r.operator, r.runtime, r.issuedAt, r.expiresAt,
  ]);
}

export function decodeReport(data: string): AttestationReport {
  const v = coder.decode(REPORT_ABI, data);
  return {
    version: Number(v[0]), teeType: Number(v[1]), platformId: v[2], measurement: v[3],
    enclaveSigner: v[4], operator: v[5], runtime: v[6], issuedAt: BigInt(v[7]), expiresAt: BigInt(v[8]),
  };
}

export function encodeCertificate(c: PlatformCertificate): string {
  return coder.encode(CERT_ABI, [c.version, c.platformId, c.platformKeyX, c.platformKeyY, c.notBefore, c.notAfter]);
}

export function decodeCertificate(data: string): PlatformCertificate {
  const v = coder.decode(CERT_ABI, data);
  return {
    version: Number(v[0]), platformId: v[1], platformKeyX: v[2], platformKeyY: v[3],
    notBefore: BigInt(v[4]), notAfter: BigInt(v[5]),
  };
}

/** The 32 bytes the platform key signs (P-256) for a report. */
export function reportDigest(r: AttestationReport): string {
  return sha256(encodeReport(r));
}

/** The 32 bytes the vendor root signs (P-256) for a platform certificate. */
export function certificateDigest(c: PlatformCertificate): string {
  return sha256(encodeCertificate(c));
}

/** Identifier of a vendor root key in the EnclaveRegistry. */
export function rootId(rootKeyX: string, rootKeyY: string): string {
  return keccak256(coder.encode(["bytes32", "bytes32"], [rootKeyX, rootKeyY]));
}
