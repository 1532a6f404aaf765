/**
 * The one request record (protocol/request.ts): read from an `InferenceRequested` log by one
 * function, equal to what ethers decodes, its commitment hash the one the oracle stores, and the
 * queue's JSON job a lossless round trip of it.
 */
import { expect } from "chai";
import { AbiCoder, Wallet, getAddress, hexlify, keccak256, randomBytes } from "ethers";
import { COMMITMENT_TUPLE, oracleInterface } from "../../../oracle/src/protocol/abi";
import { commitmentOf, commitmentTuple, requestFromLog, requestInLogs, type InferenceRequest } from "../../../oracle/src/protocol/request";
import { jobOf, requestOf } from "../../../oracle/src/queue/types";

const rnd = (n: number) => hexlify(randomBytes(n));
const REQUESTED = oracleInterface.getEvent("InferenceRequested")!;
const ORACLE = "0x" + "ab".repeat(20);

/** A raw JSON-RPC log of an InferenceRequested event with these values (block number as hex). */
function requestedLog(input: string, over: { requestId?: bigint; address?: string } = {}) {
  const requester = Wallet.createRandom().address;
  const values = [over.requestId ?? 2n ** 200n + 5n, 42n, requester, rnd(32), input, 10n ** 15n, 3n * 10n ** 14n, 2n * 10n ** 9n, 250_000, 1_900_000_000n, 3];
  const enc = oracleInterface.encodeEventLog(REQUESTED, values);
  return {
    address: over.address ?? ORACLE, topics: enc.topics, data: enc.data, blockNumber: "0x10", blockHash: rnd(32), transactionHash: rnd(32), logIndex: "0x0",
  };
}

describe("the request record", () => {
  it("is read from a raw log field for field as ethers decodes it, with where the event is", () => {
    const input = AbiCoder.defaultAbiCoder().encode(["int256[]"], [[1n, -2n, 3n]]);
    const log = requestedLog(input);
    const r = requestFromLog(log);
    const a = oracleInterface.parseLog(log)!.args;
    expect([r.requestId, r.modelId, r.requester, r.modelHash, r.input, r.fee, r.gasPrepayment, r.maxGasPrice, r.callbackGasLimit, r.deadline, r.redundancy])
      .to.deep.equal([a.requestId, a.modelId, a.requester, a.modelHash, a.input, a.fee, a.gasPrepayment, a.maxGasPrice, a.callbackGasLimit, a.deadline, a.redundancy]);
    expect(r.inputHash).to.equal(keccak256(input));
    expect(r.event).to.deep.equal({ blockNumber: 16, blockHash: log.blockHash, txHash: log.transactionHash });
  });

  it("carries the hash the oracle stores for it: keccak256 of the ABI-encoded commitment", () => {
    const r = requestFromLog(requestedLog(rnd(40)));
    expect(r.commitmentHash).to.equal(keccak256(AbiCoder.defaultAbiCoder().encode([COMMITMENT_TUPLE], [commitmentTuple(r)])));
  });

  it("reads an input of odd length (packed int8 values) by its length word, not in 32-byte words", () => {
    expect(requestFromLog(requestedLog("0x01ff7f80e0")).input).to.equal("0x01ff7f80e0");
  });

  it("refuses a log that is not an InferenceRequested, and one whose input runs past the data", () => {
    const other = requestedLog("0x");
    expect(() => requestFromLog({ ...other, topics: [keccak256("0x01"), ...other.topics.slice(1)] })).to.throw("not an InferenceRequested log");
    const log = requestedLog("0x" + "ab".repeat(64));
    expect(() => requestFromLog({ ...log, data: log.data.slice(0, -64) })).to.throw(RangeError);
  });

  it("is found among a receipt's logs, from the oracle named when one is", () => {
    const other = requestedLog("0x01", { requestId: 1n, address: "0x" + "22".repeat(20) });
    const mine = requestedLog("0x02", { requestId: 2n });
    expect(requestInLogs([other, mine], getAddress(ORACLE))?.requestId).to.equal(2n);
    expect(requestInLogs([other, mine])?.requestId).to.equal(1n);
    expect(requestInLogs([], ORACLE)).to.equal(undefined);
  });

  it("goes through the queue as JSON and comes back the same record", () => {
    const r = requestFromLog(requestedLog(rnd(33)));
    const job = JSON.parse(JSON.stringify(jobOf(r, { chainId: 31337, oracle: ORACLE, seenAt: 123 })));
    expect(job.requestId).to.equal(r.requestId.toString());
    const back: InferenceRequest = requestOf(job);
    expect(back).to.deep.equal(r);
    expect(commitmentOf(back)).to.not.have.property("input");
  });
});
