import { expect } from "chai";
import { hexlify, randomBytes } from "ethers";
import { ResultHasher } from "../../../oracle/src/enclave/digest";
import { batchDigest, oracleDomain, resultDigest, resultStructHash, type InferenceResult, type ResultStatus } from "../../../oracle/src/protocol";

function randomResult(i: number): InferenceResult {
  return {
    requestId: i === 0 ? (1n << 256n) - 1n : BigInt(hexlify(randomBytes(1 + (i % 32)))),
    modelHash: hexlify(randomBytes(32)),
    inputHash: hexlify(randomBytes(32)),
    outputHash: hexlify(randomBytes(32)),
    status: i % 3,
  };
}

describe("runner hot-path EIP-712 hashing", () => {
  const domain = oracleDomain(31337n, "0x" + "5a".repeat(20));
  const hasher = new ResultHasher(domain);

  it("gives the protocol module's struct hash and result digest", () => {
    for (let i = 0; i < 50; i++) {
      const r = randomResult(i);
      expect(hexlify(hasher.structHash(r))).to.equal(resultStructHash(r));
      expect(hasher.resultDigest(r)).to.equal(resultDigest(domain, r));
    }
  });

  it("gives the protocol module's batch digest for batches of 1 to 60", () => {
    for (const n of [1, 2, 7, 50, 60]) {
      const rs = Array.from({ length: n }, (_, i) => randomResult(i));
      expect(hasher.batchDigest(rs)).to.equal(batchDigest(domain, rs));
    }
  });

  it("refuses values out of their EIP-712 type", () => {
    expect(() => hasher.structHash({ ...randomResult(1), requestId: -1n })).to.throw(RangeError);
    expect(() => hasher.structHash({ ...randomResult(1), status: 256 as ResultStatus })).to.throw(RangeError);
    expect(() => hasher.structHash({ ...randomResult(1), modelHash: "0x1234" })).to.throw(RangeError);
  });
});
