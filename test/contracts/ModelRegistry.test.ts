import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { Contract, ZeroHash, id } from "ethers";
import { IRIS, MEASUREMENT, OTHER_MEASUREMENT, deployOracleFixture } from "../helpers/fixtures";

const spec = (over: Partial<typeof IRIS> = {}) => {
  const s = { ...IRIS, ...over };
  return [s.modelHash, s.inputLength, s.outputLength, s.decimals, s.fee, s.uri];
};

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
      await expect(registry.registerModel(spec({ modelHash: hash }), [MEASUREMENT, OTHER_MEASUREMENT]))
        .to.emit(registry, "ModelRegistered")
        .withArgs(2n, publisher.address, hash, IRIS.inputLength, IRIS.outputLength, IRIS.decimals, IRIS.fee, IRIS.uri)
        .and.to.emit(registry, "ModelMeasurementUpdated").withArgs(2n, OTHER_MEASUREMENT, true);
      expect(await registry.modelCount()).to.equal(2n);
    });

    it("stores the model with its publisher, active", async () => {
      const { registry, publisher, modelId } = await fixture();
      const m = await registry.getModel(modelId);
      expect([m.modelHash, m.fee, m.inputLength, m.outputLength, m.decimals, m.active, m.publisher, m.uri]).to.deep.equal([
        IRIS.modelHash, IRIS.fee, BigInt(IRIS.inputLength), BigInt(IRIS.outputLength), BigInt(IRIS.decimals), true,
        publisher.address, IRIS.uri,
      ]);
      expect(await registry.requestTerms(modelId)).to.deep.equal([IRIS.modelHash, BigInt(IRIS.inputLength), IRIS.fee, true]);
      expect(await registry.servingTerms(modelId, MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), true]);
      expect(await registry.servingTerms(modelId, OTHER_MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), false]);
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
      const terms = async (m: string) => [...(await registry.servingTerms(modelId, m))];
      expect(await terms(MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), true]);
      expect(await terms(OTHER_MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), false]);
      await registry.setMeasurement(modelId, OTHER_MEASUREMENT, true);
      expect(await terms(OTHER_MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), true]);
      await registry.setMeasurement(modelId, MEASUREMENT, false);
      expect(await terms(MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), false]);
      expect(await registry.isMeasurementAllowed(modelId, MEASUREMENT)).to.equal(false);
      await registry.setMeasurement(modelId, MEASUREMENT, true);
      expect(await terms(MEASUREMENT)).to.deep.equal([BigInt(IRIS.outputLength), true]);
      expect([...(await registry.servingTerms(99n, MEASUREMENT))]).to.deep.equal([0n, false]);
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

  it("names its type and version", async () => {
    const { registry } = await fixture();
    expect(await registry.typeAndVersion()).to.equal("ModelRegistry 1.0.0");
  });
});
