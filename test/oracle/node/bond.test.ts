/**
 * The node's bond handling against a real Hardhat node: it refuses to start registering runners
 * for an operator below the minimum bond unless ORACLE_BOND_WEI lets it bond enough, and
 * `oracle bond` shows, adds, unbonds and withdraws the operator's stake.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { parseEther } from "ethers";
import { createLogger } from "../../../oracle/src/log";
import { NotBondedError, ensureBonded, readBond } from "../../../oracle/src/node/bond";
import { devAccount } from "../../../oracle/src/dev/devchain";
import { REPO_ROOT } from "../../../oracle/src/paths";
import { useOperatorChain } from "../../e2e/lib";

const run = promisify(execFile);
const MIN_BOND = parseEther("1");

describe("node: operator bond (real Hardhat node)", function () {
  this.timeout(60_000);
  const log = createLogger({ level: "silent" });
  const chain = useOperatorChain("bond", log);

  it("deploys with the development operators bonded and names the slasher in the deployment file", async () => {
    expect((await readBond(chain.provider, chain.registry, devAccount(1).address)).isBonded).to.equal(true);
    expect((await readBond(chain.provider, chain.registry, devAccount(12).address)).isBonded).to.equal(false);
    expect(chain.env.deployed.deployment.contracts.EquivocationSlasher).to.match(/^0x[0-9a-fA-F]{40}$/);
  });

  it("refuses an unbonded operator without ORACLE_BOND_WEI, saying how much is missing and how to bond it", async () => {
    const submitter = chain.submitterFor(12);
    const err = await ensureBonded({ provider: chain.provider, registry: chain.registry, submitter, bondWei: 0n, log }).catch((e) => e);
    expect(err).to.be.instanceOf(NotBondedError);
    expect(err.message).to.contain(devAccount(12).address).and.to.contain(`oracle bond ${MIN_BOND}`).and.to.contain(`ORACLE_BOND_WEI=${MIN_BOND}`);
    const short = await ensureBonded({ provider: chain.provider, registry: chain.registry, submitter, bondWei: MIN_BOND - 1n, log }).catch((e) => e);
    expect(short.message).to.contain(`ORACLE_BOND_WEI=${MIN_BOND - 1n} is not enough`);
    expect((await readBond(chain.provider, chain.registry, devAccount(12).address)).bonded).to.equal(0n);
  });

  it("bonds ORACLE_BOND_WEI when short, and nothing more once bonded", async () => {
    const submitter = chain.submitterFor(13);
    const status = await ensureBonded({ provider: chain.provider, registry: chain.registry, submitter, bondWei: MIN_BOND, log });
    expect([status.bonded, status.isBonded]).to.deep.equal([MIN_BOND, true]);
    await ensureBonded({ provider: chain.provider, registry: chain.registry, submitter, bondWei: MIN_BOND, log });
    expect((await readBond(chain.provider, chain.registry, devAccount(13).address)).bonded).to.equal(MIN_BOND);
  });

  it("`oracle bond` shows the stake, bonds, and unbonds; a bad amount is refused with what to fix", async () => {
    const cli = (args: string[]) => run(path.join(REPO_ROOT, "bin/oracle"), ["bond", ...args], {
      cwd: REPO_ROOT, env: { ...process.env, RPC_URL: chain.env.chain.url, ORACLE_PRIVATE_KEY: devAccount(14).privateKey, ORACLE_DEPLOYMENT_FILE: chain.env.deployed.deploymentFile },
    });
    const shown = JSON.parse((await cli([])).stdout);
    expect(shown).to.include({ operator: devAccount(14).address, bonded: "0", isBonded: false, minBond: MIN_BOND.toString() });
    const bonded = JSON.parse((await cli([(MIN_BOND * 2n).toString(), "--unbond", MIN_BOND.toString()])).stdout);
    expect(bonded).to.include({ bonded: MIN_BOND.toString(), unbonding: MIN_BOND.toString(), isBonded: true });
    expect(bonded.txs).to.have.length(2);
    expect(bonded.withdrawableAt).to.be.a("string");
    const bad = await cli(["1.5"]).catch((e) => e);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('must be a positive integer of wei, got "1.5"');
  });
});
