/**
 * @attested-inference-oracle/client: read the model catalogue, quote, request, wait for the
 * result, decode it, check it offline, expire and withdraw. ethers v6 is a peer dependency.
 */
export { connectOracle, connectDeployment, type OracleClient, type ConnectOptions, type DeploymentAddresses } from "./client";
export { getModel, listModels, type ModelInfo } from "./models";
export {
  quote, requestInference, resolveOptions, requestFromReceipt,
  type Quote, type RequestOptions, type RequestOptionsInput, type SentRequest,
} from "./request";
export { waitForResult, requestState, finalOutcome, REQUEST_STATES, type FinalRequest, type WaitOptions, type RequestStateName } from "./wait";
export { decodeOutput, encodeInput, encodeTensor, decodeTensor, toFixedPoint, type DecodedOutput } from "./tensor";
export { fetchNodeModels, type NodeModel } from "./node-api";
export { checkResult, type Check, type ResultCheck } from "./check";
export { expireRequest, withdraw, balanceOf } from "./expire";
export {
  OracleClientError, OracleContractError, UnknownRevertError, UnknownRequestError, UnknownModelError, InvalidInputError,
  OracleTimeoutError, decodeRevert, toClientError, ERRORS_INTERFACE,
} from "./errors";
export { ResultStatus } from "../../src/protocol/constants";
export { suggestedMaxGasPrice } from "../../src/protocol/request";
export type { RequestCommitment } from "../../src/protocol/request";
