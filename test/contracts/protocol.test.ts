import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import { hexlify, id, randomBytes } from "ethers";
import { deployContract } from "../../scripts/lib/deploy-contracts";
import {
  AttestationReport, BPS, CERTIFICATE_VERSION, Determinism, InputEncoding, InferenceResult, PlatformCertificate, REPORT_VERSION, ResultStatus, TeeType, batchDigest,
  certificateDigest, decodeCertificate, decodeReport, encodeCertificate, encodeReport, oracleDomain, reportDigest, resultDigest,
  resultStructHash, rootId,
} from "../helpers/protocol";
import { createDevPlatform, createDevRoot } from "../../oracle/src/enclave/platform";

describe("The Solidity encodings equal the TypeScript protocol module", () => {
  async function fixture() {
    const [deployer] = await ethers.getSigners();
    const harness = await deployContract(deployer, "ProtocolHarness", ["InferenceOracle"]);
    const chainId = (await ethers.provider.getNetwork()).chainId;
    return { harness, domain: oracleDomain(chainId, await harness.getAddress()) };
  }

  const randomResult = (status: ResultStatus): InferenceResult => ({
    requestId: BigInt(hexlify(randomBytes(8))), modelHash: hexlify(randomBytes(32)), inputHash: hexlify(randomBytes(32)),
    outputHash: hexlify(randomBytes(32)), status,
  });
  const args = (r: InferenceResult) => [r.requestId, r.modelHash, r.inputHash, r.outputHash, r.status];

  it("hashes an InferenceResult (struct hash and EIP-712 digest) as eip712.ts does", async () => {
    const { harness, domain } = await loadFixture(fixture);
    for (const status of [ResultStatus.Ok, ResultStatus.InputOutOfRange, ResultStatus.OutputNotRepresentable]) {
      const r = randomResult(status);
      expect(await harness.resultStructHash(...args(r))).to.equal(resultStructHash(r));
      expect(await harness.resultDigest(...args(r))).to.equal(resultDigest(domain, r));
    }
  });

  it("hashes an InferenceBatch as eip712.ts does, for 0, 1 and many results", async () => {
    const { harness, domain } = await loadFixture(fixture);
    for (const n of [0, 1, 7]) {
      const results = Array.from({ length: n }, () => randomResult(ResultStatus.Ok));
      expect(await harness.batchDigest(results.map(resultStructHash))).to.equal(batchDigest(domain, results));
    }
  });

  it("encodes a report and its digest as report.ts does, and decodes it back", async () => {
    const { harness } = await loadFixture(fixture);
    const r: AttestationReport = {
      version: REPORT_VERSION, teeType: TeeType.DevSimulated, platformId: id("platform"), measurement: id("measurement"),
      enclaveSigner: ethers.Wallet.createRandom().address, operator: ethers.Wallet.createRandom().address,
      runtime: id("node 20, onnxruntime 1.30"), issuedAt: 1_700_000_000n, expiresAt: 1_800_000_000n,
    };
    const tuple = [r.version, r.teeType, r.platformId, r.measurement, r.enclaveSigner, r.operator, r.runtime, r.issuedAt, r.expiresAt];
    // The layout is fixed: nine 32-byte words in this order, the operator right after the signer.
    const words = encodeReport(r).slice(2).match(/.{64}/g)!;
    expect(words).to.have.length(9);
    expect("0x" + words[4].slice(24)).to.equal(r.enclaveSigner.toLowerCase());
    expect("0x" + words[5].slice(24)).to.equal(r.operator.toLowerCase());
    expect(decodeReport(encodeReport(r))).to.deep.equal(r);
    expect(await harness.encodeReport(tuple)).to.equal(encodeReport(r));
    expect(await harness.reportDigest(tuple)).to.equal(reportDigest(r));
    expect([...(await harness.decodeReport(encodeReport(r)))]).to.deep.equal(tuple.map((v) => (typeof v === "number" ? BigInt(v) : v)));
  });

  it("encodes a platform certificate and its digest as report.ts does", async () => {
    const { harness } = await loadFixture(fixture);
    const c: PlatformCertificate = decodeCertificate(createDevPlatform({ now: 1_700_000_000 }).certificate);
    const tuple = [c.version, c.platformId, c.platformKeyX, c.platformKeyY, c.notBefore, c.notAfter];
    expect(await harness.encodeCertificate(tuple)).to.equal(encodeCertificate(c));
    expect(await harness.certificateDigest(tuple)).to.equal(certificateDigest(c));
  });

  it("derives rootId as report.ts does", async () => {
    const { harness } = await loadFixture(fixture);
    const { publicKey } = createDevRoot();
    expect(await harness.rootId(publicKey.x, publicKey.y)).to.equal(rootId(publicKey.x, publicKey.y));
  });

  it("uses the enum bounds and report version of constants.ts", async () => {
    const { harness } = await loadFixture(fixture);
    const [maxStatus, maxTee, version, certificateVersion] = await harness.constants();
    expect(maxStatus).to.equal(BigInt(ResultStatus.OutputNotRepresentable));
    expect(maxTee).to.equal(BigInt(TeeType.AmdSevSnp));
    expect(version).to.equal(BigInt(REPORT_VERSION));
    expect(certificateVersion).to.equal(BigInt(CERTIFICATE_VERSION));
    expect(Object.keys(ResultStatus).filter((k) => isNaN(Number(k)))).to.have.length(Number(maxStatus) + 1);
    expect(Object.keys(TeeType).filter((k) => isNaN(Number(k)))).to.have.length(Number(maxTee) + 1);
  });

  it("uses the input encodings, determinism classes and basis points of constants.ts", async () => {
    const { harness } = await loadFixture(fixture);
    const [maxEncoding, maxDeterminism, bps] = await harness.modelConstants();
    expect(maxEncoding).to.equal(BigInt(InputEncoding.PackedInt64));
    expect(maxDeterminism).to.equal(BigInt(Determinism.BitExact));
    expect(bps).to.equal(BigInt(BPS));
    expect(Object.keys(InputEncoding).filter((k) => isNaN(Number(k)))).to.have.length(Number(maxEncoding) + 1);
    expect(Object.keys(Determinism).filter((k) => isNaN(Number(k)))).to.have.length(Number(maxDeterminism) + 1);
  });
});
