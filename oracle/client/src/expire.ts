/** Expiring a request after its deadline (anyone may), and withdrawing a balance. */
import type { TransactionReceipt } from "ethers";
import { commitmentTuple, requestFromLog } from "../../src/protocol/request";
import type { OracleClient } from "./client";
import { OracleClientError, UnknownRequestError, withContractErrors } from "./errors";
import { requestLogs } from "./wait";

function eventArg(client: OracleClient, receipt: TransactionReceipt, event: string, arg: string): bigint {
  for (const log of receipt.logs) {
    const ev = log.address.toLowerCase() === String(client.oracle.target).toLowerCase() ? client.oracle.interface.parseLog(log) : null;
    if (ev?.name === event) return ev.args[arg] as bigint;
  }
  throw new OracleClientError(`no ${event} event in transaction ${receipt.hash}`);
}

/**
 * Expires a pending request whose deadline has passed; the fee and the unused gas prepayment go
 * back to the requester. Returns the refund. A request not yet past its deadline reverts with
 * `InferenceOracleDeadlineNotReached` (an `OracleContractError`).
 */
export async function expireRequest(client: OracleClient, requestId: bigint | number): Promise<{ refund: bigint; transactionHash: string }> {
  const id = BigInt(requestId);
  const [log] = await requestLogs(client, "InferenceRequested", id);
  if (!log) throw new UnknownRequestError(id);
  const receipt = await withContractErrors(async () => (await (await client.oracle.expire(commitmentTuple(requestFromLog(log)))).wait()) as TransactionReceipt);
  return { refund: eventArg(client, receipt, "InferenceExpired", "refund"), transactionHash: receipt.hash };
}

/** The withdrawable balance of an account (an operator's fees, a publisher's share, refunds it rejected). */
export async function balanceOf(client: OracleClient, account: string): Promise<bigint> {
  return withContractErrors(() => client.oracle.balances(account) as Promise<bigint>);
}

/**
 * Withdraws the signer's whole balance (to `recipient` if given). Returns the amount; an empty
 * balance reverts with `InferenceOracleNothingToWithdraw`.
 */
export async function withdraw(client: OracleClient, recipient?: string): Promise<{ amount: bigint; transactionHash: string }> {
  const receipt = await withContractErrors(async () => {
    const tx = recipient ? await client.oracle.withdrawTo(recipient) : await client.oracle.withdraw();
    return (await tx.wait()) as TransactionReceipt;
  });
  return { amount: eventArg(client, receipt, "Withdrawn", "amount"), transactionHash: receipt.hash };
}
