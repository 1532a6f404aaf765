/**
 * A submission's `fulfil` / `fulfilBatch` call (protocol/fulfilment.ts), as the auditor and the
 * client read it back: decoded from calldata, and the digest its signature covers.
 */
import { expect } from "chai";
import { Wallet, hexlify, randomBytes } from "ethers";
import { encodeFulfilBatch } from "../../../oracle/src/chain/codec";
import { oracleInterface } from "../../../oracle/src/protocol/abi";
import { batchDigest, encodeTensor, oracleDomain, resultDigest } from "../../../oracle/src/protocol/eip712";
import { decodeFulfilCall, fulfilCallDigest, fulfilmentFromLog, gasReimbursed } from "../../../oracle/src/protocol/fulfilment";
import { commitmentTuple, type RequestCommitment } from "../../../oracle/src/protocol/request";
import { keccak256Hex, fromHex } from "../../../oracle/src/protocol/bytes";

const rnd = (n: number) => hexlify(randomBytes(n));
const DOMAIN = oracleDomain(31337n, "0x" + "ab".repeat(20));

function commitment(requestId: bigint): RequestCommitment {
  return {
    requestId, modelId: 3n, requester: Wallet.createRandom().address, modelHash: rnd(32), inputHash: rnd(32), fee: 10n ** 15n,
    gasPrepayment: 3n * 10n ** 14n, maxGasPrice: 2n * 10n ** 9n, callbackGasLimit: 0n, deadline: 1_900_000_000n, redundancy: 1n,
  };
}
const resultOf = (it: { request: RequestCommitment; output: string; status: number }) => ({
  requestId: it.request.requestId, modelHash: it.request.modelHash, inputHash: it.request.inputHash, outputHash: keccak256Hex(fromHex(it.output)), status: it.status,
});

describe("a fulfilment call read back from its calldata", () => {
  it("decodes fulfil: the one commitment, output and status, and the InferenceResult digest", () => {
    const item = { request: commitment(7n), output: encodeTensor([1n, -2n]), status: 0 };
    const sig = rnd(65);
    const call = decodeFulfilCall(oracleInterface.encodeFunctionData("fulfil", [commitmentTuple(item.request), item.output, item.status, sig]))!;
    expect(call).to.deep.equal({ batch: false, items: [item], signature: sig });
    expect(fulfilCallDigest(DOMAIN, call)).to.equal(resultDigest(DOMAIN, resultOf(item)));
  });

  it("decodes fulfilBatch: every item in order, and the InferenceBatch digest over all of them", () => {
    const items = [1n, 2n, 3n].map((id, i) => ({ request: commitment(id), output: i === 1 ? "0x" : encodeTensor([id]), status: i === 1 ? 1 : 0 }));
    const sig = rnd(65);
    const call = decodeFulfilCall(encodeFulfilBatch(items, sig))!;
    expect(call).to.deep.equal({ batch: true, items, signature: sig });
    expect(fulfilCallDigest(DOMAIN, call)).to.equal(batchDigest(DOMAIN, items.map(resultOf)));
  });

  it("is undefined for another call of the oracle and for data that does not decode", () => {
    expect(decodeFulfilCall(oracleInterface.encodeFunctionData("expire", [commitmentTuple(commitment(1n))]))).to.equal(undefined);
    expect(decodeFulfilCall("0x12345678")).to.equal(undefined);
    expect(decodeFulfilCall(oracleInterface.getFunction("fulfil")!.selector + "00")).to.equal(undefined);
  });
});

describe("a request's one InferenceFulfilled log, read back", () => {
  it("gives what the log carries and derives what it leaves out (output hash, gas reimbursed), from ethers' or a raw log", () => {
    const signer = Wallet.createRandom().address;
    const output = encodeTensor([912_345n, 80_000n, 7_655n]);
    const log = oracleInterface.encodeEventLog(oracleInterface.getEvent("InferenceFulfilled")!, [42n, signer, 0, true, 51_234n, 7_000n, output]);
    const f = fulfilmentFromLog(log);
    expect(f).to.deep.equal({
      requestId: 42n, signer, status: 0, output, outputHash: keccak256Hex(fromHex(output)),
      callbackSuccess: true, callbackGasUsed: 51_234n, gasRefunded: 7_000n,
    });
    expect(gasReimbursed(10_000n, f)).to.equal(3_000n);
    const expired = oracleInterface.encodeEventLog(oracleInterface.getEvent("InferenceExpired")!, [42n, signer, 1n]);
    expect(() => fulfilmentFromLog(expired)).to.throw(/not an InferenceFulfilled log/);
  });
});
