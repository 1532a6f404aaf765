import { expect } from "chai";
import * as path from "node:path";
import pino from "pino";
import { getAddress } from "ethers";
import { models, repoRoot, sampleInput } from "../enclave/helpers";
import type { DevEvidence } from "../../../oracle/src/enclave/backend";
import { createDevPlatform } from "../../../oracle/src/enclave/platform";
import { EnclaveRunners } from "../../../oracle/src/node/enclave-source";
import { ResultStatus } from "../../../oracle/src/protocol";

const OPERATOR = getAddress("0x" + "0b".repeat(20));

describe("enclave runners (node/enclave-source.ts): the node's runner processes", function () {
  this.timeout(120_000);

  it("starts N runners, each with its own signer and report naming the operator; re-emits a restart with the runner's index; closes twice", async () => {
    const runners = await EnclaveRunners.start({
      count: 2, platform: createDevPlatform(), operator: OPERATOR, chainId: 31337, oracle: "0x" + "5a".repeat(20),
      modelsDir: path.join(repoRoot, "models"), maxInputBytes: 65_536, maxBatchSize: 16, log: pino({ level: "silent" }),
    });
    try {
      const handles = runners.runners();
      const signers = handles.map((h) => h.signer());
      expect(new Set(signers).size).to.equal(2);
      expect(handles.map((h) => h.evidence().signer)).to.deep.equal(signers);
      expect(runners.enclaveHosts.map((h) => (h.attestation() as DevEvidence).operator)).to.deep.equal([OPERATOR, OPERATOR]);
      const entry = models[0];
      const batches = await Promise.all(handles.map((h, i) => h.inferBatch([{ requestId: BigInt(i + 1), modelHash: entry.sha256, input: sampleInput(entry) }])));
      expect(batches.map((b) => b.signer)).to.deep.equal(signers);
      expect(batches.every((b) => b.results[0].status === ResultStatus.Ok)).to.equal(true);
      const restarted = new Promise<number>((resolve) => runners.once("restarted", resolve));
      process.kill(runners.enclaveHosts[1].runnerPid!, "SIGKILL");
      expect(await restarted).to.equal(1);
      expect(handles[1].signer()).to.not.equal(signers[1]);
      const again = await handles[1].inferBatch([{ requestId: 99n, modelHash: entry.sha256, input: sampleInput(entry) }]);
      expect(again.signer).to.equal(handles[1].signer());
      expect(again.results[0].status).to.equal(ResultStatus.Ok);
    } finally {
      await runners.close();
      await runners.close();
    }
  });
});
