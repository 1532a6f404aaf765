/**
 * The gas a `fulfilBatch` transaction may need, in one place: the submitter's gas limit is
 * {@link batchGasBound} of the batch it sends, and the pipeline sizes batches with
 * {@link itemGasPlan}, an upper bound of one item's share, so that every batch it forms fits
 * under the chain's per-transaction gas cap (EIP-7825: 2^24 on osaka) and the block gas limit.
 */

/** Gas the oracle spends per item outside the callback (verification, storage, events). */
const PER_ITEM_OVERHEAD = 40_000n;
/** Gas of a batch apart from its items (signature recovery, the registry lookup), and the 21,000 of any transaction. */
export const BATCH_OVERHEAD = 60_000n + 21_000n;
/** Calldata of a batch apart from its items (selector, heads, a 65-byte signature), bytes. */
const BATCH_CALLDATA = 4 + 4 * 32 + 96;
/** Calldata of one item apart from its output (offset, commitment of up to 11 words, output head, status), bytes: an upper bound. */
const ITEM_CALLDATA = 32 + 11 * 32 + 3 * 32;
/** The per-transaction gas cap of EIP-7825 (osaka). */
export const EIP7825_TX_GAS_CAP = 16_777_216;

/** EIP-150: a call receives at most 63/64 of the gas left, so a callback of `g` needs a little more than `g`. */
export function callbackGas(callbackGasLimit: number | bigint): bigint {
  return (BigInt(callbackGasLimit) * 64n) / 63n;
}

/** Most gas one item can add to a batch: its callback, its overhead, its calldata and output (16 gas a byte, twice: sent and logged). */
export function itemGasPlan(callbackGasLimit: number | bigint, outputBytes: number): bigint {
  const padded = Math.ceil(outputBytes / 32) * 32;
  return callbackGas(callbackGasLimit) + PER_ITEM_OVERHEAD + 16n * BigInt(ITEM_CALLDATA + padded) + 16n * BigInt(outputBytes);
}

/** Gas a batch of items with these plans needs, fixed part included. */
export function batchGasPlan(itemPlans: bigint[]): bigint {
  return itemPlans.reduce((a, g) => a + g, BATCH_OVERHEAD + 16n * BigInt(BATCH_CALLDATA));
}

/** The gas limit the submitter sends a batch with: from the encoded calldata and each item's callback and output. */
export function batchGasBound(calldataBytes: number, callbackGasLimits: number[], outputBytes: number[]): bigint {
  const items = callbackGasLimits.reduce((a, g) => a + callbackGas(g) + PER_ITEM_OVERHEAD, 0n);
  return BATCH_OVERHEAD + items + 16n * BigInt(calldataBytes) + outputBytes.reduce((a, n) => a + 16n * BigInt(n), 0n);
}

/** Bytes of `abi.encode(int256[])` of `length` values. */
export function tensorBytes(length: number): number {
  return 64 + 32 * length;
}
