/**
 * The operator's bond in the EnclaveRegistry: an operator below the registry's minimum bond has
 * no active signers (its results revert with OperatorBondsNotBonded), so the node checks its bond
 * before it registers runners and, if configured (ORACLE_BOND_WEI), tops it up. `oracle bond`
 * uses the same two functions.
 */
import { Contract, formatEther, type Provider } from "ethers";
import type { Logger } from "pino";
import type { Submitter } from "../chain/submitter";
import { PermanentError } from "../errors";
import { ENCLAVE_REGISTRY_ABI, registryInterface } from "../protocol/abi";


/** An operator's stake as the registry reports it. */
export interface BondStatus {
  operator: string;
  /** Wei that counts toward the minimum. */
  bonded: bigint;
  /** Wei leaving through the unbonding delay (still slashable). */
  unbonding: bigint;
  /** Unix time from which `unbonding` can be withdrawn (0 when nothing is unbonding). */
  withdrawableAt: number;
  /** The registry's minimum bond. */
  minBond: bigint;
  /** bonded >= minBond: the operator's signers can be active. */
  isBonded: boolean;
}

/** Reads `operator`'s bond and the registry's minimum. */
export async function readBond(provider: Provider, registry: string, operator: string): Promise<BondStatus> {
  const c = new Contract(registry, ENCLAVE_REGISTRY_ABI, provider);
  const [b, minBond] = await Promise.all([c.bondOf(operator), c.minBond()]);
  const bonded = BigInt(b.bonded);
  return {
    operator, bonded, unbonding: BigInt(b.unbonding), withdrawableAt: Number(b.withdrawableAt), minBond: BigInt(minBond),
    isBonded: bonded >= BigInt(minBond),
  };
}

/** The operator is below the minimum bond and the node was not allowed to bond enough. */
export class NotBondedError extends PermanentError {
  override name = "NotBondedError";
  constructor(readonly status: BondStatus, bondWei: bigint) {
    const missing = status.minBond - status.bonded;
    const [detail, advice] = bondWei === 0n
      ? [`operator ${status.operator} has ${formatEther(status.bonded)} ETH bonded, below the registry's minimum of ${formatEther(status.minBond)} ETH: `
        + "its enclave signers would not be accepted.", ` Bond at least ${missing} wei more with \`oracle bond ${missing}\`, or set ORACLE_BOND_WEI=${missing}`]
      : [`ORACLE_BOND_WEI=${bondWei} is not enough: operator ${status.operator} has ${status.bonded} wei bonded and the minimum is ${status.minBond} wei;`,
        ` set ORACLE_BOND_WEI to at least ${missing}`];
    // What to do is never cut from the one-line error (shortError keeps `advice` whole).
    super(detail, { reason: "not-bonded", advice });
  }
}

/**
 * Makes sure the operator (the submitter's first key) is bonded: returns at once if it is; else
 * bonds `bondWei` (a top-up) when that brings it to the minimum, or throws {@link NotBondedError}
 * saying how much is missing. Bonding is never automatic without `bondWei`: it moves the
 * operator's ether.
 */
export async function ensureBonded(deps: {
  provider: Provider; registry: string; submitter: Submitter; bondWei: bigint; log: Logger;
}): Promise<BondStatus> {
  const { provider, registry, submitter, bondWei, log } = deps;
  const before = await readBond(provider, registry, submitter.operator);
  if (before.isBonded) {
    log.info({ operator: before.operator, bonded: before.bonded.toString(), minBond: before.minBond.toString() }, "operator bonded");
    return before;
  }
  if (bondWei === 0n || before.bonded + bondWei < before.minBond) throw new NotBondedError(before, bondWei);
  const receipt = await bond(submitter, registry, bondWei);
  const after = await readBond(provider, registry, submitter.operator);
  log.info({ operator: after.operator, added: bondWei.toString(), bonded: after.bonded.toString(), tx: receipt.hash }, "operator bonded (ORACLE_BOND_WEI)");
  return after;
}

/** Sends `bond()` with `amount` wei from the operator key. */
export function bond(submitter: Submitter, registry: string, amount: bigint) {
  return submitter.sendFromOperator(registry, registryInterface.encodeFunctionData("bond"), amount);
}

/** Sends `unbond(amount)` from the operator key. */
export function unbond(submitter: Submitter, registry: string, amount: bigint) {
  return submitter.sendFromOperator(registry, registryInterface.encodeFunctionData("unbond", [amount]));
}

/** Sends `withdrawBond()` from the operator key. */
export function withdrawBond(submitter: Submitter, registry: string) {
  return submitter.sendFromOperator(registry, registryInterface.encodeFunctionData("withdrawBond"));
}
