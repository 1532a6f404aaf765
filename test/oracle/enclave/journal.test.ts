/**
 * The signature journal (oracle/src/enclave/journal.ts) and the enclave host's guard: one key
 * never releases two different results for one request, across a restart that restores the
 * sealed key, and a crash in the middle of a journal write does not break the next start.
 */
import { expect } from "chai";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { getAddress, keccak256, recoverAddress } from "ethers";
import { models, sampleInput } from "./helpers";
import { EnclaveHost } from "../../../oracle/src/enclave/host";
import { EquivocationRefusedError } from "../../../oracle/src/enclave/errors";
import { SignatureJournal, readJournalDir, readJournalFile, type JournaledResult } from "../../../oracle/src/enclave/journal";
import { createDevPlatform } from "../../../oracle/src/enclave/platform";
import { batchDigest, oracleDomain, resultDigest } from "../../../oracle/src/protocol";

const CHAIN_ID = 31337n;
const ORACLE = "0x" + "5a".repeat(20);
const SIGNER = getAddress("0x" + "51".repeat(20));
const h = (n: number) => "0x" + n.toString(16).padStart(64, "0");
const result = (requestId: number, output: number, status = 0, input = 1): JournaledResult =>
  ({ requestId: String(requestId), modelHash: h(100), inputHash: h(input), outputHash: h(output), status });

describe("signature journal", () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), "journal-")); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("finds a result that contradicts one signed for the same request, and only that", () => {
    const j = new SignatureJournal(SIGNER, dir);
    j.append({ signer: SIGNER, mode: "batch", signature: "0x01", results: [result(1, 10), result(2, 20)] });
    expect(j.conflicts([result(1, 10), result(2, 20), result(3, 30)]), "the same results again").to.deep.equal([]);
    expect(j.conflicts([result(1, 11)])).to.deep.equal([{ requestId: "1", signed: { outputHash: h(10), status: 0 }, attempted: { outputHash: h(11), status: 0 } }]);
    expect(j.conflicts([result(2, 20, 1)]).map((c) => c.requestId), "another status").to.deep.equal(["2"]);
    expect(j.conflicts([result(1, 99, 0, 2)]), "same id, another input (a reorg's new request)").to.deep.equal([]);
    expect(j.conflicts([result(4, 40), result(4, 41)]).map((c) => c.requestId), "two results for one request in one batch").to.deep.equal(["4"]);
  });

  it("survives a restart from its file, and a crash that tore the last line", () => {
    const j = new SignatureJournal(SIGNER, dir);
    j.append({ signer: SIGNER, mode: "single", signature: "0x02", results: [result(7, 70)] });
    const file = path.join(dir, `${SIGNER}.jsonl`);
    appendFileSync(file, '{"signer":"0x51'); // killed mid-write: that signature was never released
    const again = new SignatureJournal(SIGNER, dir);
    expect(again.conflicts([result(7, 71)]).map((c) => c.requestId)).to.deep.equal(["7"]);
    again.append({ signer: SIGNER, mode: "single", signature: "0x03", results: [result(8, 80)] });
    expect(readJournalFile(file).map((e) => e.signature)).to.deep.equal(["0x02", "0x03"]);
    expect(readJournalDir(dir)).to.have.length(2);
  });

  it("refuses to load a journal corrupted before its last line", () => {
    writeFileSync(path.join(dir, `${SIGNER}.jsonl`), "not json\n{}\n");
    expect(() => new SignatureJournal(SIGNER, dir)).to.throw(/line 1 is corrupt/);
  });
});

describe("enclave host: no equivocation across a sealed-key restart", function () {
  this.timeout(180_000);
  const platform = createDevPlatform();
  const entry = models.find((m) => m.name === "penguins-species-int") ?? models[0];
  const domain = oracleDomain(CHAIN_ID, ORACLE);
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(tmpdir(), "journal-host-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("journals every released signature before it leaves, and withholds one that contradicts an earlier one of the same key", async () => {
    const options = { platform, chainId: CHAIN_ID, oracleAddress: ORACLE, sealedKeyPath: path.join(dir, "sealed.json"), journalDir: path.join(dir, "signatures") };
    const job = { requestId: 41n, modelHash: entry.sha256, input: sampleInput(entry) };
    const first = await EnclaveHost.start(options);
    const signer = first.signer!;
    const single = await first.infer(job);
    const batch = await first.inferBatch([job, { ...job, requestId: 42n }]);
    await first.close();
    const journalFile = path.join(options.journalDir, `${signer}.jsonl`);
    const lines = readJournalFile(journalFile);
    expect(lines.map((l) => [l.mode, l.signature])).to.deep.equal([["single", single.signature], ["batch", batch.signature]]);
    expect(recoverAddress(resultDigest(domain, { ...single, requestId: 41n }), lines[0].signature)).to.equal(signer);
    expect(recoverAddress(batchDigest(domain, batch.results), lines[1].signature)).to.equal(signer);

    // Restart: the sealed key comes back, and with it the journal. The same result again is fine.
    const second = await EnclaveHost.start(options);
    try {
      expect(second.signer).to.equal(signer);
      expect((await second.infer(job)).outputHash).to.equal(single.outputHash);
      // Make the journal say this key once signed another output for request 41 (as a runner
      // with a nondeterministic model would have): the host must now withhold request 41.
      const forged = readFileSync(journalFile, "utf8").replaceAll(single.outputHash.slice(2), keccak256("0x01").slice(2));
      writeFileSync(journalFile, forged);
    } finally {
      await second.close();
    }
    const third = await EnclaveHost.start(options);
    try {
      const before = readJournalFile(journalFile).length;
      const err = await third.infer(job).catch((e) => e);
      expect(err).to.be.instanceOf(EquivocationRefusedError);
      expect(err.code).to.equal("EQUIVOCATION_REFUSED");
      expect(err.transient).to.equal(false);
      expect(err.message).to.contain(`signer ${signer} already signed a different result for request 41`);
      const batchErr = await third.inferBatch([{ ...job, requestId: 43n }, job]).catch((e) => e);
      expect(batchErr).to.be.instanceOf(EquivocationRefusedError);
      expect(readJournalFile(journalFile).length, "nothing journaled for the withheld signatures").to.equal(before);
      expect((await third.infer({ ...job, requestId: 43n })).requestId, "other requests still served").to.equal(43n);
    } finally {
      await third.close();
    }
  });
});
