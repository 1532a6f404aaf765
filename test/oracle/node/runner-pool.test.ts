import { expect } from "chai";
import * as path from "node:path";
import pino from "pino";
import { getAddress } from "ethers";
import { models, repoRoot, sampleInput } from "../enclave/helpers";
import type { DevEvidence } from "../../../oracle/src/enclave/backend";
import { RunnerUnavailableError } from "../../../oracle/src/enclave/errors";
import type { EnclaveHost } from "../../../oracle/src/enclave/host";
import { createDevPlatform } from "../../../oracle/src/enclave/platform";
import { createMetrics } from "../../../oracle/src/metrics";
import type { RegistrableRunner } from "../../../oracle/src/node/registrar";
import { RunnerPool, type Registrar } from "../../../oracle/src/node/runner-pool";
import { ResultStatus } from "../../../oracle/src/protocol";

const OPERATOR = getAddress("0x" + "0b".repeat(20));

/** The registrar without a chain (registrar.ts is exercised on one by the node's start tests): it registers what it is asked to, once `hold` lets it. */
class StandInRegistrar implements Registrar {
  readonly registered = new Map<number, string>();
  readonly closes: { retire?: boolean }[] = [];
  hold?: Promise<void>;
  async registerAll(runners: readonly RegistrableRunner[]): Promise<void> {
    await Promise.all(runners.map((r, i) => this.ensureRegistered(i, r)));
  }
  async ensureRegistered(index: number, runner: RegistrableRunner): Promise<void> {
    await this.hold;
    this.registered.set(index, runner.signer!);
  }
  forget(index: number): void {
    this.registered.delete(index);
  }
  serves(index: number, runner: RegistrableRunner): boolean {
    return runner.signer !== undefined && this.registered.get(index) === runner.signer;
  }
  signers(): string[] {
    return [...this.registered.values()];
  }
  async close(opts: { retire?: boolean } = {}): Promise<void> {
    this.closes.push(opts);
  }
}

describe("runner pool (node/runner-pool.ts): the node's runner processes", function () {
  this.timeout(120_000);

  it("starts N runners with their own signers; serves only registered ones, least busy first; a restarted runner waits for its new registration; closes twice", async () => {
    const registrar = new StandInRegistrar();
    const metrics = createMetrics({ defaultMetrics: false });
    const pool = await RunnerPool.launch({
      count: 2, platform: createDevPlatform(), operator: OPERATOR, chainId: 31337, oracle: "0x" + "5a".repeat(20),
      modelsDir: path.join(repoRoot, "models"), maxInputBytes: 65_536, maxBatchSize: 16, log: pino({ level: "silent" }),
    }, { registrar, metrics, log: pino({ level: "silent" }) });
    const hosts = pool.hosts as EnclaveHost[];
    const entry = models[0];
    const job = (id: bigint) => ({ requestId: id, modelHash: entry.sha256, input: sampleInput(entry) });
    try {
      const signers = hosts.map((h) => h.signer!);
      expect(new Set(signers).size).to.equal(2);
      expect(hosts.map((h) => (h.attestation() as DevEvidence).operator)).to.deep.equal([OPERATOR, OPERATOR]);
      expect(() => pool.acquire(), "nothing is registered yet").to.throw(RunnerUnavailableError);

      await pool.register();
      expect(pool.allRegistered()).to.equal(true);
      expect(pool.measurement()).to.equal(hosts[0].measurement!.measurement);
      const first = pool.acquire();
      const running = first.inferBatch([job(1n)]);
      const second = pool.acquire();
      expect([first.index, second.index], "the second batch goes to the runner that is not busy").to.deep.equal([0, 1]);
      const batches = await Promise.all([running, second.inferBatch([job(2n)])]);
      expect(batches.map((b) => b.signer)).to.deep.equal(signers);
      expect(batches.every((b) => b.results[0].status === ResultStatus.Ok)).to.equal(true);

      let release!: () => void;
      registrar.hold = new Promise<void>((resolve) => { release = resolve; });
      const restarted = new Promise<number>((resolve) => pool.once("restarted", resolve));
      process.kill(hosts[1].runnerPid!, "SIGKILL");
      expect(await restarted).to.equal(1);
      expect(hosts[1].signer).to.not.equal(signers[1]);
      expect(pool.allRegistered(), "the new signer is not registered yet").to.equal(false);
      const busy = pool.acquire().inferBatch([job(3n)]);
      expect(pool.acquire().index, "runner 1 does not serve before its new signer is registered").to.equal(0);
      await busy;
      expect((await metrics.runnerRestarts.get()).values[0].value).to.equal(1);

      release();
      while (!pool.allRegistered()) await new Promise((r) => setTimeout(r, 10));
      const zero = pool.acquire().inferBatch([job(4n)]);
      const one = pool.acquire();
      expect(one).to.include({ index: 1, signer: hosts[1].signer });
      const again = await one.inferBatch([job(99n)]);
      await zero;
      expect(again.signer).to.equal(hosts[1].signer);
      expect(again.results[0].status).to.equal(ResultStatus.Ok);
    } finally {
      await pool.close();
      await pool.close();
    }
    expect(registrar.closes, "signers retired once").to.deep.equal([{ retire: true }]);
    expect(hosts.map((h) => h.runnerPid)).to.deep.equal([undefined, undefined]);
  });
});
