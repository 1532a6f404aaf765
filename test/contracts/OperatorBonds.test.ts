/**
 * Operators' bonds in the EnclaveRegistry (contracts/OperatorBonds.sol): bonding, unbonding
 * through the delay, withdrawal, the owner's bounded settings, the bond check in `activeEnclave`
 * (a Sybil's unbonded addresses do not count toward k), and a seeded randomized run over bonds,
 * unbonding, slashing and withdrawals that checks the ether accounting after every step.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";
import { Contract, Wallet, parseEther } from "ethers";
import { deployContract } from "../../scripts/lib/deploy-contracts";
import {
  IRIS_OUTPUT, ResultStatus, type OracleFixture, deployOracleFixture, encodeTensor, registerEnclave, requestFrom, signBatch,
  signResult, singleEvidence,
} from "../helpers/fixtures";
import { SEED, rng } from "../helpers/rng";

const MIN_BOND = parseEther("1");
const DELAY = 7 * 24 * 3600;
const OTHER_OUTPUT = encodeTensor([1n, 2n, 3n]);

describe("OperatorBonds", () => {
  async function fixture() {
    const f = await loadFixture(deployOracleFixture);
    return { ...f, bonds: f.enclaveRegistry.connect(f.unbonded) as Contract };
  }

  /** Sends `fulfil` of `c` signed by `signer` from the relayer. */
  function fulfil(f: OracleFixture, signer: Wallet, c: Awaited<ReturnType<typeof requestFrom>>, output = IRIS_OUTPUT) {
    return (f.oracle.connect(f.relayer) as Contract).fulfil(c, output, ResultStatus.Ok, signResult(signer, f.domain, c, output));
  }

  describe("bonding", () => {
    it("starts from the deployment's minimum bond and delay, with the fixture's operators bonded", async () => {
      const f = await fixture();
      expect(await f.enclaveRegistry.minBond()).to.equal(MIN_BOND);
      expect(await f.enclaveRegistry.unbondingDelay()).to.equal(DELAY);
      expect(await f.enclaveRegistry.slasher()).to.equal(await f.slasher.getAddress());
      expect(await f.enclaveRegistry.isBonded(f.operatorA.address)).to.equal(true);
      expect(await f.enclaveRegistry.isBonded(f.unbonded.address)).to.equal(false);
    });

    it("adds a bond and top-ups, and says so in an event", async () => {
      const f = await fixture();
      await expect(f.bonds.bond({ value: parseEther("0.4") }))
        .to.emit(f.enclaveRegistry, "Bonded").withArgs(f.unbonded.address, f.unbonded.address, parseEther("0.4"), parseEther("0.4"));
      expect(await f.enclaveRegistry.isBonded(f.unbonded.address)).to.equal(false);
      await expect(f.bonds.bond({ value: parseEther("0.6") }))
        .to.emit(f.enclaveRegistry, "Bonded").withArgs(f.unbonded.address, f.unbonded.address, parseEther("0.6"), MIN_BOND);
      expect(await f.enclaveRegistry.isBonded(f.unbonded.address)).to.equal(true);
      const b = await f.enclaveRegistry.bondOf(f.unbonded.address);
      expect([b.bonded, b.unbonding, b.withdrawableAt]).to.deep.equal([MIN_BOND, 0n, 0n]);
    });

    it("lets anyone bond for an operator, which alone can take it out", async () => {
      const f = await fixture();
      await expect((f.enclaveRegistry.connect(f.stranger) as Contract).bondFor(f.unbonded.address, { value: MIN_BOND }))
        .to.emit(f.enclaveRegistry, "Bonded").withArgs(f.unbonded.address, f.stranger.address, MIN_BOND, MIN_BOND);
      expect(await f.enclaveRegistry.isBonded(f.unbonded.address)).to.equal(true);
      // The backer's own bond did not grow: it cannot unbond what it gave.
      expect((await f.enclaveRegistry.bondOf(f.stranger.address)).bonded).to.equal(MIN_BOND);
      await expect((f.enclaveRegistry.connect(f.stranger) as Contract).unbond(MIN_BOND + 1n))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsInsufficientBond").withArgs(f.stranger.address, MIN_BOND, MIN_BOND + 1n);
    });

    it("refuses a bond that would pass 2^96 - 1 wei (the packed bond word's width)", async () => {
      const f = await fixture();
      const max = (1n << 96n) - 1n;
      await ethers.provider.send("hardhat_setBalance", [f.unbonded.address, "0x" + (1n << 100n).toString(16)]);
      await f.bonds.bond({ value: max });
      await expect(f.bonds.bond({ value: 1n })).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsOverflow").withArgs(f.unbonded.address);
      await f.bonds.unbond(1n); // unbonding wei counts toward the width too
      await expect(f.bonds.bond({ value: 1n })).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsOverflow").withArgs(f.unbonded.address);
    });

    it("refuses a zero bond", async () => {
      const f = await fixture();
      await expect(f.bonds.bond()).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsZeroAmount");
      await expect(f.bonds.bondFor(f.operatorA.address)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsZeroAmount");
    });
  });

  describe("unbonding", () => {
    it("moves the amount to unbonding, withdrawable after the delay", async () => {
      const f = await fixture();
      const ops = f.enclaveRegistry.connect(f.operatorA) as Contract;
      const tx = await ops.unbond(parseEther("0.25"));
      const t = BigInt((await ethers.provider.getBlock(tx.blockNumber!))!.timestamp);
      const at = t + BigInt(DELAY);
      await expect(tx).to.emit(f.enclaveRegistry, "UnbondRequested").withArgs(f.operatorA.address, parseEther("0.25"), parseEther("0.25"), at);
      const b = await f.enclaveRegistry.bondOf(f.operatorA.address);
      expect([b.bonded, b.unbonding, b.withdrawableAt]).to.deep.equal([parseEther("0.75"), parseEther("0.25"), at]);
      await expect(ops.withdrawBond()).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsStillUnbonding")
        .withArgs(f.operatorA.address, at, t + 1n);
      await time.increaseTo(at);
      const withdrawal = await ops.withdrawBond();
      await expect(withdrawal).to.emit(f.enclaveRegistry, "BondWithdrawn").withArgs(f.operatorA.address, f.operatorA.address, parseEther("0.25"));
      await expect(withdrawal).to.changeEtherBalances([f.operatorA, f.enclaveRegistry], [parseEther("0.25"), -parseEther("0.25")]);
      await expect(ops.withdrawBond()).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNothingUnbonding").withArgs(f.operatorA.address);
    });

    it("restarts the delay for everything unbonding when more is unbonded", async () => {
      const f = await fixture();
      const ops = f.enclaveRegistry.connect(f.operatorA) as Contract;
      await ops.unbond(parseEther("0.1"));
      await time.increase(DELAY - 10);
      await ops.unbond(parseEther("0.1"));
      await time.increase(20);
      const b = await f.enclaveRegistry.bondOf(f.operatorA.address);
      expect(b.unbonding).to.equal(parseEther("0.2"));
      await expect(ops.withdrawBond()).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsStillUnbonding");
    });

    it("refuses a zero amount and more than is bonded", async () => {
      const f = await fixture();
      const ops = f.enclaveRegistry.connect(f.operatorA) as Contract;
      await expect(ops.unbond(0)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsZeroAmount");
      await expect(ops.unbond(MIN_BOND + 1n)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsInsufficientBond")
        .withArgs(f.operatorA.address, MIN_BOND, MIN_BOND + 1n);
    });

    it("reverts the withdrawal when the operator cannot receive ether, keeping the stake", async () => {
      const f = await fixture();
      const rejecting = await deployContract(f.deployer, "EthRejectingRequester");
      const op = await rejecting.getAddress();
      const registry = await f.enclaveRegistry.getAddress();
      await f.enclaveRegistry.bondFor(op, { value: MIN_BOND });
      await rejecting.call(registry, f.enclaveRegistry.interface.encodeFunctionData("unbond", [MIN_BOND]));
      await time.increase(DELAY);
      await expect(rejecting.call(registry, f.enclaveRegistry.interface.encodeFunctionData("withdrawBond")))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsTransferFailed").withArgs(op, MIN_BOND);
      expect((await f.enclaveRegistry.bondOf(op)).unbonding).to.equal(MIN_BOND);
    });
  });

  describe("the bond check", () => {
    it("keeps an unbonded operator's signer from fulfilling, with the bond and the minimum", async () => {
      const f = await fixture();
      const signer = await registerEnclave(f, f.unbonded);
      await expect(f.enclaveRegistry.activeEnclave(signer.address))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded").withArgs(f.unbonded.address, 0n, MIN_BOND);
      const c = await requestFrom(f, f.user);
      await expect(fulfil(f, signer, c))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded").withArgs(f.unbonded.address, 0n, MIN_BOND);
      await expect((f.oracle.connect(f.relayer) as Contract).fulfilBatch([{ request: c, output: IRIS_OUTPUT, status: 0 }], signBatch(signer, f.domain, [{ request: c, output: IRIS_OUTPUT, status: 0 }])))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded");
      await f.bonds.bond({ value: MIN_BOND });
      await expect(fulfil(f, signer, c)).to.emit(f.oracle, "InferenceFulfilled");
    });

    it("stops an operator's signers once it unbonds below the minimum, and when the owner raises it", async () => {
      const f = await fixture();
      const signer = await registerEnclave(f, f.operatorA);
      await (f.enclaveRegistry.connect(f.operatorA) as Contract).unbond(1n);
      await expect(f.enclaveRegistry.activeEnclave(signer.address))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded").withArgs(f.operatorA.address, MIN_BOND - 1n, MIN_BOND);
      await f.enclaveRegistry.setMinBond(MIN_BOND - 1n);
      expect((await f.enclaveRegistry.activeEnclave(signer.address))[0]).to.equal(f.operatorA.address);
      await f.enclaveRegistry.setMinBond(MIN_BOND);
      await expect(f.enclaveRegistry.activeEnclave(signer.address)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded");
    });

    it("drops the vote of an operator that unbonds below the minimum before the quorum (vote, then take the stake out)", async () => {
      const f = await fixture();
      const [a, b, c2] = [await registerEnclave(f, f.operatorA), await registerEnclave(f, f.operatorB), await registerEnclave(f, f.operatorC)];
      const c = await requestFrom(f, f.user, { redundancy: 2 });
      await fulfil(f, a, c);
      await (f.enclaveRegistry.connect(f.operatorA) as Contract).unbond(MIN_BOND);
      await expect(fulfil(f, b, c)).to.emit(f.oracle, "VoteDropped").withArgs(c.requestId, a.address);
      expect(await f.oracle.requestState(c.requestId)).to.equal(1n); // still pending: A no longer counts
      await expect(fulfil(f, c2, c)).to.emit(f.oracle, "InferenceFulfilled");
      expect(await f.oracle.balances(f.operatorA.address)).to.equal(0n);
    });

    it("checks the bond only once the epoch moved, and every fall of a serving operator's bond moves it", async () => {
      const f = await fixture();
      const a = await registerEnclave(f, f.operatorA);
      const b = await registerEnclave(f, f.operatorB);
      const epoch = await f.enclaveRegistry.revocationEpoch();
      // B unbonds part of a top-up and stays at the minimum: nothing moves.
      await (f.enclaveRegistry.connect(f.operatorB) as Contract).bond({ value: parseEther("0.5") });
      await (f.enclaveRegistry.connect(f.operatorB) as Contract).unbond(parseEther("0.5"));
      expect(await f.enclaveRegistry.revocationEpoch()).to.equal(epoch);
      // A falls below it: the epoch moves, so A's signer meets the full check and fails it ...
      await (f.enclaveRegistry.connect(f.operatorA) as Contract).unbond(1n);
      expect(await f.enclaveRegistry.revocationEpoch()).to.equal(epoch + 1n);
      await expect(fulfil(f, a, await requestFrom(f, f.user)))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded").withArgs(f.operatorA.address, MIN_BOND - 1n, MIN_BOND);
      await expect(f.enclaveRegistry.refreshSigner(a.address)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded");
      // ... while B's passes it, and a refresh (by anyone) puts B back on the one-read path.
      await expect(fulfil(f, b, await requestFrom(f, f.user))).to.emit(f.oracle, "InferenceFulfilled");
      const slow = await f.enclaveRegistry.activeEnclave.estimateGas(b.address);
      await (f.enclaveRegistry.connect(f.stranger) as Contract).refreshSigner(b.address);
      expect(await f.enclaveRegistry.activeEnclave.estimateGas(b.address)).to.be.lessThan(slow - 4_000n);
      // A slash moves it too: the slashed operator's other signers stop at once.
      const b2 = await registerEnclave(f, f.operatorB);
      const c = await requestFrom(f, f.user);
      await (f.slasher.connect(f.stranger) as Contract).proveEquivocation(singleEvidence(b, f.domain, c), singleEvidence(b, f.domain, c, OTHER_OUTPUT));
      expect(await f.enclaveRegistry.revocationEpoch()).to.equal(epoch + 2n);
      await expect(fulfil(f, b2, c)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded").withArgs(f.operatorB.address, 0n, MIN_BOND);
    });

    it("does not let an account that never served move the epoch (every signer's extra reads) by bonding and unbonding", async () => {
      const f = await fixture();
      const epoch = await f.enclaveRegistry.revocationEpoch();
      for (let i = 0; i < 3; i++) {
        await f.bonds.bond({ value: MIN_BOND });
        await f.bonds.unbond(MIN_BOND);
      }
      expect(await f.enclaveRegistry.revocationEpoch()).to.equal(epoch);
      // Raising the minimum may leave anyone short: it moves the epoch whoever serves.
      await f.enclaveRegistry.setMinBond(MIN_BOND + 1n);
      expect(await f.enclaveRegistry.revocationEpoch()).to.equal(epoch + 1n);
      await f.enclaveRegistry.setMinBond(MIN_BOND);
      expect(await f.enclaveRegistry.revocationEpoch()).to.equal(epoch + 1n); // lowering cannot stop a signer
    });

    it("keeps a signer registered before its operator bonded on the full check until a refresh finds the bond", async () => {
      const f = await fixture();
      const signer = await registerEnclave(f, f.unbonded);
      await expect(f.enclaveRegistry.refreshSigner(signer.address)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded");
      await f.bonds.bond({ value: MIN_BOND });
      expect((await f.enclaveRegistry.activeEnclave(signer.address))[0]).to.equal(f.unbonded.address);
      const slow = await f.enclaveRegistry.activeEnclave.estimateGas(signer.address);
      await f.enclaveRegistry.refreshSigner(signer.address);
      expect(await f.enclaveRegistry.activeEnclave.estimateGas(signer.address)).to.be.lessThan(slow - 4_000n);
      // Once it serves, its fall below the minimum stops the signer again.
      await f.bonds.unbond(1n);
      await expect(f.enclaveRegistry.activeEnclave(signer.address)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded");
    });

    it("does not count a Sybil's k unbonded addresses toward redundancy k", async () => {
      const f = await fixture();
      // The attacker: two addresses, two enclaves, no bond; both sign a made-up output for a k = 2 request.
      const second = Wallet.createRandom().connect(ethers.provider);
      await f.deployer.sendTransaction({ to: second.address, value: parseEther("1") });
      const sybils = [await registerEnclave(f, f.unbonded), await registerEnclave(f, second)];
      const c = await requestFrom(f, f.user, { redundancy: 2 });
      for (const s of sybils) {
        await expect(fulfil(f, s, c, OTHER_OUTPUT)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotBonded");
      }
      expect(await f.oracle.agreementCount(c.requestId, ethers.keccak256(OTHER_OUTPUT), 0)).to.equal(0n);
      // Two bonded operators settle it with the honest output.
      await fulfil(f, await registerEnclave(f, f.operatorA), c);
      await expect(fulfil(f, await registerEnclave(f, f.operatorB), c)).to.emit(f.oracle, "InferenceFulfilled");
    });
  });

  describe("owner settings", () => {
    it("sets the minimum bond within its hard bounds", async () => {
      const f = await fixture();
      await expect(f.enclaveRegistry.setMinBond(parseEther("2"))).to.emit(f.enclaveRegistry, "MinBondUpdated").withArgs(parseEther("2"));
      const floor = await f.enclaveRegistry.MIN_BOND_FLOOR();
      const ceiling = await f.enclaveRegistry.MIN_BOND_CEILING();
      expect([floor, ceiling]).to.deep.equal([parseEther("0.01"), parseEther("10000")]);
      await expect(f.enclaveRegistry.setMinBond(floor - 1n)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsMinBondOutOfBounds").withArgs(floor - 1n);
      await expect(f.enclaveRegistry.setMinBond(ceiling + 1n)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsMinBondOutOfBounds").withArgs(ceiling + 1n);
    });

    it("sets the unbonding delay within its hard bounds", async () => {
      const f = await fixture();
      await expect(f.enclaveRegistry.setUnbondingDelay(86_400)).to.emit(f.enclaveRegistry, "UnbondingDelayUpdated").withArgs(86_400);
      await expect(f.enclaveRegistry.setUnbondingDelay(86_399)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsUnbondingDelayOutOfBounds").withArgs(86_399);
      await expect(f.enclaveRegistry.setUnbondingDelay(90 * 86_400 + 1)).to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsUnbondingDelayOutOfBounds").withArgs(90 * 86_400 + 1);
    });

    it("lets only the owner change settings or the slasher", async () => {
      const f = await fixture();
      const s = f.enclaveRegistry.connect(f.stranger) as Contract;
      for (const call of [() => s.setMinBond(MIN_BOND), () => s.setUnbondingDelay(DELAY), () => s.setSlasher(f.stranger.address)]) {
        await expect(call()).to.be.revertedWithCustomError(f.enclaveRegistry, "OwnableUnauthorizedAccount").withArgs(f.stranger.address);
      }
      await expect(f.enclaveRegistry.setSlasher(f.stranger.address)).to.emit(f.enclaveRegistry, "SlasherUpdated").withArgs(f.stranger.address);
    });

    it("lets only the slasher slash (an operator cannot slash a rival directly)", async () => {
      const f = await fixture();
      const victim = await registerEnclave(f, f.operatorB);
      await expect((f.enclaveRegistry.connect(f.operatorA) as Contract).slash(victim.address, f.operatorA.address))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotSlasher").withArgs(f.operatorA.address);
      await expect(f.enclaveRegistry.slash(victim.address, f.deployer.address))
        .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsNotSlasher").withArgs(f.deployer.address);
    });
  });

  describe("randomized (FUZZ_SEED)", () => {
    it("holds ether == bonded + unbonding + credited rewards + burnt after every step of bonds, unbonds, slashes and withdrawals", async () => {
      const f = await fixture();
      const r = rng(SEED);
      const signers = await ethers.getSigners();
      const operators = signers.slice(8, 14);
      const registry = await f.enclaveRegistry.getAddress();
      // One reporter rejects ether, so its rewards are credited (and withdrawn later through the forwarder, which fails).
      const rejecting = await deployContract(f.deployer, "EthRejectingRequester");
      const model = new Map<string, { bonded: bigint; unbonding: bigint; at: bigint }>();
      const keyOf = new Map<string, Wallet>();
      for (const op of operators) {
        const b = await f.enclaveRegistry.bondOf(op.address);
        model.set(op.address, { bonded: b.bonded, unbonding: 0n, at: 0n });
      }
      let rewards = 0n;
      let burnt = 0n;
      let requestFor = await requestFrom(f, f.user);
      const check = async (step: string) => {
        let sum = rewards + burnt;
        for (const [addr, m] of model) {
          const b = await f.enclaveRegistry.bondOf(addr);
          expect([b.bonded, b.unbonding], `${step}: bond of ${addr}`).to.deep.equal([m.bonded, m.unbonding]);
          sum += m.bonded + m.unbonding;
        }
        // The 14 other bonded accounts of the fixture hold 1 ether each, untouched.
        const others = BigInt(signers.length - 1 - operators.length) * MIN_BOND;
        expect(await ethers.provider.getBalance(registry), `${step}: ether held`).to.equal(sum + others);
        expect(await f.enclaveRegistry.totalBurnt()).to.equal(burnt);
      };
      for (let step = 0; step < 60; step++) {
        const op = operators[r.int(operators.length)];
        const m = model.get(op.address)!;
        const reg = f.enclaveRegistry.connect(op) as Contract;
        const action = r.int(6);
        if (action === 0) {
          const v = BigInt(1 + r.int(1000)) * 10n ** 15n;
          await reg.bond({ value: v });
          m.bonded += v;
        } else if (action === 1 && m.bonded > 0n) {
          const v = 1n + BigInt(r.int(1000)) * m.bonded / 1000n;
          const amount = v > m.bonded ? m.bonded : v;
          await reg.unbond(amount);
          m.bonded -= amount;
          m.unbonding += amount;
          m.at = BigInt(await time.latest()) + BigInt(DELAY);
        } else if (action === 2) {
          const ready = m.unbonding > 0n && BigInt(await time.latest()) + 1n >= m.at;
          if (ready) {
            await reg.withdrawBond();
            m.unbonding = 0n;
          } else {
            await expect(reg.withdrawBond()).to.be.reverted;
          }
        } else if (action === 3) {
          await time.increase(r.int(2) === 0 ? 3600 : DELAY);
        } else if (action === 4) {
          // Equivocation by one of op's signers; the reporter is a random account or the ether-rejecting contract.
          let key = keyOf.get(op.address);
          if (!key) { key = await registerEnclave(f, op); keyOf.set(op.address, key); }
          const a = singleEvidence(key, f.domain, requestFor);
          const b = singleEvidence(key, f.domain, requestFor, OTHER_OUTPUT);
          const slashed = m.bonded + m.unbonding;
          const reward = slashed / 10n;
          if (r.int(2) === 0) {
            await (f.slasher.connect(f.stranger) as Contract).proveEquivocation(a, b);
          } else {
            await rejecting.call(await f.slasher.getAddress(), f.slasher.interface.encodeFunctionData("proveEquivocation", [a, b]));
            rewards += reward;
          }
          burnt += slashed - reward;
          m.bonded = 0n;
          m.unbonding = 0n;
          keyOf.delete(op.address);
          requestFor = await requestFrom(f, f.user);
        } else if (action === 5 && rewards > 0n) {
          await expect(rejecting.call(registry, f.enclaveRegistry.interface.encodeFunctionData("withdrawReward")))
            .to.be.revertedWithCustomError(f.enclaveRegistry, "OperatorBondsTransferFailed");
        }
        await check(`step ${step} (action ${action}, seed ${SEED})`);
      }
    });
  });
});
