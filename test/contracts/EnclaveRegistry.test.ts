import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { AbiCoder, Contract, Wallet, ZeroAddress, ZeroHash, id, sha256 } from "ethers";
import { MEASUREMENT, deployOracleFixture, registerEnclave } from "../helpers/fixtures";
import { alterReport, platformKeyOf, registerEnclaveArgs, reissueCertificate, signReportAt } from "../helpers/platform";
import {
  CERTIFICATE_VERSION, EnclaveAttestation, REPORT_VERSION, TeeType, decodeReport, enclaveAttestationDigest, p256SignDigest, registryDomain,
  reportDigest,
} from "../helpers/protocol";
import type { DevEvidence } from "../../oracle/src/enclave/backend";
import { createDevPlatform, createDevRoot } from "../../oracle/src/enclave/platform";

const UNKNOWN_MEASUREMENT = id("unknown runner");
const DAY = 86_400n;
/** The account the fixture registers from (operatorA); the reports it makes name it. */
let OPERATOR: string;

describe("EnclaveRegistry", () => {
  async function fixture() {
    const f = await loadFixture(deployOracleFixture);
    OPERATOR = f.operatorA.address;
    const registry = f.enclaveRegistry.connect(f.operatorA) as Contract;
    const now = BigInt(await time.latest());
    const wallet = new Wallet(Wallet.createRandom().privateKey);
    /** The platform's report (the product's signReport) for `wallet` from OPERATOR at `now`, with `fields` changed. */
    const report = (fields: Partial<Parameters<typeof signReportAt>[1]> = {}) =>
      signReportAt(f.platform, { signer: wallet.address, operator: OPERATOR, measurement: MEASUREMENT, issuedAt: now, ...fields });
    const signed = report();
    const register = (e: DevEvidence = signed) => registry.registerEnclave(...registerEnclaveArgs(e));
    return { ...f, registry, now, wallet, report, signed, register };
  }

  describe("roots and measurements", () => {
    it("adds a root under its rootId and emits RootAdded", async () => {
      const { enclaveRegistry } = await fixture();
      const other = createDevRoot();
      await expect(enclaveRegistry.addRoot(other.publicKey.x, other.publicKey.y))
        .to.emit(enclaveRegistry, "RootAdded").withArgs(other.rootId, other.publicKey.x, other.publicKey.y);
      expect((await enclaveRegistry.getRoot(other.rootId)).status).to.equal(1n);
    });

    it("rejects a key that is not on the curve, a root added twice, and re-adding a revoked root", async () => {
      const { enclaveRegistry, platform, root } = await fixture();
      const bad = "0x" + "11".repeat(32);
      await expect(enclaveRegistry.addRoot(bad, bad)).to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryInvalidRootKey").withArgs(bad, bad);
      await expect(enclaveRegistry.addRoot(root.publicKey.x, root.publicKey.y))
        .to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryRootAlreadyAdded").withArgs(platform.rootId);
      await expect(enclaveRegistry.revokeRoot(platform.rootId)).to.emit(enclaveRegistry, "RootRevoked").withArgs(platform.rootId);
      await expect(enclaveRegistry.addRoot(root.publicKey.x, root.publicKey.y))
        .to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryRootRevoked").withArgs(platform.rootId);
      await expect(enclaveRegistry.revokeRoot(platform.rootId))
        .to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryRootRevoked").withArgs(platform.rootId);
      await expect(enclaveRegistry.revokeRoot(ZeroHash))
        .to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryUntrustedRoot").withArgs(ZeroHash);
    });

    it("allows and disallows a measurement with MeasurementAllowedUpdated", async () => {
      const { enclaveRegistry } = await fixture();
      await expect(enclaveRegistry.setMeasurementAllowed(UNKNOWN_MEASUREMENT, true))
        .to.emit(enclaveRegistry, "MeasurementAllowedUpdated").withArgs(UNKNOWN_MEASUREMENT, true);
      expect(await enclaveRegistry.isMeasurementAllowed(UNKNOWN_MEASUREMENT)).to.equal(true);
    });

    it("lets only the owner manage roots, measurements, signers, auditors and the report age", async () => {
      const { enclaveRegistry, stranger, platform, root } = await fixture();
      const r = enclaveRegistry.connect(stranger) as Contract;
      for (const call of [
        () => r.addRoot(root.publicKey.x, root.publicKey.y), () => r.revokeRoot(platform.rootId),
        () => r.setMeasurementAllowed(MEASUREMENT, false), () => r.revokeSigner(stranger.address),
        () => r.setAuditor(stranger.address, true), () => r.setAuditorThreshold(1), () => r.setMaxReportAge(1),
      ]) {
        await expect(call()).to.be.revertedWithCustomError(r, "OwnableUnauthorizedAccount").withArgs(stranger.address);
      }
    });

    it("transfers ownership in two steps", async () => {
      const { enclaveRegistry, deployer, stranger } = await fixture();
      await enclaveRegistry.transferOwnership(stranger.address);
      expect(await enclaveRegistry.owner()).to.equal(deployer.address);
      await (enclaveRegistry.connect(stranger) as Contract).acceptOwnership();
      expect(await enclaveRegistry.owner()).to.equal(stranger.address);
    });

    it("sets the maximum report age, never to zero", async () => {
      const { enclaveRegistry } = await fixture();
      await expect(enclaveRegistry.setMaxReportAge(60)).to.emit(enclaveRegistry, "MaxReportAgeUpdated").withArgs(60);
      expect(await enclaveRegistry.maxReportAge()).to.equal(60n);
      await expect(enclaveRegistry.setMaxReportAge(0)).to.be.revertedWithCustomError(enclaveRegistry, "EnclaveRegistryZeroMaxReportAge");
    });
  });

  describe("registerEnclave", () => {
    it("verifies the P-256 chain and binds the signer to the caller", async () => {
      const { registry, register, wallet, signed, operatorA, platform } = await fixture();
      await expect(register())
        .to.emit(registry, "EnclaveRegistered")
        .withArgs(wallet.address, operatorA.address, MEASUREMENT, TeeType.DevSimulated, signed.expiresAt, reportDigest(decodeReport(signed.report)));
      const e = await registry.getEnclave(wallet.address);
      expect([e.operator, e.expiresAt, e.teeType, e.status, e.measurement, e.rootId]).to.deep.equal([
        operatorA.address, signed.expiresAt, 0n, 1n, MEASUREMENT, platform.rootId,
      ]);
      expect(await registry.activeEnclave(wallet.address)).to.deep.equal([operatorA.address, MEASUREMENT]);
    });

    it("expires the signer with its certificate when that ends first", async () => {
      const { register, registry, platform, root, signed, wallet, now } = await fixture();
      const shortCert = reissueCertificate(platform, root.privateKey, { notAfter: now + DAY });
      await register({ ...signed, ...shortCert });
      expect((await registry.getEnclave(wallet.address)).expiresAt).to.equal(now + DAY);
    });

    it("rejects a report from an untrusted root", async () => {
      const { registry, register, wallet, now } = await fixture();
      const rogue = createDevPlatform({ now: Number(now) });
      const r = signReportAt(rogue, { operator: OPERATOR, signer: wallet.address, measurement: MEASUREMENT, issuedAt: now });
      await expect(register(r))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryUntrustedRoot").withArgs(rogue.rootId);
    });

    it("rejects a certificate that claims a trusted root but was signed by another key", async () => {
      const { registry, register, platform, signed, now } = await fixture();
      const forged = reissueCertificate(platform, createDevRoot().privateKey, {});
      await expect(register({ ...signed, ...forged }))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryInvalidCertificateSignature").withArgs(platform.rootId);
    });

    it("rejects a report under a revoked root", async () => {
      const { registry, enclaveRegistry, register, platform } = await fixture();
      await enclaveRegistry.revokeRoot(platform.rootId);
      await expect(register()).to.be.revertedWithCustomError(registry, "EnclaveRegistryRootRevoked").withArgs(platform.rootId);
    });

    it("rejects a certificate outside its validity period", async () => {
      const { registry, register, platform, root, signed, now } = await fixture();
      const future = reissueCertificate(platform, root.privateKey, { notBefore: now + DAY, notAfter: now + 2n * DAY });
      await expect(register({ ...signed, ...future })).to.be.revertedWithCustomError(registry, "EnclaveRegistryCertificateNotValid");
      const past = reissueCertificate(platform, root.privateKey, { notBefore: now - 2n * DAY, notAfter: now - DAY });
      const next = BigInt(await time.latest()) + 1n;
      await expect(register({ ...signed, ...past })).to.be.revertedWithCustomError(registry, "EnclaveRegistryCertificateNotValid")
        .withArgs(now - 2n * DAY, now - DAY, next);
    });

    it("rejects an unsupported certificate or report version", async () => {
      const { registry, register, platform, root, signed } = await fixture();
      expect(REPORT_VERSION).to.equal(2);
      expect(CERTIFICATE_VERSION).to.equal(1);
      await expect(register({ ...signed, ...reissueCertificate(platform, root.privateKey, { version: 2 }) }))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryUnsupportedVersion").withArgs(2);
      for (const version of [0, 1, 3]) {
        const r = alterReport(platform, signed, { version });
        await expect(register(r)).to.be.revertedWithCustomError(registry, "EnclaveRegistryUnsupportedVersion").withArgs(version);
      }
    });

    it("rejects a version-1 report (no operator field) by its version, validly signed or not", async () => {
      const { registry, register, platform, signed, wallet, now } = await fixture();
      // The layout before the operator was bound: one word shorter, so it would not even decode.
      const v1 = AbiCoder.defaultAbiCoder().encode(
        ["uint16", "uint8", "bytes32", "bytes32", "address", "bytes32", "uint64", "uint64"],
        [1, TeeType.DevSimulated, platform.platformId, MEASUREMENT, wallet.address, id("runtime"), now, now + DAY],
      );
      const sig = p256SignDigest(platformKeyOf(platform), sha256(v1));
      await expect(register({ ...signed, report: v1, reportSignature: sig }))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryUnsupportedVersion").withArgs(1);
      await expect(register({ ...signed, report: "0x1234" }))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryUnsupportedVersion").withArgs(0);
    });

    it("rejects a report of another platform", async () => {
      const { registry, register, platform, signed } = await fixture();
      const otherId = id("other platform");
      const r = alterReport(platform, signed, { platformId: otherId });
      await expect(register(r)).to.be.revertedWithCustomError(registry, "EnclaveRegistryPlatformMismatch").withArgs(otherId, platform.platformId);
    });

    it("rejects a report not signed by the certified platform key", async () => {
      const { registry, register, platform, root, signed } = await fixture();
      const r = alterReport(platform, signed, {}, root.privateKey);
      await expect(register(r)).to.be.revertedWithCustomError(registry, "EnclaveRegistryInvalidReportSignature").withArgs(platform.platformId);
    });

    it("rejects a tampered report (signature over other bytes)", async () => {
      const { registry, register, platform, signed } = await fixture();
      const tampered = { ...signed, report: signed.report.replace(MEASUREMENT.slice(2), id("evil").slice(2)) };
      await expect(register(tampered)).to.be.revertedWithCustomError(registry, "EnclaveRegistryInvalidReportSignature").withArgs(platform.platformId);
    });

    it("rejects a report whose TEE type is not the development platform", async () => {
      const { registry, register, platform, signed } = await fixture();
      const r = alterReport(platform, signed, { teeType: TeeType.IntelTdx });
      await expect(register(r)).to.be.revertedWithCustomError(registry, "EnclaveRegistryUnsupportedTeeType").withArgs(TeeType.IntelTdx);
    });

    it("rejects a measurement that is not allowed", async () => {
      const { registry, register, report } = await fixture();
      const r = report({ measurement: UNKNOWN_MEASUREMENT });
      await expect(register(r)).to.be.revertedWithCustomError(registry, "EnclaveRegistryMeasurementNotAllowed").withArgs(UNKNOWN_MEASUREMENT);
    });

    it("rejects a stale report", async () => {
      const { registry, register, signed } = await fixture();
      await time.increase(3601);
      const ts = BigInt(await time.latest()) + 1n;
      await expect(register(signed)).to.be.revertedWithCustomError(registry, "EnclaveRegistryReportStale")
        .withArgs(signed.issuedAt, ts, 3600);
    });

    it("rejects a report issued in the future beyond the clock skew, accepts one within it", async () => {
      const { registry, register, report, now } = await fixture();
      const ahead = report({ issuedAt: now + 600n });
      await expect(register(ahead)).to.be.revertedWithCustomError(registry, "EnclaveRegistryReportFromFuture").withArgs(now + 600n, now + 1n);
      const slightly = report({ issuedAt: now + 60n });
      await expect(register(slightly)).to.emit(registry, "EnclaveRegistered");
    });

    it("rejects an expired report", async () => {
      const { registry, register, report, platform, now } = await fixture();
      const r = alterReport(platform, report({ issuedAt: now - 10n }), { expiresAt: now });
      await expect(register(r)).to.be.revertedWithCustomError(registry, "EnclaveRegistryReportExpired").withArgs(now, now + 1n);
    });

    it("rejects the zero signer", async () => {
      const { registry, register, report } = await fixture();
      const r = report({ signer: ZeroAddress });
      await expect(register(r)).to.be.revertedWithCustomError(registry, "EnclaveRegistryZeroSigner");
    });

    it("stops a front-runner: another account submitting the operator's report reverts, the operator's own registration then succeeds", async () => {
      const { registry, enclaveRegistry, register, signed, wallet, operatorA, operatorB, platform } = await fixture();
      expect(signed.operator).to.equal(operatorA.address);
      // operatorB copied operatorA's pending registration (mempool) or the node's /v1/attestation.
      const thief = enclaveRegistry.connect(operatorB) as Contract;
      await expect(thief.registerEnclave(...registerEnclaveArgs(signed)))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryOperatorMismatch").withArgs(operatorA.address, operatorB.address);
      expect((await thief.getEnclave(wallet.address)).status).to.equal(0n);
      // The thief cannot rewrite the operator either: the platform's signature covers it.
      const rewritten = { ...signed, report: signed.report.replace(operatorA.address.slice(2).toLowerCase(), operatorB.address.slice(2).toLowerCase()) };
      expect(rewritten.report).to.not.equal(signed.report);
      await expect(thief.registerEnclave(...registerEnclaveArgs(rewritten)))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryInvalidReportSignature").withArgs(platform.platformId);
      // The honest operator's transaction, mined after, still goes through and binds the fees to it.
      await expect(register()).to.emit(registry, "EnclaveRegistered").withArgs(
        wallet.address, operatorA.address, MEASUREMENT, TeeType.DevSimulated, signed.expiresAt, reportDigest(decodeReport(signed.report)),
      );
      expect(await registry.activeEnclave(wallet.address)).to.deep.equal([operatorA.address, MEASUREMENT]);
    });

    it("rejects a report naming the zero operator (a host started without one), whoever sends it", async () => {
      const { registry, register, report, operatorA } = await fixture();
      const r = report({ operator: ZeroAddress });
      await expect(register(r)).to.be.revertedWithCustomError(registry, "EnclaveRegistryOperatorMismatch").withArgs(ZeroAddress, operatorA.address);
    });

    it("names the operator-mismatch error with the selector its NatSpec gives", async () => {
      const { registry } = await fixture();
      expect(registry.interface.getError("EnclaveRegistryOperatorMismatch")!.selector).to.equal("0x1bdea2e1");
    });

    it("does not let another operator re-register (steal) a registered signer", async () => {
      const { registry, enclaveRegistry, register, report, signed, wallet, operatorA, operatorB } = await fixture();
      await register();
      const thief = enclaveRegistry.connect(operatorB) as Contract;
      await expect(thief.registerEnclave(...registerEnclaveArgs(signed)))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryOperatorMismatch").withArgs(operatorA.address, operatorB.address);
      // Even a report naming operatorB for the same signer (the platform holder's doing) cannot move it.
      const own = report({ operator: operatorB.address });
      await expect(thief.registerEnclave(...registerEnclaveArgs(own)))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerBoundToOtherOperator").withArgs(wallet.address, operatorA.address);
    });

    it("lets the same operator renew its signer with a fresh report", async () => {
      const { registry, register, report, wallet } = await fixture();
      await register();
      await time.increase(1000);
      const fresh = report({ issuedAt: BigInt(await time.latest()) });
      await expect(register(fresh)).to.emit(registry, "EnclaveRegistered");
      expect((await registry.getEnclave(wallet.address)).expiresAt).to.equal(fresh.expiresAt);
    });

    it("never re-registers a revoked or retired signer", async () => {
      const { registry, enclaveRegistry, register, report, wallet, platform } = await fixture();
      await register();
      await registry.retireSigner(wallet.address);
      await expect(register()).to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerRetired").withArgs(wallet.address);
      const other = await registerEnclave({ enclaveRegistry, platform }, (await registry.runner) as never);
      await enclaveRegistry.revokeSigner(other.address);
      const r = report({ signer: other.address, issuedAt: BigInt(await time.latest()) });
      await expect(register(r)).to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerRevoked").withArgs(other.address);
    });
  });

  describe("revocation and activeEnclave", () => {
    it("reverts for an unknown signer", async () => {
      const { registry, stranger } = await fixture();
      await expect(registry.activeEnclave(stranger.address))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryUnknownSigner").withArgs(stranger.address);
    });

    it("stops a signer the owner revokes", async () => {
      const { registry, enclaveRegistry, register, wallet } = await fixture();
      await register();
      await expect(enclaveRegistry.revokeSigner(wallet.address)).to.emit(enclaveRegistry, "EnclaveRevoked").withArgs(wallet.address);
      await expect(registry.activeEnclave(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerRevoked").withArgs(wallet.address);
      await expect(enclaveRegistry.revokeSigner(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerRevoked").withArgs(wallet.address);
      await expect(enclaveRegistry.revokeSigner(ZeroAddress)).to.be.revertedWithCustomError(registry, "EnclaveRegistryUnknownSigner").withArgs(ZeroAddress);
    });

    it("stops a signer its operator retires, and lets nobody else retire it", async () => {
      const { registry, enclaveRegistry, register, wallet, operatorA, stranger } = await fixture();
      await register();
      await expect((enclaveRegistry.connect(stranger) as Contract).retireSigner(wallet.address))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryNotOperator").withArgs(wallet.address, stranger.address);
      await expect(registry.retireSigner(wallet.address)).to.emit(registry, "EnclaveRetired").withArgs(wallet.address, operatorA.address);
      await expect(registry.activeEnclave(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerRetired").withArgs(wallet.address);
      await expect(registry.retireSigner(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerRetired").withArgs(wallet.address);
      await expect(registry.retireSigner(stranger.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistryUnknownSigner").withArgs(stranger.address);
    });

    it("does not let an operator retire a signer the owner revoked", async () => {
      const { registry, enclaveRegistry, register, wallet } = await fixture();
      await register();
      await enclaveRegistry.revokeSigner(wallet.address);
      await expect(registry.retireSigner(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerRevoked").withArgs(wallet.address);
    });

    it("stops a signer once it expires", async () => {
      const { registry, register, wallet, signed } = await fixture();
      await register();
      await time.increaseTo(signed.expiresAt + 1n);
      await expect(registry.activeEnclave(wallet.address))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerExpired").withArgs(wallet.address, signed.expiresAt);
    });

    it("stops every signer with a measurement at once when it is disallowed, and resumes them when allowed again", async () => {
      const { registry, enclaveRegistry, register, wallet } = await fixture();
      await register();
      await enclaveRegistry.setMeasurementAllowed(MEASUREMENT, false);
      await expect(registry.activeEnclave(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistryMeasurementNotAllowed").withArgs(MEASUREMENT);
      await enclaveRegistry.setMeasurementAllowed(MEASUREMENT, true);
      expect((await registry.activeEnclave(wallet.address))[1]).to.equal(MEASUREMENT);
    });

    it("stops every signer certified by a root at once when the root is revoked", async () => {
      const { registry, enclaveRegistry, register, wallet, platform } = await fixture();
      await register();
      await enclaveRegistry.revokeRoot(platform.rootId);
      await expect(registry.activeEnclave(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistryRootRevoked").withArgs(platform.rootId);
    });
  });

  describe("revocation epoch", () => {
    const OTHER = id("another runner");

    it("moves on every measurement or root revocation, not on allowing or on a signer's revocation", async () => {
      const { enclaveRegistry, register, wallet, platform } = await fixture();
      expect(await enclaveRegistry.revocationEpoch()).to.equal(0n);
      await enclaveRegistry.setMeasurementAllowed(OTHER, true);
      await register();
      await enclaveRegistry.revokeSigner(wallet.address);
      expect(await enclaveRegistry.revocationEpoch()).to.equal(0n);
      await enclaveRegistry.setMeasurementAllowed(OTHER, false);
      expect(await enclaveRegistry.revocationEpoch()).to.equal(1n);
      await enclaveRegistry.revokeRoot(platform.rootId);
      expect(await enclaveRegistry.revocationEpoch()).to.equal(2n);
    });

    it("applies a revocation made after a signer's registration at once, and re-allowing resumes the signer", async () => {
      const { registry, enclaveRegistry, register, wallet } = await fixture();
      await register();
      const fast = await registry.activeEnclave.estimateGas(wallet.address);
      // An unrelated revocation: the signer's epoch is now old, it is checked in full and still accepted.
      await enclaveRegistry.setMeasurementAllowed(OTHER, false);
      expect(await registry.activeEnclave(wallet.address)).to.deep.equal([OPERATOR, MEASUREMENT]);
      const full = await registry.activeEnclave.estimateGas(wallet.address);
      expect(full - fast).to.be.greaterThan(4_000n);
      // Its own measurement revoked: refused at the very next call.
      await enclaveRegistry.setMeasurementAllowed(MEASUREMENT, false);
      await expect(registry.activeEnclave(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistryMeasurementNotAllowed").withArgs(MEASUREMENT);
      await expect(enclaveRegistry.refreshSigner(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistryMeasurementNotAllowed").withArgs(MEASUREMENT);
      // Allowed again: the signer resumes (checked in full, as before any revocation).
      await enclaveRegistry.setMeasurementAllowed(MEASUREMENT, true);
      expect((await registry.activeEnclave(wallet.address))[1]).to.equal(MEASUREMENT);
      expect(await registry.activeEnclave.estimateGas(wallet.address)).to.equal(full);
    });

    it("refreshSigner stamps a still-trusted signer with the current epoch; the next revocation still applies at once", async () => {
      const { registry, enclaveRegistry, register, wallet, platform, stranger } = await fixture();
      await register();
      const fast = await registry.activeEnclave.estimateGas(wallet.address);
      await enclaveRegistry.setMeasurementAllowed(OTHER, false);
      expect(await registry.activeEnclave.estimateGas(wallet.address)).to.be.greaterThan(fast);
      await (enclaveRegistry.connect(stranger) as Contract).refreshSigner(wallet.address); // anyone may
      expect(await registry.activeEnclave.estimateGas(wallet.address)).to.equal(fast);
      await enclaveRegistry.refreshSigner(wallet.address); // already current: nothing to do
      await enclaveRegistry.revokeRoot(platform.rootId);
      await expect(registry.activeEnclave(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistryRootRevoked").withArgs(platform.rootId);
      await expect(enclaveRegistry.refreshSigner(wallet.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistryRootRevoked").withArgs(platform.rootId);
      await expect(enclaveRegistry.refreshSigner(stranger.address)).to.be.revertedWithCustomError(registry, "EnclaveRegistryUnknownSigner").withArgs(stranger.address);
    });

    it("stamps a renewed signer with the current epoch", async () => {
      const { registry, enclaveRegistry, register, report, wallet } = await fixture();
      await register();
      const fast = await registry.activeEnclave.estimateGas(wallet.address);
      await enclaveRegistry.setMeasurementAllowed(OTHER, false);
      await time.increase(60);
      await register(report({ issuedAt: BigInt(await time.latest()) }));
      expect(await registry.activeEnclave.estimateGas(wallet.address)).to.equal(fast);
    });
  });

  describe("registerAttestedEnclave (real-TEE path through auditors)", () => {
    async function auditorFixture() {
      const f = await fixture();
      const auditors = [0, 1, 2].map(() => new Wallet(Wallet.createRandom().privateKey));
      for (const a of auditors.slice(0, 2)) {
        await expect(f.enclaveRegistry.setAuditor(a.address, true)).to.emit(f.enclaveRegistry, "AuditorUpdated").withArgs(a.address, true);
      }
      await expect(f.enclaveRegistry.setAuditorThreshold(2)).to.emit(f.enclaveRegistry, "AuditorThresholdUpdated").withArgs(2);
      const domain = registryDomain(f.chainId, await f.enclaveRegistry.getAddress());
      const att: EnclaveAttestation = {
        signer: f.wallet.address, operator: f.operatorA.address, measurement: MEASUREMENT, teeType: TeeType.AwsNitro,
        evidenceHash: sha256("0x1234"), expiresAt: f.now + 30n * DAY,
      };
      const sign = (a: Wallet, x = att) => a.signingKey.sign(enclaveAttestationDigest(domain, x)).serialized;
      return { ...f, auditors, att, sign, domain };
    }

    it("registers with the signatures of a threshold of distinct trusted auditors", async () => {
      const { registry, auditors, att, sign, operatorA } = await auditorFixture();
      await expect(registry.registerAttestedEnclave(att, auditors.slice(0, 2).map((a) => sign(a))))
        .to.emit(registry, "EnclaveRegistered")
        .withArgs(att.signer, operatorA.address, att.measurement, att.teeType, att.expiresAt, att.evidenceHash);
      expect(await registry.activeEnclave(att.signer)).to.deep.equal([operatorA.address, MEASUREMENT]);
      expect((await registry.getEnclave(att.signer)).rootId).to.equal(ZeroHash);
    });

    it("keeps an expiry beyond 2^48 - 1 as 2^48 - 1 (never reached)", async () => {
      const { registry, auditors, att, sign } = await auditorFixture();
      const forever = { ...att, expiresAt: 2n ** 64n - 1n };
      await registry.registerAttestedEnclave(forever, auditors.slice(0, 2).map((a) => sign(a, forever)));
      expect((await registry.getEnclave(att.signer)).expiresAt).to.equal(2n ** 48n - 1n);
      expect((await registry.activeEnclave(att.signer))[1]).to.equal(MEASUREMENT);
    });

    it("computes the same digest as the protocol module", async () => {
      const { registry, att, domain } = await auditorFixture();
      expect(await registry.attestationDigest(att)).to.equal(enclaveAttestationDigest(domain, att));
    });

    it("rejects the same auditor twice", async () => {
      const { registry, auditors, att, sign } = await auditorFixture();
      await expect(registry.registerAttestedEnclave(att, [sign(auditors[0]), sign(auditors[0])]))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryDuplicateAuditor").withArgs(auditors[0].address);
    });

    it("rejects an untrusted auditor", async () => {
      const { registry, auditors, att, sign } = await auditorFixture();
      await expect(registry.registerAttestedEnclave(att, [sign(auditors[0]), sign(auditors[2])]))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryUntrustedAuditor").withArgs(auditors[2].address);
    });

    it("rejects a signature over another attestation (it recovers to an untrusted address)", async () => {
      const { registry, auditors, att, sign } = await auditorFixture();
      const sigs = [sign(auditors[0]), sign(auditors[1])];
      await expect(registry.registerAttestedEnclave({ ...att, measurement: id("evil") }, sigs))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryMeasurementNotAllowed");
      await expect(registry.registerAttestedEnclave({ ...att, expiresAt: att.expiresAt + 1n }, sigs))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryUntrustedAuditor");
    });

    it("rejects fewer signatures than the threshold", async () => {
      const { registry, auditors, att, sign } = await auditorFixture();
      await expect(registry.registerAttestedEnclave(att, [sign(auditors[0])]))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryNotEnoughAuditors").withArgs(1, 2);
    });

    it("rejects an expired attestation", async () => {
      const { registry, auditors, att, sign, now } = await auditorFixture();
      const old = { ...att, expiresAt: now };
      await expect(registry.registerAttestedEnclave(old, auditors.slice(0, 2).map((a) => sign(a, old))))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryAttestationExpired");
    });

    it("rejects a disallowed measurement", async () => {
      const { registry, auditors, att, sign } = await auditorFixture();
      const bad = { ...att, measurement: UNKNOWN_MEASUREMENT };
      await expect(registry.registerAttestedEnclave(bad, auditors.slice(0, 2).map((a) => sign(a, bad))))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryMeasurementNotAllowed").withArgs(UNKNOWN_MEASUREMENT);
    });

    it("rejects the development platform's TEE type and unknown types", async () => {
      const { registry, auditors, att, sign } = await auditorFixture();
      for (const teeType of [TeeType.DevSimulated, 9]) {
        const bad = { ...att, teeType };
        await expect(registry.registerAttestedEnclave(bad, auditors.slice(0, 2).map((a) => sign(a, bad))))
          .to.be.revertedWithCustomError(registry, "EnclaveRegistryUnsupportedTeeType").withArgs(teeType);
      }
    });

    it("is disabled while the threshold is zero", async () => {
      const { registry, enclaveRegistry, auditors, att, sign } = await auditorFixture();
      await enclaveRegistry.setAuditorThreshold(0);
      await expect(registry.registerAttestedEnclave(att, [sign(auditors[0])]))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryAuditorPathDisabled");
    });

    it("does not let another operator take over an attested signer", async () => {
      const { registry, enclaveRegistry, auditors, att, sign, operatorA, operatorB } = await auditorFixture();
      const sigs = auditors.slice(0, 2).map((a) => sign(a));
      await registry.registerAttestedEnclave(att, sigs);
      await expect((enclaveRegistry.connect(operatorB) as Contract).registerAttestedEnclave(att, sigs))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryOperatorMismatch").withArgs(operatorA.address, operatorB.address);
      // auditors who countersign the same signer for operatorB still cannot move it
      const forB = { ...att, operator: operatorB.address };
      await expect((enclaveRegistry.connect(operatorB) as Contract).registerAttestedEnclave(forB, auditors.slice(0, 2).map((a) => sign(a, forB))))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistrySignerBoundToOtherOperator").withArgs(att.signer, operatorA.address);
    });

    it("registers nothing for a copier who front-runs the operator with its countersigned attestation", async () => {
      const { registry, enclaveRegistry, auditors, att, sign, operatorA, stranger } = await auditorFixture();
      const sigs = auditors.slice(0, 2).map((a) => sign(a));
      const copier = enclaveRegistry.connect(stranger) as Contract;
      // as seen in the mempool: the operator is bound, so the copy reverts before any signature work
      await expect(copier.registerAttestedEnclave(att, sigs))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryOperatorMismatch").withArgs(operatorA.address, stranger.address);
      // with the copier's own address swapped in, the auditors' signatures no longer recover to them
      await expect(copier.registerAttestedEnclave({ ...att, operator: stranger.address }, sigs))
        .to.be.revertedWithCustomError(registry, "EnclaveRegistryUntrustedAuditor");
      expect((await registry.getEnclave(att.signer)).status).to.equal(0n);
      // the honest operator's transaction, mined after, still registers the signer to it
      await expect(registry.registerAttestedEnclave(att, sigs))
        .to.emit(registry, "EnclaveRegistered").withArgs(att.signer, operatorA.address, att.measurement, att.teeType, att.expiresAt, att.evidenceHash);
    });
  });

  it("names its type and version", async () => {
    const { registry } = await fixture();
    expect(await registry.typeAndVersion()).to.equal("EnclaveRegistry 2.1.0");
  });
});
