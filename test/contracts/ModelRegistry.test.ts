import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { Contract, ZeroAddress, ZeroHash, id } from "ethers";
import { modelSpecTuple } from "../../scripts/lib/deploy-contracts";
import { specDeterminism } from "../../oracle/src/models/spec";
import { loadManifest } from "../../oracle/src/models/manifest";
import { IRIS, MEASUREMENT, OTHER_MEASUREMENT, deployOracleFixture } from "../helpers/fixtures";
import { Determinism, InputEncoding } from "../helpers/protocol";

const spec = (over: Partial<typeof IRIS> = {}) => modelSpecTuple({ ...IRIS, ...over });

describe("ModelRegistry", () => {
  async function fixture() {
    const f = await loadFixture(deployOracleFixture);
    return { ...f, registry: f.modelRegistry.connect(f.publisher) as Contract };
  }

  describe("registerModel", () => {
    it("gives sequential ids from 1 and emits ModelRegistered and ModelMeasurementUpdated", async () => {
      const { registry, publisher, modelId } = await fixture();
      expect(modelId).to.equal(1n);
      const hash = id("other model");
      const over = { modelHash: hash, inputEncoding: InputEncoding.PackedInt16, determinism: Determinism.BitExact, publisherShareBps: 2_500 };
      await expect(registry.registerModel(spec(over), [MEASUREMENT, OTHER_MEASUREMENT]))
        .to.emit(registry, "ModelRegistered")
        .withArgs(2n, publisher.address, hash, IRIS.inputLength, IRIS.outputLength, IRIS.decimals, IRIS.fee, IRIS.uri, 2, 1, 2_500)
        .and.to.emit(registry, "ModelMeasurementUpdated").withArgs(2n, OTHER_MEASUREMENT, true);
      expect(await registry.modelCount()).to.equal(2n);
    });

    it("stores the model with its publisher, active", async () => {
      const { registry, publisher, modelId } = await fixture();
      const m = await registry.getModel(modelId);
      expect([m.modelHash, m.fee, m.inputLength, m.outputLength, m.decimals, m.active, m.inputEncoding, m.determinism, m.publisherShareBps, m.publisher, m.uri]).to.deep.equal([
        IRIS.modelHash, IRIS.fee, BigInt(IRIS.inputLength), BigInt(IRIS.outputLength), BigInt(IRIS.decimals), true,
        0n, 0n, 0n, publisher.address, IRIS.uri,
      ]);
      expect(await registry.requestTerms(modelId)).to.deep.equal([IRIS.modelHash, BigInt(IRIS.inputLength), 0n, IRIS.fee, true]);
      expect(await registry.servingTerms(modelId, MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), true, publisher.address, 0n]);
      expect(await registry.servingTerms(modelId, OTHER_MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), false, publisher.address, 0n]);
    });

    it("stores the input encoding, determinism class and publisher share, and serves them to the oracle", async () => {
      const { registry, publisher } = await fixture();
      await registry.registerModel(spec({ inputEncoding: InputEncoding.PackedInt8, determinism: Determinism.BitExact, publisherShareBps: 10_000 }), [MEASUREMENT]);
      const m = await registry.getModel(2n);
      expect([m.inputEncoding, m.determinism, m.publisherShareBps]).to.deep.equal([1n, 1n, 10_000n]);
      expect((await registry.requestTerms(2n))[2]).to.equal(1n);
      expect(await registry.servingTerms(2n, MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), true, publisher.address, 10_000n]);
    });

    it("rejects an unknown input encoding, determinism class, or a publisher share above 100%, naming the field", async () => {
      const { registry } = await fixture();
      await expect(registry.registerModel(spec({ inputEncoding: 5 }), []))
        .to.be.revertedWithCustomError(registry, "ModelRegistryInvalidInputEncoding").withArgs(5);
      await expect(registry.registerModel(spec({ determinism: 2 }), []))
        .to.be.revertedWithCustomError(registry, "ModelRegistryInvalidDeterminism").withArgs(2);
      await expect(registry.registerModel(spec({ publisherShareBps: 10_001 }), []))
        .to.be.revertedWithCustomError(registry, "ModelRegistryInvalidPublisherShare").withArgs(10_001);
    });

    it("rejects an empty model hash", async () => {
      const { registry } = await fixture();
      await expect(registry.registerModel(spec({ modelHash: ZeroHash }), []))
        .to.be.revertedWithCustomError(registry, "ModelRegistryEmptyModelHash");
    });

    it("rejects a zero input or output length", async () => {
      const { registry } = await fixture();
      await expect(registry.registerModel(spec({ inputLength: 0 }), []))
        .to.be.revertedWithCustomError(registry, "ModelRegistryInvalidTensorLength").withArgs(0, IRIS.outputLength);
      await expect(registry.registerModel(spec({ outputLength: 0 }), []))
        .to.be.revertedWithCustomError(registry, "ModelRegistryInvalidTensorLength").withArgs(IRIS.inputLength, 0);
    });

    it("rejects a zero measurement", async () => {
      const { registry } = await fixture();
      await expect(registry.registerModel(spec(), [ZeroHash]))
        .to.be.revertedWithCustomError(registry, "ModelRegistryEmptyMeasurement");
    });
  });

  describe("publisher functions", () => {
    it("let the publisher set the fee", async () => {
      const { registry, modelId } = await fixture();
      await expect(registry.setFee(modelId, 7n)).to.emit(registry, "ModelFeeUpdated").withArgs(modelId, 7n);
      expect((await registry.getModel(modelId)).fee).to.equal(7n);
    });

    it("let the publisher allow and disallow a measurement", async () => {
      const { registry, modelId } = await fixture();
      await expect(registry.setMeasurement(modelId, OTHER_MEASUREMENT, true))
        .to.emit(registry, "ModelMeasurementUpdated").withArgs(modelId, OTHER_MEASUREMENT, true);
      expect(await registry.isMeasurementAllowed(modelId, OTHER_MEASUREMENT)).to.equal(true);
      await registry.setMeasurement(modelId, OTHER_MEASUREMENT, false);
      expect(await registry.isMeasurementAllowed(modelId, OTHER_MEASUREMENT)).to.equal(false);
    });

    it("answer servingTerms with the output length and the allowance, through every change", async () => {
      const { registry, modelId } = await fixture();
      const terms = async (m: string) => [...(await registry.servingTerms(modelId, m))].slice(0, 2);
      expect(await terms(MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), true]);
      expect(await terms(OTHER_MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), false]);
      await registry.setMeasurement(modelId, OTHER_MEASUREMENT, true);
      expect(await terms(OTHER_MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), true]);
      await registry.setMeasurement(modelId, MEASUREMENT, false);
      expect(await terms(MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), false]);
      expect(await registry.isMeasurementAllowed(modelId, MEASUREMENT)).to.equal(false);
      await registry.setMeasurement(modelId, MEASUREMENT, true);
      expect(await terms(MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), true]);
      expect([...(await registry.servingTerms(99n, MEASUREMENT))]).to.deep.equal([0n, false, ZeroAddress, 0n]);
    });

    it("let the publisher deactivate the model for good", async () => {
      const { registry, modelId } = await fixture();
      await expect(registry.deactivate(modelId)).to.emit(registry, "ModelDeactivated").withArgs(modelId);
      expect((await registry.getModel(modelId)).active).to.equal(false);
      await expect(registry.deactivate(modelId))
        .to.be.revertedWithCustomError(registry, "ModelRegistryModelInactive").withArgs(modelId);
      await expect(registry.setFee(modelId, 1n))
        .to.be.revertedWithCustomError(registry, "ModelRegistryModelInactive").withArgs(modelId);
    });

    it("still let the publisher disallow a measurement after deactivation", async () => {
      const { registry, modelId } = await fixture();
      await registry.deactivate(modelId);
      await expect(registry.setMeasurement(modelId, MEASUREMENT, false))
        .to.emit(registry, "ModelMeasurementUpdated").withArgs(modelId, MEASUREMENT, false);
    });

    it("are refused to anyone but the publisher", async () => {
      const { modelRegistry, stranger, modelId } = await fixture();
      const registry = modelRegistry.connect(stranger) as Contract;
      for (const call of [
        () => registry.setFee(modelId, 1n),
        () => registry.setMeasurement(modelId, OTHER_MEASUREMENT, true),
        () => registry.deactivate(modelId),
      ]) {
        await expect(call()).to.be.revertedWithCustomError(registry, "ModelRegistryNotPublisher").withArgs(modelId, stranger.address);
      }
    });

    it("revert for an unknown model", async () => {
      const { registry } = await fixture();
      await expect(registry.setFee(99n, 1n)).to.be.revertedWithCustomError(registry, "ModelRegistryUnknownModel").withArgs(99n);
      await expect(registry.getModel(99n)).to.be.revertedWithCustomError(registry, "ModelRegistryUnknownModel").withArgs(99n);
    });
  });

  it("is given the shipped models' determinism from their files' specs: the integer ones bit-exact, the float ones float", () => {
    const classes = Object.fromEntries(loadManifest().models.map((m) => [m.name, specDeterminism(m)]));
    expect(classes).to.include({
      "penguins-species-int": Determinism.BitExact, "mnist-digits-int": Determinism.BitExact, "iris-classifier": Determinism.Float, "volatility-risk": Determinism.Float,
    });
  });

  it("names its type and version", async () => {
    const { registry } = await fixture();
    expect(await registry.typeAndVersion()).to.equal("ModelRegistry 2.0.0");
  });
});
