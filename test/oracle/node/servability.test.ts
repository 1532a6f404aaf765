/**
 * The servability rules, one by one (pure functions: no chain), and the gas-sized batching.
 * What an attacker tries: requests the chain would skip for good (a copy of a served model that
 * excludes the runner's measurement, or declares another output length), callbacks too large for
 * one transaction, inputs too large.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { id } from "ethers";
import { BATCH_OVERHEAD, EIP7825_TX_GAS_CAP, itemGasPlan, tensorBytes } from "../../../oracle/src/chain/gas";
import { DEFAULT_MODELS_DIR, loadManifest } from "../../../oracle/src/models/manifest";
import { ModelCache } from "../../../oracle/src/models/cache";
import { ModelFetcher } from "../../../oracle/src/models/fetch";
import { ModelProvisioner } from "../../../oracle/src/models/provision";
import { onChainSpecOf } from "../../../oracle/src/models/publish";
import { readModelSpec } from "../../../oracle/src/models/spec";
import { splitByGas } from "../../../oracle/src/node/pipeline";
import { declineReason, permanentSkip, type RegistryModel, type ServabilityFacts } from "../../../oracle/src/node/servability";
import { encodeTensor } from "../../../oracle/src/protocol/eip712";
import { inferenceRequest, type InferenceRequest, type RequestedFields } from "../../../oracle/src/protocol/request";

const penguins = loadManifest(DEFAULT_MODELS_DIR).models.find((m) => m.name === "penguins-species-int")!;
const MEASUREMENT = "0x" + "ab".repeat(32);

const request = (over: Partial<RequestedFields> = {}): InferenceRequest => inferenceRequest({
  requestId: 7n, modelId: 3n, modelHash: penguins.sha256, input: encodeTensor([391n, 187n, 181n, 3750n]), callbackGasLimit: 100_000n,
  deadline: 9_999_999_999n, fee: 0n, gasPrepayment: 0n, maxGasPrice: 2_000_000_000n, redundancy: 1n, requester: "0x" + "22".repeat(20), ...over,
}, { blockNumber: 1, blockHash: "0x" + "00".repeat(32), txHash: "0x" + "00".repeat(32) });
const registry = (over: Partial<RegistryModel> = {}): RegistryModel => ({
  modelHash: penguins.sha256, inputLength: penguins.input.length, outputLength: penguins.output.length, decimals: penguins.decimals,
  measurementAllowed: true, ...over,
});
const facts = (over: Partial<ServabilityFacts> = {}): ServabilityFacts => ({
  request: request(), registry: registry(), measurement: MEASUREMENT, gasPrice: 1_500_000_000n,
  limits: { maxInputBytes: 65536, maxCallbackGas: 2_000_000, maxBatchGas: BigInt(EIP7825_TX_GAS_CAP) }, ...over,
});

describe("servability rules", () => {
  it("serves a request for a model file it has, registered as the file says, allowing its runner", () => {
    expect(declineReason(facts())).to.equal(undefined);
  });

  it("declines a fee-0 copy of a served model (same sha256) whose allowed measurements exclude the runner's", () => {
    const d = declineReason(facts({ registry: registry({ measurementAllowed: false }) }));
    expect(d?.declined).to.equal("measurement-not-allowed");
    expect(d?.message).to.include(MEASUREMENT);
  });

  it("sizes a request's gas by the registry's output length (what the chain enforces); the model file itself is the provisioner's to check", () => {
    expect(declineReason(facts({ request: request({ modelHash: "0x" + "cd".repeat(32) }), registry: registry({ modelHash: "0x" + "cd".repeat(32) }) }))).to.equal(undefined);
    const limits = { maxInputBytes: 65536, maxCallbackGas: 30_000_000, maxBatchGas: BATCH_OVERHEAD + itemGasPlan(1_000_000, tensorBytes(3)) };
    const big = registry({ outputLength: 5000 });
    expect(declineReason(facts({ limits, registry: big, request: request({ callbackGasLimit: 1_000_000n }) }))?.declined).to.equal("does-not-fit-in-a-transaction");
  });

  it("declines a callback gas limit above the maximum served, and input above ORACLE_MAX_INPUT_BYTES", () => {
    expect(declineReason(facts({ request: request({ callbackGasLimit: 2_000_001n }) }))?.declined).to.equal("callback-gas-too-high");
    expect(declineReason(facts({ request: request({ input: "0x" + "00".repeat(65537) }) }))?.declined).to.equal("input-too-large");
  });

  it("declines an item that cannot fit in one transaction even alone, and only that", () => {
    const limits = { maxInputBytes: 65536, maxCallbackGas: 30_000_000, maxBatchGas: 2_000_000n };
    expect(declineReason(facts({ limits, request: request({ callbackGasLimit: 1_900_000n }) }))?.declined).to.equal("does-not-fit-in-a-transaction");
    expect(declineReason(facts({ limits, request: request({ callbackGasLimit: 1_000_000n }) }))).to.equal(undefined);
  });

  it("declines a request whose maxGasPrice is below the chain's gas price (its prepayment cannot cover its cost), serves one at or above it", () => {
    const d = declineReason(facts({ gasPrice: 2_000_000_001n }));
    expect(d?.declined).to.equal("gas-price-above-max");
    expect(d?.message).to.include("at most at 2000000000 wei/gas (maxGasPrice), below the chain's current 2000000001 wei/gas");
    expect(declineReason(facts({ gasPrice: 2_000_000_000n }))).to.equal(undefined);
  });

  it("treats the chain's permanent skip reasons as declines and 'already fulfilled' as not", () => {
    const sel = (sig: string) => id(sig).slice(0, 10);
    expect(permanentSkip(sel("InferenceOracleMeasurementNotAllowedForModel(uint256,bytes32)"), "1", "0xt")?.declined).to.equal("measurement-not-allowed");
    expect(permanentSkip(sel("InferenceOracleMalformedOutput(uint256)"), "1", "0xt")?.declined).to.equal("malformed-output");
    expect(permanentSkip(sel("InferenceOracleAlreadyFulfilled(uint256)"), "1", "0xt")).to.equal(undefined);
  });
});

describe("gas-sized batches", () => {
  const plan = (cb: number) => ({ gas: itemGasPlan(cb, tensorBytes(3)) });

  it("twelve 2M-gas callbacks are cut into batches under the 2^24 transaction cap; small items fill by count", () => {
    const cap = BigInt(EIP7825_TX_GAS_CAP);
    const batches = splitByGas(Array.from({ length: 12 }, () => plan(2_000_000)), 32, cap);
    expect(batches.map((b) => b.length).reduce((a, n) => a + n, 0)).to.equal(12);
    expect(batches.length).to.equal(2);
    for (const b of batches) expect(b.reduce((a, j) => a + j.gas, BATCH_OVERHEAD)).to.be.at.most(cap);
    expect(splitByGas(Array.from({ length: 40 }, () => plan(0)), 16, cap).map((b) => b.length)).to.deep.equal([16, 16, 8]);
  });
});

/** A node's model cache holding the shipped models, the penguins model's spec and its honest registration. */
async function withPenguins(fn: (cache: ModelCache, spec: ReturnType<typeof readModelSpec>, honest: ReturnType<typeof onChainSpecOf>) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "provision-"));
  try {
    const cache = new ModelCache(dir);
    cache.importDir(DEFAULT_MODELS_DIR);
    const spec = readModelSpec(fs.readFileSync(cache.path(penguins.sha256)));
    await fn(cache, spec, onChainSpecOf(penguins.sha256, spec, { fee: 0n, uri: "ipfs://penguins", publisherShareBps: 0 }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("model provisioner against copies of a served model", () => {
  it("an attacker's registration of a served model's hash with another spec is declined for its model id only: the honest model stays served", async () => {
    await withPenguins(async (cache, spec, honest) => {
      const registrations: Record<string, typeof honest> = { 1: honest, 9: { ...honest, outputLength: 5 } };
      const p = new ModelProvisioner({ fetcher: new ModelFetcher({ cache }), registration: async (id) => registrations[id.toString()] });
      // The copy first (the order an attacker picks), then the honest model, then the copy again
      // (now that the file is ready for the honest registration), then a second copy.
      expect((await p.prepare(9n, penguins.sha256).catch((e) => e)).reason).to.equal("spec-mismatch");
      expect((await p.prepare(1n, penguins.sha256)).name).to.equal(spec.name);
      expect((await p.prepare(9n, penguins.sha256).catch((e) => e)).reason).to.equal("spec-mismatch");
      registrations[10] = { ...honest, decimals: 2 };
      expect((await p.prepare(10n, penguins.sha256).catch((e) => e)).reason).to.equal("spec-mismatch");
      // Copies that lie only about the input encoding or the determinism class, after the honest one is ready.
      registrations[11] = { ...honest, inputEncoding: 2 };
      expect((await p.prepare(11n, penguins.sha256).catch((e) => e)).reason).to.equal("spec-mismatch");
      registrations[12] = { ...honest, determinism: 1 - honest.determinism };
      expect((await p.prepare(12n, penguins.sha256).catch((e) => e)).reason).to.equal("spec-mismatch");
      expect((await p.prepare(1n, penguins.sha256)).name).to.equal(spec.name);
    });
  });

  it("a registration it cannot read is not served unchecked: the job is retried later, and served once the read succeeds", async () => {
    await withPenguins(async (cache, spec, honest) => {
      let rpcDown = true;
      const p = new ModelProvisioner({
        fetcher: new ModelFetcher({ cache }),
        registration: async () => { if (rpcDown) throw new Error("RPC answered HTTP 503"); return honest; },
      });
      const err = await p.prepare(1n, penguins.sha256).catch((e) => e);
      expect(err.name).to.equal("ModelNotReadyError");
      expect(err.transient).to.equal(true);
      rpcDown = false;
      expect((await p.prepare(1n, penguins.sha256)).name).to.equal(spec.name);
    });
  });
});
