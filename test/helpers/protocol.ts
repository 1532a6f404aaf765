/** Re-exports of the protocol module for tests, plus small conveniences. */
import { keccak256 } from "ethers";

export * from "../../oracle/src/protocol";

/** keccak256 of hex bytes. */
export function keccakOf(data: string): string {
  return keccak256(data);
}
