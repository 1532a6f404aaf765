/**
 * The registration and attestation links of a result audit, per submission: the signer's
 * `EnclaveRegistered` event before it signed (its operator the one paid), its state now, and the
 * attestation in the registration calldata — a development report verified against the
 * deployment's pinned development root, or the auditors' countersignatures.
 */
import { Contract, getAddress, recoverAddress, zeroPadValue, type Log, type Provider, type TransactionResponse } from "ethers";
import type { Deployment } from "../../chain/deployment";
import { verifyDevEvidence } from "../../enclave/dev-evidence";
import { ENCLAVE_STATUS, ROOT_STATUS, registryInterface } from "../../protocol/abi";
import { fromHex, sha256Hex } from "../../protocol/bytes";
import { TeeType } from "../../protocol/constants";
import type { EnclaveAttestation } from "../../protocol/eip712";
import { rootId as computeRootId } from "../../protocol/report";
import { attestationDigest } from "../attest";
import { isoTime, shortHex, type CheckList } from "../checks";
import type { EvidenceValue, TrustLink } from "../types";

/** One `ResultSubmitted` event with its position. */
export interface Submission {
  signer: string;
  operator: string;
  outputHash: string;
  status: number;
  log: Log;
}

/** The signer's registration as the registry emitted it. */
export interface RegistrationEvent {
  signer: string;
  operator: string;
  measurement: string;
  teeType: number;
  expiresAt: number;
  evidenceHash: string;
  log: Log;
}

export interface RegistrationLinkContext {
  checks: CheckList;
  chain: TrustLink[];
  provider: Provider;
  deployment: Deployment;
  registry: Contract;
}

const addressTopic = (a: string): string => zeroPadValue(getAddress(a), 32);

/** The parsed value, or undefined if parsing throws or gives null. */
export function safeParse<T>(fn: () => T | null): T | undefined {
  try {
    return fn() ?? undefined;
  } catch {
    return undefined;
  }
}

/** Each step returns false (or undefined) when its check failed; `simulation` says a dev platform attested a signer. */
export class RegistrationLinks {
  simulation = false;

  constructor(private readonly ctx: RegistrationLinkContext) {}

  async registration(s: Submission, prefix: string, facts: Record<string, EvidenceValue>): Promise<RegistrationEvent | undefined> {
    const name = `${prefix}registration.event`;
    const event = registryInterface.getEvent("EnclaveRegistered")!;
    const logs = await this.ctx.provider.getLogs({
      address: this.ctx.deployment.contracts.EnclaveRegistry, topics: [event.topicHash, addressTopic(s.signer)],
      fromBlock: this.ctx.deployment.deploymentBlock, toBlock: s.log.blockNumber,
    });
    const before = logs.filter((l) => l.blockNumber < s.log.blockNumber || l.index < s.log.index);
    if (before.length === 0) {
      this.ctx.chain.push({ role: "evidence", title: "Registration", subtitle: "none found", check: name, ok: false, edge: "registered in" });
      return void this.ctx.checks.fail(name, `no EnclaveRegistered event for signer ${s.signer} before it signed (block ${s.log.blockNumber})`, { signer: s.signer });
    }
    const log = before[before.length - 1];
    const a = registryInterface.parseLog(log)!.args;
    const reg: RegistrationEvent = {
      signer: getAddress(a.signer), operator: getAddress(a.operator), measurement: a.measurement, teeType: Number(a.teeType),
      expiresAt: Number(a.expiresAt), evidenceHash: a.evidenceHash, log,
    };
    if (reg.teeType === TeeType.DevSimulated) this.simulation = true;
    Object.assign(facts, { registeredInTx: log.transactionHash, measurement: reg.measurement, teeType: `${reg.teeType} (${TeeType[reg.teeType] ?? "?"})`, expiresAt: reg.expiresAt, evidenceHash: reg.evidenceHash });
    const ok = reg.operator === getAddress(s.operator);
    this.ctx.chain.push({ role: "evidence", title: "Registration", subtitle: `block ${log.blockNumber}, ${TeeType[reg.teeType] ?? reg.teeType}`, check: `${prefix}registration.state`, ok: ok ? null : false, edge: "registered in" });
    return this.ctx.checks.record(name, ok,
      ok
        ? `signer registered in block ${log.blockNumber} by operator ${reg.operator} (the operator the fee went to), measurement ${shortHex(reg.measurement)}`
        : `signer registered by ${reg.operator}, but the oracle credited ${s.operator}`,
      { tx: log.transactionHash, operator: reg.operator, paidOperator: s.operator, measurement: reg.measurement, teeType: reg.teeType, expiresAt: reg.expiresAt, evidenceHash: reg.evidenceHash })
      ? reg
      : undefined;
  }

