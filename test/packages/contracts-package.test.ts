import { expect } from "chai";
import fs from "node:fs";
import path from "node:path";
import hre from "hardhat";
import { solidityPacked } from "ethers";
import { packageFiles } from "../../scripts/export-abis";
import { CONTRACTS_NAME, CONTRACTS_PKG, compileWith, docsConsumer, packList, packageResolver } from "./lib";

const SOLC_VERSIONS = ["solc-0.8.24", "solc"]; // 0.8.24 (the range's floor) and 0.8.30 (the project's pin)

describe("contracts package (@attested-inference-oracle/contracts)", function () {
  this.timeout(180_000);
  let shipped: Set<string>;
  let solFiles: string[];

  before(() => {
    shipped = new Set(packList(CONTRACTS_PKG).files.map((f) => f.path));
    solFiles = [...shipped].filter((f) => f.endsWith(".sol"));
  });

  it("ships the consumer base, the interfaces, the types, TensorIO, the ABIs and the deployments, and no implementation", () => {
    for (const f of ["InferenceConsumer.sol", "interfaces/IInferenceOracle.sol", "interfaces/IModelRegistry.sol", "interfaces/IEnclaveRegistry.sol",
      "libraries/OracleTypes.sol", "libraries/TensorIO.sol", "abi/InferenceOracle.json", "abi/IInferenceOracle.json", "deployments/index.json", "package.json"]) {
      expect(shipped, f).to.include(f);
    }
    for (const f of ["InferenceOracle.sol", "ModelRegistry.sol", "EnclaveRegistry.sol", "libraries/AttestationReport.sol"]) expect(shipped, f).not.to.include(f);
    expect([...shipped].filter((f) => f.startsWith("test/") || f.startsWith("examples/"))).to.deep.equal([]);
  });

  it("has no install scripts and no dependencies, so it installs without running anything", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(CONTRACTS_PKG, "package.json"), "utf8"));
    expect(pkg.name).to.equal(CONTRACTS_NAME);
    for (const s of ["preinstall", "install", "postinstall", "prepare"]) expect(pkg.scripts?.[s], s).to.equal(undefined);
    expect(pkg.dependencies ?? {}).to.deep.equal({});
  });

  it("declares pragma ^0.8.24 in every Solidity file it ships", () => {
    for (const f of solFiles) {
      expect(fs.readFileSync(path.join(CONTRACTS_PKG, f), "utf8"), f).to.match(/^pragma solidity \^0\.8\.24;$/m);
    }
  });

  for (const solc of SOLC_VERSIONS) {
    it(`compiles every Solidity file it ships with ${solc} from npm`, () => {
      const sources = Object.fromEntries(solFiles.map((f) => [`${CONTRACTS_NAME}/${f}`, fs.readFileSync(path.join(CONTRACTS_PKG, f), "utf8")]));
      const out = compileWith(solc, sources, packageResolver(shipped));
      expect(out.errors, out.version).to.deep.equal([]);
      expect(Object.keys(out.contracts)).to.have.length(solFiles.length);
    });

    it(`compiles the consumer that opens docs/contracts.md with ${solc}, importing only what the package ships`, () => {
      const out = compileWith(solc, { "FlowerClassifier.sol": docsConsumer() }, packageResolver(shipped));
      expect(out.errors, out.version).to.deep.equal([]);
      expect(out.contracts["FlowerClassifier.sol"].FlowerClassifier.evm.bytecode.object).to.match(/^[0-9a-f]{100,}$/);
    });
  }

  it("opens docs/contracts.md with a consumer of at most 30 lines", () => {
    const doc = fs.readFileSync(path.join(CONTRACTS_PKG, "..", "docs", "contracts.md"), "utf8");
    expect(doc.indexOf("```solidity")).to.be.lessThan(doc.indexOf("\n## "));
    expect(docsConsumer().trimEnd().split("\n").length).to.be.at.most(30);
  });

  it("ships the ABIs and deployments scripts/export-abis.ts writes from the current artifacts (run `npm run export-abis` after a contract change)", async () => {
    await hre.run("compile", { quiet: true });
    for (const [rel, text] of packageFiles()) {
      expect(fs.readFileSync(path.join(CONTRACTS_PKG, rel), "utf8"), `contracts/${rel} is stale`).to.equal(text);
    }
  });

  it("publishes the addresses of committed deployments and leaves local chains out", () => {
    const tmp = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "deployments-"));
    try {
      const base = { deploymentBlock: 7, contracts: { InferenceOracle: "0x" + "11".repeat(20), ModelRegistry: "0x" + "22".repeat(20), EnclaveRegistry: "0x" + "33".repeat(20) }, models: { "iris-classifier": 1 } };
      fs.writeFileSync(path.join(tmp, "sepolia.json"), JSON.stringify({ network: "sepolia", chainId: 11155111, ...base }));
      fs.writeFileSync(path.join(tmp, "localhost.json"), JSON.stringify({ network: "localhost", chainId: 31337, ...base }));
      const files = packageFiles({ deploymentsDir: tmp });
      expect(JSON.parse(files.get("deployments/index.json")!)).to.deep.equal({ sepolia: 11155111 });
      const sepolia = JSON.parse(files.get("deployments/sepolia.json")!);
      expect(sepolia.contracts.InferenceOracle).to.equal("0x" + "11".repeat(20));
      expect(sepolia.deploymentBlock).to.equal(7);
      expect(files.has("deployments/localhost.json")).to.equal(false);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("TensorIO", function () {
  async function harness() {
    return hre.ethers.deployContract("TensorIOHarness");
  }
  const values = [0n, 1n, -1n, 127n, -128n];

  it("encodes input 0 as abi.encode(int256[]) and decodes it back", async () => {
    const t = await harness();
    const enc = await t.encodeInput(values, 0);
    expect(enc).to.equal(hre.ethers.AbiCoder.defaultAbiCoder().encode(["int256[]"], [values]));
    expect(await t.decode(enc)).to.deep.equal(values);
  });

  for (const [encoding, type] of [[1, "int8"], [2, "int16"], [3, "int32"], [4, "int64"]] as const) {
    it(`packs input encoding ${encoding} as big-endian two's complement ${type}`, async () => {
      const t = await harness();
      const bits = BigInt(type.slice(3));
      const edge = [...values, (1n << (bits - 1n)) - 1n, -(1n << (bits - 1n))];
      expect(await t.encodeInput(edge, encoding)).to.equal(solidityPacked(edge.map(() => type), edge));
    });

    it(`rejects a value outside ${type} with TensorIOValueOutOfRange(index, value, encoding)`, async () => {
      const t = await harness();
      const over = 1n << (BigInt(type.slice(3)) - 1n);
      await expect(t.encodeInput([0n, over], encoding)).to.be.revertedWithCustomError(t, "TensorIOValueOutOfRange").withArgs(1, over, encoding);
      await expect(t.encodeInput([-over - 1n], encoding)).to.be.revertedWithCustomError(t, "TensorIOValueOutOfRange").withArgs(0, -over - 1n, encoding);
    });
  }

  it("rejects an unknown encoding with TensorIOUnknownEncoding", async () => {
    const t = await harness();
    await expect(t.encodeInput([1n], 5)).to.be.revertedWithCustomError(t, "TensorIOUnknownEncoding").withArgs(5);
  });

  it("reads one value and the length of an output in calldata, and rejects an index past the end", async () => {
    const t = await harness();
    const out = hre.ethers.AbiCoder.defaultAbiCoder().encode(["int256[]"], [[5n, -7n, 9n]]);
    expect(await t.length(out)).to.equal(3n);
    expect(await t.at(out, 1)).to.equal(-7n);
    await expect(t.at(out, 3)).to.be.revertedWithCustomError(t, "TensorIOIndexOutOfRange").withArgs(3, 3);
    expect(await t.length("0x")).to.equal(0n);
  });

  it("finds the class of a classifier's scores (first on ties) and rejects an empty output", async () => {
    const t = await harness();
    expect(await t.argmax([3n, 9n, 9n, -1n])).to.deep.equal([1n, 9n]);
    expect(await t.argmax([-5n, -3n])).to.deep.equal([1n, -3n]);
    await expect(t.argmax([])).to.be.revertedWithCustomError(t, "TensorIOEmpty");
  });
});
