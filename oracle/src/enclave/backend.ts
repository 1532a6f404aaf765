/**
 * The interface between the enclave host and whatever attests its runner: the development
 * platform (a software SIMULATION, platform.ts) or a real TEE backend (tee/configfs-tsm.ts).
 * The host measures the runner itself and hands the backend the measurement it computed, the
 * runtime hash, the runner's signer and the operator it is configured with; the backend returns
 * evidence binding them.
 */
import type { P256Signature } from "../protocol/report";

/** What the host asks to have attested. The measurement is the host's, never the runner's claim. */
export interface AttestationRequest {
  measurement: string;
  runtime: string;
  /** The runner's enclave signer (secp256k1 address). */
  signer: string;
  /**
   * The operator the host is configured with: the one account that may register the signer (and
   * is paid its fees). The development platform signs it into the report, where the
   * EnclaveRegistry requires it to equal msg.sender; without it the report names the zero
   * address and nobody can register it. Hardware backends bind only keccak256(signer): the
   * auditor path names no operator (docs/contracts.md, "Front-running a registration").
   */
  operator?: string;
}

/** Evidence from the development platform: the report and certificate the EnclaveRegistry verifies on-chain. */
export interface DevEvidence {
  format: "dev";
  /** `abi.encode` of the AttestationReport (protocol/report.ts), 0x hex. */
  report: string;
  reportSignature: P256Signature;
  /** `abi.encode` of the PlatformCertificate, 0x hex. */
  certificate: string;
  certificateSignature: P256Signature;
  rootId: string;
  measurement: string;
  signer: string;
  /** The only account that may register this report (the report's `operator` field). */
  operator: string;
  teeType: number;
  runtime: string;
  issuedAt: bigint;
  expiresAt: bigint;
}

/** Evidence from real TEE hardware, for auditors to verify off-chain and countersign. */
export interface HardwareEvidence {
  format: "dcap" | "sev-snp";
  /** Raw quote (TDX) or attestation report (SEV-SNP) bytes. */
  evidence: Uint8Array;
  /** The provider the kernel named (`tdx_guest`, `sev_guest`). */
  provider: string;
  /** The 64 bytes of report data: keccak256(signer) ‖ 32 zero bytes, 0x hex. */
  reportData: string;
  /** The host's measurement of the runner code (hardware measures the VM; see docs/attestation.md). */
  measurement: string;
  signer: string;
  teeType: number;
  runtime: string;
}

export type EnclaveEvidence = DevEvidence | HardwareEvidence;

/** Something that attests a runner: the simulated platform or a hardware backend. */
export interface AttestationBackend {
  /** Short name for logs: "dev-platform", "configfs-tsm". */
  readonly name: string;
  /** True when the evidence binds `AttestationRequest.operator` (the development platform). */
  readonly bindsOperator?: boolean;
  attest(request: AttestationRequest): Promise<EnclaveEvidence>;
  /**
   * Sealing key for a measurement, derived from a platform secret the runner never sees.
   * Absent on a backend that cannot seal (the host then refuses `sealedKeyPath`).
   */
  sealingKey?(measurement: string): Uint8Array;
}