  async registrationState(s: Submission, reg: RegistrationEvent, prefix: string, facts: Record<string, EvidenceValue>): Promise<boolean> {
    const name = `${prefix}registration.state`;
    const e = await this.ctx.registry.getEnclave(s.signer);
    const status = ENCLAVE_STATUS[Number(e.status)] ?? `unknown (${e.status})`;
    const latest = await this.ctx.provider.getBlock("latest");
    const signedAt = (await this.ctx.provider.getBlock(s.log.blockNumber))!.timestamp;
    const now = latest!.timestamp;
    const expiresAt = Number(e.expiresAt);
    const measurementAllowed: boolean = await this.ctx.registry.isMeasurementAllowed(reg.measurement);
    let rootStatus: string | null = null;
    if (e.rootId !== "0x" + "00".repeat(32)) rootStatus = ROOT_STATUS[Number((await this.ctx.registry.getRoot(e.rootId)).status)] ?? null;
    facts.statusNow = status;
    const evidence: Record<string, EvidenceValue> = {
      status, expiresAt: isoTime(expiresAt), signedAt: isoTime(signedAt), now: isoTime(now), measurementAllowed, root: rootStatus,
    };
    const problems: string[] = [];
    if (status === "Revoked") {
      const revoked = await this.ctx.provider.getLogs({
        address: this.ctx.deployment.contracts.EnclaveRegistry, topics: [registryInterface.getEvent("EnclaveRevoked")!.topicHash, addressTopic(s.signer)],
        fromBlock: this.ctx.deployment.deploymentBlock, toBlock: "latest",
      });
      const at = revoked.length ? ` in block ${revoked[revoked.length - 1].blockNumber}` : "";
      if (revoked.length) evidence.revokedInTx = revoked[revoked.length - 1].transactionHash;
      problems.push(`the registry owner revoked the signer${at}: what it signed is not to be trusted`);
    } else if (status === "Slashed") {
      problems.push("the signer was slashed: two different results it signed for one request were proven on-chain (EquivocationSlasher), so nothing it signed is to be trusted");
    } else if (status !== "Active" && status !== "Retired") {
      problems.push(`the registry has the signer as ${status}`);
    }
    if (!measurementAllowed) problems.push(`the registry no longer allows measurement ${shortHex(reg.measurement)}`);
    if (rootStatus !== null && rootStatus !== "Trusted") problems.push(`the development root that certified it is ${rootStatus}`);
    if (reg.expiresAt < signedAt) problems.push(`the registration expired at ${isoTime(reg.expiresAt)}, before it signed at ${isoTime(signedAt)}`);
    const ok = problems.length === 0;
    const notes = [
      status === "Retired" ? "retired by its operator since it signed" : "",
      expiresAt < now ? `expired at ${isoTime(expiresAt)}, after it signed` : "",
    ].filter(Boolean);
    this.ctx.chain[this.ctx.chain.length - 1].ok = ok;
    return this.ctx.checks.record(name, ok,
      ok ? `the signer is ${status.toLowerCase()}${notes.length ? ` (${notes.join("; ")}; it was valid when it signed)` : `, valid until ${isoTime(expiresAt)}`}; its measurement is allowed` : problems.join("; "),
      evidence);
  }

  async attestation(s: Submission, reg: RegistrationEvent, prefix: string, facts: Record<string, EvidenceValue>): Promise<boolean> {
    const name = `${prefix}attestation.verified`;
    const fail = (detail: string, evidence?: Record<string, EvidenceValue>): false => {
      this.ctx.chain.push({ role: "evidence", title: "Attestation", subtitle: "not verified", check: name, ok: false, edge: "attested by" });
      return this.ctx.checks.fail(name, detail, evidence);
    };
    const tx = await this.ctx.provider.getTransaction(reg.log.transactionHash);
    if (!tx || !tx.to || getAddress(tx.to) !== this.ctx.deployment.contracts.EnclaveRegistry) {
      return fail(`the registration transaction ${reg.log.transactionHash} was not sent to the EnclaveRegistry directly: its attestation cannot be read from the calldata`);
    }
    const parsed = safeParse(() => registryInterface.parseTransaction({ data: tx.data }));
    if (parsed?.name === "registerEnclave") return this.devAttestation(tx, parsed.args, reg, name, facts, fail);
    if (parsed?.name === "registerAttestedEnclave") return this.auditorAttestation(parsed.args, reg, name, facts, fail);
    return fail("the registration calldata is neither registerEnclave nor registerAttestedEnclave", { selector: tx.data.slice(0, 10) });
  }

