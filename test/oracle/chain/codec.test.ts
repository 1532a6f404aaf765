import { expect } from "chai";
import { AbiCoder, Transaction, Wallet, keccak256, randomBytes, hexlify } from "ethers";
import fs from "node:fs";
import path from "node:path";
import { encodeFulfilBatch, requestEventOf, requestIdTopic, signEip1559 } from "../../../oracle/src/chain/codec";
import { COMMITMENT_TUPLE, ENCLAVE_REGISTRY_ABI, MODEL_REGISTRY_ABI, ORACLE_ABI, ORACLE_TOPICS, oracleInterface, registryInterface } from "../../../oracle/src/protocol/abi";
import { commitmentHash, commitmentTuple, type RequestCommitment } from "../../../oracle/src/protocol/request";
import { Interface } from "ethers";

const rnd = (n: number) => hexlify(randomBytes(n));
function commitment(i: number): RequestCommitment {
  return {
    requestId: BigInt(i) * 7919n + 1n, modelId: BigInt(i % 5), requester: Wallet.createRandom().address, modelHash: rnd(32), inputHash: rnd(32),
    fee: 10n ** 15n + BigInt(i), gasPrepayment: 3n * 10n ** 14n + BigInt(i), maxGasPrice: 10n ** 9n * BigInt(i + 1),
    callbackGasLimit: BigInt(i * 1000), deadline: 1_900_000_000n + BigInt(i), redundancy: BigInt(1 + (i % 3)),
  };
}

describe("node codecs (hot path) agree with ethers", () => {
  it("fulfilBatch calldata is byte for byte what ethers encodes, for outputs of every length", () => {
    for (const n of [1, 2, 7]) {
      const results = Array.from({ length: n }, (_, i) => ({ request: commitment(i), output: rnd(i * 13), status: i % 3 }));
      const sig = rnd(65);
      const ours = encodeFulfilBatch(results, sig);
      const theirs = oracleInterface.encodeFunctionData("fulfilBatch", [results.map((r) => [commitmentTuple(r.request), r.output, r.status]), sig]);
      expect(ours).to.equal(theirs);
    }
  });

  it("the commitment hash equals keccak256 of ethers' AbiCoder encoding", () => {
    for (let i = 0; i < 5; i++) {
      const c = commitment(i);
      expect(commitmentHash(c)).to.equal(keccak256(AbiCoder.defaultAbiCoder().encode([COMMITMENT_TUPLE], [commitmentTuple(c)])));
    }
  });

  it("names the oracle's events from raw logs", () => {
    const c = commitment(3);
    const skipped = oracleInterface.encodeEventLog(oracleInterface.getEvent("ResultSkipped")!, [9n, c.requester, "0xdeadbeef"]);
    expect(requestEventOf(skipped)).to.deep.equal({ name: "ResultSkipped", requestId: 9n, signer: c.requester.toLowerCase(), reason: "0xdeadbeef" });
    expect(requestEventOf({ topics: [keccak256("0x01"), ORACLE_TOPICS.InferenceRequested], data: "0x" })).to.equal(undefined);
  });

  it("writes a request id as the topic its events are indexed by", () => {
    for (const id of [1n, 7919n * 3n + 1n, 2n ** 256n - 1n]) {
      const expired = oracleInterface.encodeEventLog(oracleInterface.getEvent("InferenceExpired")!, [id, Wallet.createRandom().address, 0n]);
      expect(requestIdTopic(id)).to.equal(expired.topics[1]);
      expect(requestIdTopic(id.toString())).to.equal(expired.topics[1]);
    }
  });

  it("signs EIP-1559 transactions as ethers does (same raw bytes, same hash)", async () => {
    const w = Wallet.createRandom();
    const tx = { chainId: 31337, nonce: 300, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: 3n * 10n ** 9n + 7n, gasLimit: 2_345_678n, to: Wallet.createRandom().address, data: rnd(3000) };
    const ours = signEip1559(tx, w.signingKey);
    const theirs = await w.signTransaction({ ...tx, type: 2 });
    expect(ours.raw).to.equal(theirs);
    expect(ours.hash).to.equal(Transaction.from(theirs).hash);
  });
});

describe("protocol ABI (one hand-kept copy) matches the compiled contracts", () => {
  const artifact = (name: string) => {
    const f = path.join(__dirname, "../../../artifacts/contracts", `${name}.sol`, `${name}.json`);
    return new Interface(JSON.parse(fs.readFileSync(f, "utf8")).abi);
  };
  for (const [name, ours] of [
    ["InferenceOracle", new Interface(ORACLE_ABI)], ["EnclaveRegistry", new Interface(ENCLAVE_REGISTRY_ABI)], ["ModelRegistry", new Interface(MODEL_REGISTRY_ABI)],
  ] as const) {
    it(`every ${name} fragment exists in the artifact with the same signature, mutability and outputs`, function () {
      let compiled: Interface;
      try { compiled = artifact(name); } catch { this.skip(); return; }
      ours.forEachFunction((f) => {
        const c = compiled.getFunction(f.format("sighash"));
        expect(c, `${name}.${f.format("sighash")}`).to.not.equal(null);
        expect(f.format("full"), f.name).to.equal(c!.format("full"));
      });
      ours.forEachEvent((e) => {
        const c = compiled.getEvent(e.topicHash);
        expect(c, `${name} event ${e.format("sighash")}`).to.not.equal(null);
        expect(e.format("full"), e.name).to.equal(c!.format("full"));
      });
    });
  }
  it("the registry interface serves the auditor's reads", () => {
    for (const f of ["getEnclave", "getRoot", "registerAttestedEnclave", "registerEnclave", "activeEnclave"]) expect(registryInterface.getFunction(f)).to.not.equal(null);
  });
});
