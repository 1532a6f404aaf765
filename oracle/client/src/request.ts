/** Quotes and requests from an EOA (no callback). */
import type { TransactionReceipt } from "ethers";
import { commitmentOf, optionsTuple, readQuote, requestInLogs, suggestedMaxGasPrice, type QuoteParts, type RequestCommitment } from "../../src/protocol/request";
import type { OracleClient } from "./client";
import { InvalidInputError, OracleClientError, withContractErrors } from "./errors";
import { getModel, type ModelInfo } from "./models";
import { encodeInput } from "./tensor";

/** `IInferenceOracle.RequestOptions`. */
export interface RequestOptions {
  /** Gas the callback gets; 0 for no callback (an EOA requester). */
  callbackGasLimit: number;
  /** Unix time after which the request can only be expired. */
  deadline: bigint;
  /** Number of agreeing enclaves of distinct operators (k). */
  redundancy: number;
  /** Most the requester pays in fees (model fee × k); the request reverts if the fee is higher. */
  maxFee: bigint;
  /** Gas price (wei) the gas prepayment is computed at, and the cap on reimbursement. */
  maxGasPrice: bigint;
}

/** Options a caller gives; every field has a default (see {@link resolveOptions}). */
export type RequestOptionsInput = Partial<RequestOptions> & {
  /** Deadline as seconds from the latest block (default 3600), when `deadline` is not given. */
  deadlineIn?: number;
};

/** `quoteParts`: what a request costs, and what to send (`total`). */
export type Quote = QuoteParts;

/**
 * Fills in the defaults: no callback, deadline one hour after the latest block, redundancy 1,
 * maxGasPrice twice the provider's current max fee per gas ({@link suggestedMaxGasPrice}), maxFee the model's current fee × k.
 */
export async function resolveOptions(client: OracleClient, model: ModelInfo, input: RequestOptionsInput = {}): Promise<RequestOptions> {
  const redundancy = input.redundancy ?? 1;
  let deadline = input.deadline;
  if (deadline === undefined) {
    const block = await client.provider.getBlock("latest");
    deadline = BigInt((block?.timestamp ?? Math.floor(Date.now() / 1000)) + (input.deadlineIn ?? 3600));
  }
  return {
    callbackGasLimit: input.callbackGasLimit ?? 0,
    deadline,
    redundancy,
    maxFee: input.maxFee ?? model.fee * BigInt(redundancy),
    maxGasPrice: input.maxGasPrice ?? (await suggestedMaxGasPrice(client.provider)),
  };
}

/** What a request with these options costs now, in parts. */
export async function quote(client: OracleClient, modelId: bigint | number, options: RequestOptions): Promise<Quote> {
  return withContractErrors(() => readQuote(client.oracle, modelId, options));
}

export interface SentRequest {
  requestId: bigint;
  /** The commitment the oracle stored (rebuilt from the `InferenceRequested` event). */
  commitment: RequestCommitment;
  /** The input bytes as sent. */
  input: string;
  options: RequestOptions;
  /** What was sent (the quote's total). */
  paid: bigint;
  transactionHash: string;
  blockNumber: number;
}

/** Finds and decodes the `InferenceRequested` event in a receipt. */
export function requestFromReceipt(client: OracleClient, receipt: TransactionReceipt): { requestId: bigint; commitment: RequestCommitment; input: string } {
  const request = requestInLogs(receipt.logs, client.oracle.target.toString());
  if (!request) throw new OracleClientError(`no InferenceRequested event in transaction ${receipt.hash}`);
  return { requestId: request.requestId, commitment: commitmentOf(request), input: request.input };
}

/**
 * Requests an inference from the client's signer, paying the quote's total (the excess over what
 * the oracle keeps is refunded at once). `input` is the values (fixed point with the model's
 * decimals, encoded in the model's input encoding here) or the encoded bytes as hex.
 * Checks the input length before sending; a revert arrives as an `OracleContractError`.
 */
export async function requestInference(
  client: OracleClient, modelId: bigint | number, input: readonly bigint[] | string, options: RequestOptionsInput = {},
): Promise<SentRequest> {
  const model = await getModel(client, modelId);
  if (typeof input !== "string" && input.length !== model.inputLength) {
    throw new InvalidInputError(`model ${model.modelId} takes ${model.inputLength} values, got ${input.length}`);
  }
  const bytes = typeof input === "string" ? input : encodeInput(input, model.inputEncoding);
  const opts = await resolveOptions(client, model, options);
  const { total } = await quote(client, model.modelId, opts);
  const receipt = await withContractErrors(async () => {
    const tx = await client.oracle.requestInference(model.modelId, bytes, optionsTuple(opts), { value: total });
    return (await tx.wait()) as TransactionReceipt;
  });
  const found = requestFromReceipt(client, receipt);
  return { ...found, options: opts, paid: total, transactionHash: receipt.hash, blockNumber: receipt.blockNumber };
}

