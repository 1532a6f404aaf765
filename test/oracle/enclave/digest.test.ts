import { expect } from "chai";
import { TypedDataEncoder, hexlify, randomBytes, type TypedDataDomain } from "ethers";
import {
  INFERENCE_BATCH_TYPES, INFERENCE_RESULT_TYPES, ResultHasher, batchDigest, oracleDomain, resultDigest, resultStructHash,
  type InferenceResult, type ResultStatus,
} from "../../../oracle/src/protocol";

// ethers' generic TypedDataEncoder: the independent reference the protocol module's hasher is held to.
const ref = {
  structHash: (r: InferenceResult) => TypedDataEncoder.from(INFERENCE_RESULT_TYPES).hash(r),
  resultDigest: (d: TypedDataDomain, r: InferenceResult) => TypedDataEncoder.hash(d, INFERENCE_RESULT_TYPES, r),
  batchDigest: (d: TypedDataDomain, rs: InferenceResult[]) => TypedDataEncoder.hash(d, INFERENCE_BATCH_TYPES, { results: rs.map(ref.structHash) }),
};

function randomResult(i: number): InferenceResult {
  return {
    requestId: i === 0 ? (1n << 256n) - 1n : BigInt(hexlify(randomBytes(1 + (i % 32)))),
    modelHash: hexlify(randomBytes(32)),
    inputHash: hexlify(randomBytes(32)),
    outputHash: hexlify(randomBytes(32)),
    status: i % 3,
  };
}

describe("protocol EIP-712 result hashing against ethers' TypedDataEncoder", () => {
  const domain = oracleDomain(31337n, "0x" + "5a".repeat(20));
  const hasher = new ResultHasher(domain);

  it("gives ethers' struct hash and result digest", () => {
    for (let i = 0; i < 50; i++) {
      const r = randomResult(i);
      expect(hexlify(hasher.structHash(r))).to.equal(ref.structHash(r));
      expect(resultStructHash(r)).to.equal(ref.structHash(r));
      expect(hasher.resultDigest(r)).to.equal(ref.resultDigest(domain, r));
      expect(resultDigest(domain, r)).to.equal(ref.resultDigest(domain, r));
    }
  });

  it("gives ethers' batch digest for batches of 0 to 60", () => {
    for (const n of [0, 1, 2, 7, 50, 60]) {
      const rs = Array.from({ length: n }, (_, i) => randomResult(i));
      expect(hasher.batchDigest(rs)).to.equal(ref.batchDigest(domain, rs));
      expect(batchDigest(domain, rs)).to.equal(ref.batchDigest(domain, rs));
    }
  });

  it("gives ethers' digests in another domain (chain id, contract)", () => {
    const other = oracleDomain(1n, "0x" + "a7".repeat(20));
    const rs = Array.from({ length: 5 }, (_, i) => randomResult(i));
    expect(resultDigest(other, rs[1])).to.equal(ref.resultDigest(other, rs[1]));
    expect(batchDigest(other, rs)).to.equal(ref.batchDigest(other, rs));
    expect(resultDigest(other, rs[1])).to.not.equal(resultDigest(domain, rs[1]));
  });

  it("refuses values out of their EIP-712 type", () => {
    expect(() => hasher.structHash({ ...randomResult(1), requestId: -1n })).to.throw(RangeError);
    expect(() => hasher.structHash({ ...randomResult(1), status: 256 as ResultStatus })).to.throw(RangeError);
    expect(() => hasher.structHash({ ...randomResult(1), modelHash: "0x1234" })).to.throw(RangeError);
    expect(() => resultStructHash({ ...randomResult(1), requestId: 1n << 256n })).to.throw(RangeError);
  });
});
