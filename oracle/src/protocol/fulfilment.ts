/**
 * `InferenceFulfilled`: the one log a final request leaves (the result, who made it final, the
 * callback's outcome and the refund). The oracle logs only what cannot be derived, to keep
 * `fulfil` under 70k gas; this module derives the rest the same way for every reader (node, auditor,
 * client, console): the output hash is keccak256(output), and the gas reimbursed to the operators is
 * the request's gasPrepayment minus what came back to the requester.
 */
import { fromHex, keccak256Hex } from "./bytes";

/** The event's arguments as ethers decodes them (a `Result` read by name works too). */
export interface InferenceFulfilledArgs {
  requestId: bigint;
  signer: string;
  status: bigint | number;
  callbackSuccess: boolean;
  callbackGasUsed: bigint;
  gasRefunded: bigint;
  output: string;
}

export interface Fulfilment {
  requestId: bigint;
  /** The enclave signer whose submission made the request final (redundancy 1: the only one). */
  signer: string;
  status: number;
  /** 0x-hex output bytes (empty for a failure status). */
  output: string;
  /** keccak256(output): what the enclave signed. */
  outputHash: string;
  /** false with callbackGasUsed 0 when no callback was asked for or the requester has no code. */
  callbackSuccess: boolean;
  callbackGasUsed: bigint;
  /** Wei of the gas prepayment credited back to the requester. */
  gasRefunded: bigint;
}

export function fulfilmentFromEvent(a: InferenceFulfilledArgs): Fulfilment {
  const output = String(a.output);
  return {
    requestId: BigInt(a.requestId), signer: a.signer, status: Number(a.status), output, outputHash: keccak256Hex(fromHex(output)),
    callbackSuccess: Boolean(a.callbackSuccess), callbackGasUsed: BigInt(a.callbackGasUsed), gasRefunded: BigInt(a.gasRefunded),
  };
}

/** Wei of the prepayment that reimbursed the agreeing operators' gas. */
export function gasReimbursed(gasPrepayment: bigint, f: Pick<Fulfilment, "gasRefunded">): bigint {
  return gasPrepayment - f.gasRefunded;
}
