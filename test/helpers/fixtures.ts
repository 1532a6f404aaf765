/**
 * Shared test fixtures for the contracts: everything deployed through
 * `scripts/lib/deploy-contracts.ts`, a development platform (root + platform key) trusted by the
 * EnclaveRegistry, an iris-like model, and helpers to register enclave signers, make requests
 * and sign results with the protocol module. Other suites (node, e2e) import these too.
 */
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  BaseContract, Contract, ContractTransactionReceipt, Signer, TypedDataDomain, Wallet, id, parseEther,
} from "ethers";
import { ModelSpec, deployContract, deployContracts, registerModel as registerModelFrom, trustRoot } from "../../scripts/lib/deploy-contracts";
import {
  Determinism, InferenceFulfilledArgs, InferenceResult, InputEncoding, RequestCommitment, RequestOptions, ResultStatus, batchDigest,
  commitmentOf, encodeTensor, fulfilmentFromEvent, gasReimbursed, requestInLogs, keccakOf, oracleDomain, resultDigest,
  resultStructHash,
} from "./protocol";
import { createDevRoot, type DevPlatform, type DevRoot } from "../../oracle/src/enclave/platform";
import { alterReport, createTestPlatform, registerEnclaveArgs, signReportAt } from "./platform";

export { encodeTensor, ResultStatus };

/** The runner measurement the fixture allows everywhere. */
export const MEASUREMENT = id("runner measurement v1");
/** A second allowed measurement that the fixture's model does NOT allow. */
export const OTHER_MEASUREMENT = id("runner measurement v2");

/** The fixture's model: iris-like, 4 inputs, 3 outputs, 6 decimals. */
export const IRIS: ModelSpec = {
  modelHash: id("iris.onnx bytes"),
  inputLength: 4,
  outputLength: 3,
  decimals: 6,
  fee: parseEther("0.001"),
  uri: "ipfs://iris.onnx",
  inputEncoding: InputEncoding.AbiInt256,
  determinism: Determinism.Float,
  publisherShareBps: 0,
};

/**
 * Default `maxGasPrice` of the helpers' requests: zero, so no gas is prepaid and fee arithmetic
 * stays exact; the gas-accounting tests set a price of their own (e.g. {@link GAS_PRICE_BOUND}).
 */
export const MAX_GAS_PRICE = 0n;
/** A `maxGasPrice` far above the test chain's gas price (10 gwei): relayers are reimbursed in full. */
export const GAS_PRICE_BOUND = 10n ** 10n;
/** Default `maxFee` of the helpers' requests: far above any fee the fixtures set. */
export const MAX_FEE = parseEther("1");

export const IRIS_INPUT = encodeTensor([5_100_000n, 3_500_000n, 1_400_000n, 200_000n]);
export const IRIS_OUTPUT = encodeTensor([912_345n, 80_000n, 7_655n]);

export interface OracleFixture {
  oracle: Contract;
  modelRegistry: Contract;
  enclaveRegistry: Contract;
  /** The EquivocationSlasher, allowed to slash bonds in `enclaveRegistry`. */
  slasher: Contract;
  consumer: Contract;
  /** The vendor root the EnclaveRegistry trusts; its private key certifies (or re-certifies) platforms. */
  root: DevRoot;
  /** The product's development platform (oracle/src/enclave/platform.ts), certified by `root`. */
  platform: DevPlatform;
  modelId: bigint;
  chainId: bigint;
  domain: TypedDataDomain;
  deployer: HardhatEthersSigner;
  publisher: HardhatEthersSigner;
  operatorA: HardhatEthersSigner;
  operatorB: HardhatEthersSigner;
  operatorC: HardhatEthersSigner;
  user: HardhatEthersSigner;
  relayer: HardhatEthersSigner;
  stranger: HardhatEthersSigner;
  /** The one account that never bonded (all the others have the minimum bond). */
  unbonded: HardhatEthersSigner;
}