  private async devAttestation(
    tx: TransactionResponse, args: ReadonlyArray<unknown> & Record<string, any>, reg: RegistrationEvent, name: string,
    facts: Record<string, EvidenceValue>, fail: (detail: string, evidence?: Record<string, EvidenceValue>) => false,
  ): Promise<boolean> {
    const root = this.ctx.deployment.devPlatform?.rootPublicKey;
    if (!root) return fail(`the signer was registered with a development report, but ${this.ctx.deployment.network}'s deployment file pins no development root (devPlatform.rootPublicKey): add it to verify the report independently of the chain`);
    const report: string = args.report;
    const hash = sha256Hex(fromHex(report));
    if (hash !== reg.evidenceHash) return fail("sha256 of the report in the calldata is not the evidenceHash the registry emitted", { calldata: hash, emitted: reg.evidenceHash });
    const pinnedRootId = computeRootId(root.x, root.y);
    if (args.rootId !== pinnedRootId) return fail(`the report was registered under root ${args.rootId}, not the deployment's pinned development root ${pinnedRootId}`);
    const at = (await this.ctx.provider.getBlock(tx.blockNumber!))!.timestamp;
    const result = verifyDevEvidence(
      { report, reportSignature: { r: args.reportSig.r, s: args.reportSig.s }, certificate: args.certificate, certificateSignature: { r: args.certSig.r, s: args.certSig.s } },
      { roots: [root], at, allowedMeasurements: [reg.measurement], expectedSigner: reg.signer, expectedOperator: reg.operator },
    );
    facts.attestation = `development report (SIMULATION), platform ${result.facts.platformId ?? "?"}`;
    if (!result.valid) {
      const failed = result.checks.find((c) => c.name === result.failedCheck);
      return fail(`the development report does not verify at its registration time: ${result.failedCheck}: ${failed?.detail ?? ""}`, { failedCheck: result.failedCheck ?? null, registeredAt: isoTime(at) });
    }
    this.ctx.chain.push({ role: "evidence", title: "Attestation report (dev, simulation)", subtitle: `root ${shortHex(pinnedRootId)}`, check: name, ok: true, edge: "attested by" });
    return this.ctx.checks.pass(name,
      `the registration's development report (a SIMULATION of TEE hardware) verifies against the pinned root at ${isoTime(at)}: ${result.checks.length} checks, platform ${shortHex(String(result.facts.platformId))}, measurement, signer and operator as registered`,
      { rootId: pinnedRootId, platformId: result.facts.platformId, evidenceHash: hash, issuedAt: result.facts.issuedAt, registeredAt: isoTime(at) });
  }

  private async auditorAttestation(
    args: ReadonlyArray<unknown> & Record<string, any>, reg: RegistrationEvent, name: string,
    facts: Record<string, EvidenceValue>, fail: (detail: string, evidence?: Record<string, EvidenceValue>) => false,
  ): Promise<boolean> {
    const att: EnclaveAttestation = {
      signer: getAddress(args.att.signer), operator: getAddress(args.att.operator), measurement: args.att.measurement,
      teeType: Number(args.att.teeType), evidenceHash: args.att.evidenceHash, expiresAt: BigInt(args.att.expiresAt),
    };
    if (att.signer !== reg.signer || att.operator !== getAddress(reg.operator) || att.measurement !== reg.measurement || att.teeType !== reg.teeType || att.evidenceHash !== reg.evidenceHash || Number(att.expiresAt) !== reg.expiresAt) {
      return fail("the attestation in the calldata differs from the registration the registry emitted");
    }
    const digest = attestationDigest(BigInt(this.ctx.deployment.chainId), this.ctx.deployment.contracts.EnclaveRegistry, att);
    const signatures = args.auditorSignatures as string[];
    const auditors: string[] = [];
    for (const sig of signatures) {
      const a = safeParse(() => recoverAddress(digest, sig));
      if (!a) return fail("an auditor signature does not recover", { digest });
      auditors.push(a);
    }
    const trusted = await Promise.all(auditors.map((a) => this.ctx.registry.isAuditor(a) as Promise<boolean>));
    const threshold = Number(await this.ctx.registry.auditorThreshold());
    const distinct = new Set(auditors).size === auditors.length;
    const untrusted = auditors.filter((_, i) => !trusted[i]);
    facts.attestation = `${auditors.length} auditor countersignature(s) over evidence ${reg.evidenceHash}`;
    facts.auditors = auditors.join(", ");
    const evidence = { digest, auditors: auditors.join(", "), threshold, evidenceHash: reg.evidenceHash };
    if (!distinct) return fail("the auditor signatures repeat an auditor", evidence);
    if (untrusted.length) return fail(`auditor(s) ${untrusted.join(", ")} are not trusted by the registry now`, evidence);
    if (auditors.length < threshold) return fail(`${auditors.length} auditor signature(s), the registry's threshold is now ${threshold}`, evidence);
    this.ctx.chain.push({ role: "evidence", title: `Auditors' attestation (${TeeType[reg.teeType] ?? reg.teeType})`, subtitle: `${auditors.length} of threshold ${threshold}`, check: name, ok: true, edge: "attested by" });
    return this.ctx.checks.pass(name,
      `${auditors.length} trusted auditors (threshold ${threshold}) countersigned the EnclaveAttestation for evidence sha256 ${shortHex(reg.evidenceHash)}, naming operator ${att.operator}; verify that evidence itself with \`oracle audit verify-evidence\` and compare its sha256`,
      evidence);
  }
}
