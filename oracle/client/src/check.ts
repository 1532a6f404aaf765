/**
 * The light half of `oracle audit verify-result`: checks a final result from the chain alone,
 * without re-running the model or measuring the runner.
 *
 *   request    the `InferenceRequested` event: commitment, input, keccak256(input) = inputHash
 *   model      the commitment's modelHash is the registry's hash of that model
 *   fulfilment the request's one `InferenceFulfilled` (its output, status and the signer that
 *              made it final)
 *   signature  per agreeing submission — redundancy 1: the fulfilment's signer; otherwise each
 *              `ResultSubmitted` with the final output and status not dropped by a `VoteDropped`
 *              (its signer went inactive before the quorum) — the `fulfil` /
 *              `fulfilBatch` calldata carries the request's commitment and this output, and the
 *              EIP-712 digest rebuilt from it recovers to the signer the oracle emitted
 *   signer     that signer is an active registered enclave now, of the operator that was paid,
 *              with a measurement the model allows
 *   quorum     at least `redundancy` such signers of distinct operators
 */
import { getAddress, recoverAddress, type TransactionResponse } from "ethers";
import { oracleDomain } from "../../src/protocol/eip712";
import { decodeFulfilCall, fulfilCallDigest, fulfilmentFromLog } from "../../src/protocol/fulfilment";
import { commitmentHash, commitmentOf, requestFromLog, type RequestCommitment } from "../../src/protocol/request";
import type { OracleClient } from "./client";
import { OracleClientError, toClientError } from "./errors";
import { requestLogs, requestState } from "./wait";

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ResultCheck {
  /** True when every check passed. */
  valid: boolean;
  checks: Check[];
  requestId: bigint;
  commitment?: RequestCommitment;
  input?: string;
  output?: string;
  status?: number;
  /** The signers whose signatures were verified. */
  signers: string[];
}

interface Submission {
  signer: string;
  operator: string;
  outputHash: string;
  status: number;
  transactionHash: string;
}

/** Checks a fulfilled request's result offline (signatures, registered signers, bindings). */
export async function checkResult(client: OracleClient, requestId: bigint | number): Promise<ResultCheck> {
  const id = BigInt(requestId);
  const report: ResultCheck = { valid: false, checks: [], requestId: id, signers: [] };
  const check = (name: string, ok: boolean, detail: string) => { report.checks.push({ name, ok, detail }); return ok; };
  const state = await requestState(client, id);
  if (!check("request fulfilled", state === "Fulfilled", `state ${state}`)) return report;

  const [reqLog] = await requestLogs(client, "InferenceRequested", id);
  if (!check("request event found", reqLog !== undefined, reqLog ? `block ${reqLog.blockNumber}` : "no InferenceRequested event from the client's fromBlock")) return report;
  const request = requestFromLog(reqLog);
  const commitment = commitmentOf(request);
  report.commitment = commitment;
  report.input = request.input;

  const model = await client.modelRegistry.getModel(commitment.modelId).catch((err: unknown) => { throw toClientError(err); });
  if (!check("model hash bound", model.modelHash === commitment.modelHash, `request ${commitment.modelHash}, registry ${model.modelHash}`)) return report;

  const [fulLog] = await requestLogs(client, "InferenceFulfilled", id);
  if (!check("fulfilment event found", fulLog !== undefined, fulLog ? `block ${fulLog.blockNumber}` : "no InferenceFulfilled event from the client's fromBlock")) return report;
  const ful = fulfilmentFromLog(fulLog);
  report.output = ful.output;
  report.status = ful.status;

  // Redundancy 1: the one submission is the fulfilment itself, paid to the operator the registry
  // binds its signer to. Otherwise every vote is a ResultSubmitted; a vote whose signer became
  // inactive before the quorum was dropped (`VoteDropped`) and did not count.
  const k = Number(commitment.redundancy);
  let subs: Submission[];
  if (k === 1) {
    // Read now: a signer is bound to its first operator for good, so no archive state is needed.
    const record = await client.enclaveRegistry.getEnclave(ful.signer) as { operator: string };
    subs = [{ signer: ful.signer, operator: record.operator, outputHash: ful.outputHash, status: ful.status, transactionHash: fulLog.transactionHash }];
  } else {
    const dropped = new Set((await requestLogs(client, "VoteDropped", id)).map((l) => getAddress(client.oracle.interface.parseLog(l)!.args.signer)));
    subs = (await requestLogs(client, "ResultSubmitted", id)).map((l) => {
      const a = client.oracle.interface.parseLog(l)!.args;
      return { signer: a.signer, operator: a.operator, outputHash: a.outputHash, status: Number(a.status), transactionHash: l.transactionHash };
    }).filter((s) => s.outputHash === ful.outputHash && s.status === report.status && !dropped.has(getAddress(s.signer)));
  }

  const domain = oracleDomain(client.chainId, client.oracle.target as string);
  const operators = new Set<string>();
  for (const s of subs) {
    const tx = await client.provider.getTransaction(s.transactionHash);
    const recovered = tx ? recoverFromCalldata(client, tx, commitment, report.output, domain) : "transaction not found";
    if (!check(`signature of ${s.signer}`, recovered === getAddress(s.signer), recovered)) return report;
    const enclave = await client.enclaveRegistry.activeEnclave(s.signer).then(
      (r: { operator: string; measurement: string }) => r, (err: unknown) => toClientError(err));
    if (enclave instanceof Error) { check(`signer ${s.signer} active`, false, enclave.message); return report; }
    if (!check(`signer ${s.signer} active`, getAddress(enclave.operator) === getAddress(s.operator), `operator ${enclave.operator}`)) return report;
    const allowed = (await client.modelRegistry.isMeasurementAllowed(commitment.modelId, enclave.measurement)) as boolean;
    if (!check(`measurement of ${s.signer} allowed for the model`, allowed, enclave.measurement)) return report;
    report.signers.push(getAddress(s.signer));
    operators.add(getAddress(s.operator));
  }
  if (!check("quorum", operators.size >= k, `${operators.size} verified operator(s), redundancy ${k}`)) return report;
  report.valid = true;
  return report;
}

/**
 * The signer recovered from a `fulfil` / `fulfilBatch` transaction sent straight to the oracle,
 * after checking it carries this request's commitment and output; else a sentence saying why not.
 */
function recoverFromCalldata(
  client: OracleClient, tx: TransactionResponse, commitment: RequestCommitment, output: string, domain: ReturnType<typeof oracleDomain>,
): string {
  if (tx.to === null || getAddress(tx.to) !== getAddress(client.oracle.target as string)) return "submitted through another contract: calldata not checked offline";
  const call = decodeFulfilCall(tx.data);
  if (!call) throw new OracleClientError(`transaction ${tx.hash} is neither fulfil nor fulfilBatch`);
  const want = commitmentHash(commitment);
  const mine = call.items.find((it) => commitmentHash(it.request) === want);
  if (!mine || mine.output !== output) return call.batch ? "batch has no item for this request and output" : "calldata is for another request or output";
  return recoverAddress(fulfilCallDigest(domain, call), call.signature);
}