/** Deploys and wires everything; use with `loadFixture(deployOracleFixture)`. */
export async function deployOracleFixture(): Promise<OracleFixture> {
  const signers = await ethers.getSigners();
  const [deployer, publisher, operatorA, operatorB, operatorC, user, relayer, stranger] = signers;
  const unbonded = signers[signers.length - 1];
  // Every account but `unbonded` is bonded (the minimum, 1 ether, paid by the deployer), so any of
  // them can operate an enclave.
  const { oracle, modelRegistry, enclaveRegistry, slasher } = await deployContracts(deployer, {
    bondOperators: signers.filter((s) => s !== unbonded).map((s) => s.address),
  });
  const root = createDevRoot();
  const platform = createTestPlatform(root, BigInt(await time.latest()));
  await trustRoot(enclaveRegistry, root.publicKey, [MEASUREMENT, OTHER_MEASUREMENT]);
  const modelId = await registerModel(modelRegistry, publisher, IRIS, [MEASUREMENT]);
  const consumer = await deployContract(deployer, "RecordingConsumer", [await oracle.getAddress()]);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const domain = oracleDomain(chainId, await oracle.getAddress());
  return {
    oracle, modelRegistry, enclaveRegistry, slasher, consumer, root, platform, modelId, chainId, domain,
    deployer, publisher, operatorA, operatorB, operatorC, user, relayer, stranger, unbonded,
  };
}

/** Registers a model from `publisher` and returns its id. */
export function registerModel(modelRegistry: Contract, publisher: Signer, spec: ModelSpec, measurements: string[]): Promise<bigint> {
  return registerModelFrom(modelRegistry.connect(publisher) as Contract, spec, measurements);
}

/**
 * Makes a fresh enclave signer (an ethers Wallet, as the runner's key), has the platform sign a
 * report for it naming `operator` (valid 30 days, or `validFor` seconds), and registers it from `operator`.
 */
export async function registerEnclave(
  f: Pick<OracleFixture, "enclaveRegistry" | "platform">,
  operator: Signer,
  measurement = MEASUREMENT,
  validFor?: bigint,
): Promise<Wallet> {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const issuedAt = BigInt(await time.latest());
  const signed = signReportAt(f.platform, { signer: wallet.address, operator: await operator.getAddress(), measurement, issuedAt });
  const evidence = validFor ? alterReport(f.platform, signed, { expiresAt: issuedAt + validFor }) : signed;
  const registry = f.enclaveRegistry.connect(operator) as Contract;
  await (await registry.registerEnclave(...registerEnclaveArgs(evidence))).wait();
  return wallet;
}

export interface RequestParams {
  input?: string;
  callbackGasLimit?: number;
  /** Seconds from now. Default one hour. */
  ttl?: number;
  redundancy?: number;
  /** Fee bound; default {@link MAX_FEE}. */
  maxFee?: bigint;
  /** Gas price bound; default {@link MAX_GAS_PRICE}. */
  maxGasPrice?: bigint;
  /** Ether sent; default the exact quote. */
  value?: bigint;
}

/** Default options of a request made by the fixture's helpers. */
export async function requestOptions(p: RequestParams = {}): Promise<RequestOptions> {
  return {
    callbackGasLimit: p.callbackGasLimit ?? 200_000,
    deadline: BigInt(await time.latest()) + BigInt(p.ttl ?? 3600),
    redundancy: p.redundancy ?? 1,
    maxFee: p.maxFee ?? MAX_FEE,
    maxGasPrice: p.maxGasPrice ?? MAX_GAS_PRICE,
  };
}

/** Requests an inference from the fixture's RecordingConsumer and returns the commitment. */
export async function requestViaConsumer(f: OracleFixture, p: RequestParams = {}): Promise<RequestCommitment> {
  const options = await requestOptions(p);
  const fee = await f.oracle.quote(f.modelId, options);
  const tx = await (f.consumer.connect(f.user) as Contract).request(f.modelId, p.input ?? IRIS_INPUT, options, {
    value: p.value ?? fee,
  });
  return commitmentFromReceipt(f.oracle, await tx.wait());
}

/** Requests an inference directly from an account (no callback unless a gas limit is given). */
export async function requestFrom(f: OracleFixture, from: Signer, p: RequestParams = {}): Promise<RequestCommitment> {
  const options = await requestOptions({ callbackGasLimit: 0, ...p });
  const fee = await f.oracle.quote(f.modelId, options);
  const tx = await (f.oracle.connect(from) as Contract).requestInference(f.modelId, p.input ?? IRIS_INPUT, options, {
    value: p.value ?? fee,
  });
  return commitmentFromReceipt(f.oracle, await tx.wait());
}

