/**
 * The client context every function of this package takes first: the oracle and its two
 * registries as ethers contracts, the chain id, and where to start reading logs.
 */
import { Contract, getAddress, type ContractRunner, type Provider } from "ethers";
import EnclaveRegistryAbi from "../../../contracts/abi/EnclaveRegistry.json";
import InferenceOracleAbi from "../../../contracts/abi/InferenceOracle.json";
import ModelRegistryAbi from "../../../contracts/abi/ModelRegistry.json";
import { OracleClientError, withContractErrors } from "./errors";

export interface OracleClient {
  /** Reads (views, logs, transactions). */
  provider: Provider;
  /** Signs requests, expiries and withdrawals: a Signer, or the provider for a read-only client. */
  runner: ContractRunner;
  chainId: bigint;
  oracle: Contract;
  modelRegistry: Contract;
  enclaveRegistry: Contract;
  /** First block searched for a request's events (the deployment block; default 0). */
  fromBlock: number;
}

export interface ConnectOptions {
  /** The InferenceOracle's address. */
  oracle: string;
  /** First block searched for events (the deployment block; default 0). */
  fromBlock?: number;
}

/** The part of a deployment file (`deployments/<network>.json` in the contracts package) the client reads. */
export interface DeploymentAddresses {
  chainId: number;
  deploymentBlock?: number;
  contracts: { InferenceOracle: string };
}

/**
 * Connects to an oracle: reads its registries' addresses from it and checks that the runner's
 * chain is the one the provider reports.
 */
export async function connectOracle(runner: ContractRunner, opts: ConnectOptions): Promise<OracleClient> {
  const provider = runner.provider ?? (runner as Provider);
  if (!provider || typeof (provider as Provider).getNetwork !== "function") {
    throw new OracleClientError("the runner has no provider", { details: "pass a Signer connected to a provider, or a Provider" });
  }
  const oracle = new Contract(getAddress(opts.oracle), InferenceOracleAbi, runner);
  const [network, models, enclaves] = await withContractErrors(() => Promise.all([
    provider.getNetwork(), oracle.modelRegistry() as Promise<string>, oracle.enclaveRegistry() as Promise<string>,
  ]));
  return {
    provider, runner, chainId: network.chainId, oracle,
    modelRegistry: new Contract(models, ModelRegistryAbi, runner),
    enclaveRegistry: new Contract(enclaves, EnclaveRegistryAbi, runner),
    fromBlock: opts.fromBlock ?? 0,
  };
}

/** Connects to the oracle of a deployment file, after checking the provider is on its chain. */
export async function connectDeployment(runner: ContractRunner, deployment: DeploymentAddresses): Promise<OracleClient> {
  const client = await connectOracle(runner, { oracle: deployment.contracts.InferenceOracle, fromBlock: deployment.deploymentBlock });
  if (client.chainId !== BigInt(deployment.chainId)) {
    throw new OracleClientError(`the provider is on chain ${client.chainId}, the deployment on chain ${deployment.chainId}`);
  }
  return client;
}
