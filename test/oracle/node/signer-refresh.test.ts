/**
 * The node keeps its enclave signers on the registry's cheap path: after the revocation epoch moves
 * (here: another serving operator unbonds below the minimum), it refreshes each of its signers once,
 * which takes the measurement, root and bond re-checks out of every later result; a signer the
 * registry refuses (its own operator's bond short) is named with the registry's reason, not retried
 * forever. Against a real Hardhat node with the deployment the demo uses.
 */
import { Writable } from "node:stream";
import { expect } from "chai";
import { Contract, Wallet, parseEther } from "ethers";
import pino from "pino";
import { devAccount } from "../../../oracle/src/dev/devchain";
import { measureRunner } from "../../../oracle/src/enclave/measure";
import { createMetrics } from "../../../oracle/src/metrics";
import { SignerRefresher } from "../../../oracle/src/node/signer-refresh";
import { REPO_ROOT } from "../../../oracle/src/paths";
import { ENCLAVE_REGISTRY_ABI, registryInterface } from "../../../oracle/src/protocol/abi";
import { useOperatorChain } from "../../e2e/lib";

const MIN_BOND = parseEther("1");

describe("node: refreshing its signers after the registry's revocation epoch moved (real Hardhat node)", function () {
  this.timeout(120_000);
  const lines: { msg: string; reason?: string; signer?: string }[] = [];
  const log = pino({ level: "info" }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
  const chain = useOperatorChain("signer-refresh", log);
  /** Gas of `activeEnclave(signer)`, asked of the node each time (ethers would answer a repeated estimate from its cache). */
  const activeEnclaveGas = async (signer: string) =>
    BigInt(await chain.provider.send("eth_estimateGas", [{ to: chain.registry, data: registryInterface.encodeFunctionData("activeEnclave", [signer]) }, "latest"]));

  /** Registers a fresh enclave signer for operator `i` with a development report of this checkout's runner. */
  async function registerSigner(i: number): Promise<string> {
    const wallet = Wallet.createRandom();
    const { measurement } = measureRunner({ repoRoot: REPO_ROOT });
    const now = (await chain.provider.getBlock("latest"))!.timestamp;
    const ev = chain.env.deployed.platform.signReport({ measurement, runtime: "0x" + "cd".repeat(32), signer: wallet.address, operator: devAccount(i).address }, now);
    await chain.submitterFor(i).sendFromOperator(chain.registry, registryInterface.encodeFunctionData("registerEnclave", [
      ev.report, [ev.reportSignature.r, ev.reportSignature.s], ev.certificate, [ev.certificateSignature.r, ev.certificateSignature.s], ev.rootId,
    ]));
    return wallet.address;
  }

  it("refreshes each of its signers once after a move, saving the re-check on every later result, and names a signer the registry refuses", async () => {
    const registry = new Contract(chain.registry, ENCLAVE_REGISTRY_ABI, chain.provider);
    const mine = [await registerSigner(1), await registerSigner(1)];
    const metrics = createMetrics({ defaultMetrics: false });
    const counted = async (outcome: string) => (await metrics.signerRefreshes.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    const refresher = new SignerRefresher({ provider: chain.provider, registry: chain.registry, submitter: chain.submitterFor(1), signers: () => mine, log, metrics, intervalMs: 3_600_000 });
    await refresher.start();
    try {
      expect(await refresher.check()).to.equal(0); // nothing moved
      const fast = await activeEnclaveGas(mine[0]);

      // Another serving operator leaves: its unbond below the minimum moves the epoch for everyone.
      await registerSigner(2);
      const epoch = await registry.revocationEpoch();
      await chain.submitterFor(2).sendFromOperator(chain.registry, registryInterface.encodeFunctionData("unbond", [MIN_BOND]));
      expect(await registry.revocationEpoch()).to.equal(epoch + 1n);
      const slow = await activeEnclaveGas(mine[0]);
      expect(slow - fast).to.be.greaterThan(4_000n);

      expect(await refresher.check()).to.equal(2);
      for (const signer of mine) expect(await activeEnclaveGas(signer)).to.be.lessThan(slow - 4_000n);
      expect(await refresher.check()).to.equal(0); // once per move
      expect(await counted("refreshed")).to.equal(2);

      // Its own operator's bond falls short: nothing to refresh, and the warning says why.
      await chain.submitterFor(1).sendFromOperator(chain.registry, registryInterface.encodeFunctionData("unbond", [1n]));
      expect(await refresher.check()).to.equal(0);
      const refused = lines.filter((l) => l.msg.startsWith("the registry refuses to refresh"));
      expect(refused.map((l) => l.signer)).to.deep.equal(mine);
      expect(refused[0].reason).to.match(/^OperatorBondsNotBonded\(0x[0-9a-fA-F]{40}, \d+, 1000000000000000000\)$/);
      expect(await refresher.check()).to.equal(0); // refused once, not again and again
      expect(lines.filter((l) => l.msg.startsWith("the registry refuses to refresh")).length).to.equal(2);
      expect(await counted("refused")).to.equal(2);
    } finally {
      refresher.stop();
    }
  });
});