/** The commitment of the request whose `InferenceRequested` event is in `receipt`. */
export function commitmentFromReceipt(oracle: Contract, receipt: ContractTransactionReceipt | null): RequestCommitment {
  const request = requestInLogs(receipt?.logs ?? [], oracle.target.toString());
  if (!request) throw new Error("no InferenceRequested event in the receipt");
  return commitmentOf(request);
}

/** The result an enclave signs for `commitment`. */
export function resultFor(c: RequestCommitment, output: string, status: ResultStatus = ResultStatus.Ok): InferenceResult {
  return { requestId: c.requestId, modelHash: c.modelHash, inputHash: c.inputHash, outputHash: keccakOf(output), status };
}

/** An enclave's signature over one result (`fulfil`). */
export function signResult(
  signer: Wallet, domain: TypedDataDomain, c: RequestCommitment, output = IRIS_OUTPUT, status: ResultStatus = ResultStatus.Ok,
): string {
  return signer.signingKey.sign(resultDigest(domain, resultFor(c, output, status))).serialized;
}

export interface Submission {
  request: RequestCommitment;
  output: string;
  status: ResultStatus;
}

/** An enclave's one signature over a batch of results (`fulfilBatch`). */
export function signBatch(signer: Wallet, domain: TypedDataDomain, items: Submission[]): string {
  return signer.signingKey.sign(batchDigest(domain, items.map((i) => resultFor(i.request, i.output, i.status)))).serialized;
}

/** The first log of `name` emitted by `contract` in `receipt`; throws if there is none. */
export function findEvent(contract: BaseContract, receipt: ContractTransactionReceipt | null, name: string) {
  const all = findEvents(contract, receipt, name);
  if (all.length === 0) throw new Error(`no ${name} event in the receipt`);
  return all[0];
}

/** Every log of `name` emitted by `contract` in `receipt`. */
export function findEvents(contract: BaseContract, receipt: ContractTransactionReceipt | null, name: string) {
  if (!receipt) throw new Error("no receipt");
  const address = (contract.target as string).toLowerCase();
  return receipt.logs
    .filter((l) => l.address.toLowerCase() === address)
    .map((l) => contract.interface.parseLog(l))
    .filter((l): l is NonNullable<typeof l> => l !== null && l.name === name);
}

/** A signed result as `EquivocationSlasher` takes it (`IEquivocationSlasher.SignedResult`). */
export interface SignedEvidence {
  result: InferenceResult;
  batch: string[];
  index: number;
  signature: string;
}

/** Evidence from a result signed alone (as for `fulfil`). */
export function singleEvidence(
  signer: Wallet, domain: TypedDataDomain, c: RequestCommitment, output = IRIS_OUTPUT, status: ResultStatus = ResultStatus.Ok,
): SignedEvidence {
  return { result: resultFor(c, output, status), batch: [], index: 0, signature: signResult(signer, domain, c, output, status) };
}

/** Evidence from item `index` of a batch signed as one `InferenceBatch` (as for `fulfilBatch`). */
export function batchEvidence(signer: Wallet, domain: TypedDataDomain, items: Submission[], index: number): SignedEvidence {
  const results = items.map((i) => resultFor(i.request, i.output, i.status));
  return { result: results[index], batch: results.map(resultStructHash), index, signature: signBatch(signer, domain, items) };
}

/**
 * How request `c` was settled in `receipt`: its one `InferenceFulfilled` log read as every reader
 * reads it (`fulfilmentFromEvent`), with the gas reimbursed derived from the prepayment (`gasReimbursed`).
 */
export function settlement(contract: BaseContract, receipt: ContractTransactionReceipt | null, c: RequestCommitment) {
  const log = findEvents(contract, receipt, "InferenceFulfilled").find((l) => l.args.requestId === c.requestId);
  if (!log) throw new Error(`no InferenceFulfilled for request ${c.requestId} in the receipt`);
  const fulfilment = fulfilmentFromEvent(log.args as unknown as InferenceFulfilledArgs);
  return { ...fulfilment, gasReimbursed: gasReimbursed(c.gasPrepayment, fulfilment) };
}
