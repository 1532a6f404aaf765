/**
 * `npm run gas`: measures the gas of the oracle's operations on the in-process Hardhat network,
 * rewrites the tables of docs/gas.md and prints ONE JSON object on stdout (progress goes to stderr).
 *
 * The core operations are measured on osaka (the default hardfork of hardhat.config.ts) and again
 * on prague in a child process (`HARDFORK=prague GAS_ONLY=core`): prague has no P-256 precompile,
 * so `registerEnclave` falls back to OpenZeppelin's Solidity verifier; the rest should not move.
 * Every request prepays gas (maxGasPrice 10 gwei) and every fulfilment is relayed at 1 gwei, so the
 * gas accounting (measurement, reimbursement, refund) is in every fulfilment figure.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import hre from "hardhat";
import { Contract, Signer, Wallet, parseEther } from "ethers";
import { deployContract, deployContracts, loadArtifact, registerModel, trustRoot, type ModelSpec } from "./lib/deploy-contracts";
import {
  ENCLAVE_ATTESTATION_TYPES, InputEncoding, ResultStatus, TeeType, batchDigest, commitmentOf, encodeInput, encodeTensor,
  oracleDomain, registryDomain, requestInLogs, resultDigest, resultStructHash, type InferenceResult, type RequestCommitment,
} from "../oracle/src/protocol";
import { createDevPlatform, createDevRoot } from "../oracle/src/enclave/platform";

const log = (...args: unknown[]) => console.error(...args);
// Hardhat tasks print with console.log; keep stdout for the JSON alone.
console.log = log;

const MEASUREMENT = "0x" + "ab".repeat(32);
const RUNTIME = "0x" + "cd".repeat(32);
const INPUT = encodeTensor([5_100_000n, 3_500_000n, 1_400_000n, 200_000n]);
const OUTPUT = encodeTensor([912_345n, 80_000n, 7_655n]);
const BATCH = 50;
const MAX_GAS_PRICE = 10n ** 10n;
const RELAY_GAS_PRICE = 10n ** 9n;
const INPUT_LENGTHS = [4, 64, 784];
const ENCODINGS: [string, InputEncoding][] = [["abi int256[]", InputEncoding.AbiInt256], ["packed int16", InputEncoding.PackedInt16], ["packed int8", InputEncoding.PackedInt8]];
const IRIS: ModelSpec = {
  modelHash: hre.ethers.id("iris"), inputLength: 4, outputLength: 3, decimals: 6, fee: parseEther("0.001"), uri: "ipfs://iris",
  inputEncoding: InputEncoding.AbiInt256, determinism: 0, publisherShareBps: 0,
};

async function now(): Promise<bigint> {
  return BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
}

async function setUp() {
  const signers = await hre.ethers.getSigners();
  const [deployer, publisher] = signers;
  // Operators 2, 3 and 4 bonded: their signers are active only while their operators are.
  const core = await deployContracts(deployer, { bondOperators: signers.slice(2, 5).map((s) => s.address) });
  const root = createDevRoot();
  const platform = createDevPlatform({ root, now: Number(await now()) });
  await trustRoot(core.enclaveRegistry, root.publicKey, [MEASUREMENT]);
  const modelId = await registerModel(core.modelRegistry.connect(publisher) as Contract, IRIS, [MEASUREMENT]);
  const domain = oracleDomain((await hre.ethers.provider.getNetwork()).chainId, core.addresses.oracle);
  return { ...core, platform, signers, modelId, domain };
}

type Env = Awaited<ReturnType<typeof setUp>>;

async function registerEnclaveGas(env: Env, operator: Signer): Promise<{ gas: bigint; wallet: Wallet }> {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  const registry = env.enclaveRegistry.connect(operator) as Contract;
  const ev = env.platform.signReport(
    { measurement: MEASUREMENT, runtime: RUNTIME, signer: wallet.address, operator: await operator.getAddress() }, Number(await now()),
  );
  const tx = await registry.registerEnclave(ev.report, ev.reportSignature, ev.certificate, ev.certificateSignature, ev.rootId);
  return { gas: (await tx.wait()).gasUsed, wallet };
}

/** Sends a request: from an EOA straight to the oracle, or through a RecordingConsumer. */
type Requester = (modelId: bigint, input: string, options: object, value: bigint) => Promise<{ wait(): Promise<unknown> }>;
const fromEoa = (oracle: Contract): Requester => (m, i, o, value) => oracle.requestInference(m, i, o, { value });
const fromConsumer = (consumer: Contract): Requester => (m, i, o, value) => consumer.request(m, i, o, { value });

async function request(env: Env, requester: Requester, opts: { redundancy?: number; modelId?: bigint; input?: string; callbackGasLimit?: number } = {}) {
  const options = {
    callbackGasLimit: opts.callbackGasLimit ?? 100_000, deadline: (await now()) + 3600n, redundancy: opts.redundancy ?? 1,
    maxFee: parseEther("1"), maxGasPrice: MAX_GAS_PRICE,
  };
  const modelId = opts.modelId ?? env.modelId;
  const total = await env.oracle.quote(modelId, options);
  const input = opts.input ?? INPUT;
  const receipt = (await (await requester(modelId, input, options, total)).wait()) as { gasUsed: bigint; logs: never[] };
  const request = requestInLogs(receipt.logs);
  if (!request) throw new Error("no InferenceRequested in the receipt");
  return { gas: receipt.gasUsed, c: commitmentOf(request) };
}

/** Gas of a fulfilment minus what the callbacks themselves used (`callbackGasUsed` of each `InferenceFulfilled`). */
function withoutCallbacks(env: Env, receipt: { gasUsed: bigint; logs: never[] }): bigint {
  let callbackGas = 0n;
  for (const l of receipt.logs) {
    const parsed = env.oracle.interface.parseLog(l);
    if (parsed?.name === "InferenceFulfilled") callbackGas += parsed.args.callbackGasUsed as bigint;
  }
  return receipt.gasUsed - callbackGas;
}

function result(c: RequestCommitment) {
  return { requestId: c.requestId, modelHash: c.modelHash, inputHash: c.inputHash, outputHash: hre.ethers.keccak256(OUTPUT), status: ResultStatus.Ok };
}

async function fulfil(env: Env, relayer: Contract, wallet: Wallet, c: RequestCommitment) {
  const sig = wallet.signingKey.sign(resultDigest(env.domain, result(c))).serialized;
  return (await relayer.fulfil(c, OUTPUT, 0, sig, { gasPrice: RELAY_GAS_PRICE, type: 0 })).wait();
}

async function batch(env: Env, relayer: Contract, wallet: Wallet, items: RequestCommitment[]) {
  const sig = wallet.signingKey.sign(batchDigest(env.domain, items.map(result))).serialized;
  return (await relayer.fulfilBatch(items.map((c) => [c, OUTPUT, 0]), sig, { gasLimit: 16_000_000, gasPrice: RELAY_GAS_PRICE, type: 0 })).wait();
}

/** requestInference, fulfil, fulfilBatch per result and registerEnclave: measured on both hardforks. */
async function measureCore(env: Env) {
  const [, , opA, opB, , user, relayer] = env.signers;
  const consumer = fromConsumer((await deployContract(env.signers[0], "RecordingConsumer", [env.addresses.oracle])).connect(user) as Contract);
  const oracle = env.oracle.connect(relayer) as Contract;
  const eoa = fromEoa(env.oracle.connect(user) as Contract);

  log("registerEnclave...");
  const a = await registerEnclaveGas(env, opA);
  const b = await registerEnclaveGas(env, opB);

  log("requestInference...");
  await request(env, eoa); // the first request pays for the counter's zero -> non-zero
  const requestInference = (await request(env, eoa)).gas;

  log("fulfil...");
  // warm-up: the operator's and the consumer's balance words become non-zero (steady state)
  await fulfil(env, oracle, a.wallet, (await request(env, consumer)).c);
  const firstOfRequester = (await request(env, consumer, { callbackGasLimit: 100_000 })).c;
  const fresh = fromConsumer((await deployContract(env.signers[0], "RecordingConsumer", [env.addresses.oracle])).connect(user) as Contract);
  const freshReq = (await request(env, fresh)).c;
  const fulfilFirstRefund = withoutCallbacks(env, await fulfil(env, oracle, a.wallet, freshReq));
  const fulfilGas = withoutCallbacks(env, await fulfil(env, oracle, a.wallet, firstOfRequester));

  log(`fulfilBatch of ${BATCH}, one requester...`);
  const items: RequestCommitment[] = [];
  for (let i = 0; i < BATCH; i++) items.push((await request(env, consumer)).c);
  const fulfilBatchPerResult = withoutCallbacks(env, await batch(env, oracle, a.wallet, items)) / BigInt(BATCH);

  log(`fulfilBatch of ${BATCH}, ${BATCH} requesters...`);
  const consumers: Requester[] = [];
  for (let i = 0; i < BATCH; i++) consumers.push(fromConsumer((await deployContract(env.signers[0], "RecordingConsumer", [env.addresses.oracle])).connect(user) as Contract));
  // each requester's balance word made non-zero first, as for a requester that made requests before
  await batch(env, oracle, b.wallet, await Promise.all(consumers.map(async (k) => (await request(env, k)).c)));
  const spread: RequestCommitment[] = [];
  for (const k of consumers) spread.push((await request(env, k)).c);
  const fulfilBatchPerResultDistinctRequesters = withoutCallbacks(env, await batch(env, oracle, a.wallet, spread)) / BigInt(BATCH);

  return {
    requestInference, fulfil: fulfilGas, fulfilBatchPerResult, fulfilBatchPerResultDistinctRequesters,
    fulfilFirstRefund, registerEnclave: b.gas,
  };
}

/** k = 3, the auditor path at threshold 2, and request/fulfil against input length and encoding. */
async function measureMore(env: Env) {
  const [deployer, publisher, opA, opB, opC, user, relayer] = env.signers;
  const consumer = fromConsumer((await deployContract(deployer, "RecordingConsumer", [env.addresses.oracle])).connect(user) as Contract);
  const oracle = env.oracle.connect(relayer) as Contract;
  const eoa = fromEoa(env.oracle.connect(user) as Contract);
  const enclaves = await Promise.all([opA, opB, opC].map((op) => registerEnclaveGas(env, op)));
  await fulfil(env, oracle, enclaves[0].wallet, (await request(env, consumer)).c);

  log("redundancy 3...");
  const r3 = await request(env, consumer, { redundancy: 3 });
  let total = 0n;
  for (const enc of enclaves) total += withoutCallbacks(env, await fulfil(env, oracle, enc.wallet, r3.c));
  const fulfilRedundancy3PerSubmission = total / 3n;

  log("fulfil of a model whose publisher takes a share...");
  const shared = await registerModel(env.modelRegistry.connect(publisher) as Contract, { ...IRIS, modelHash: hre.ethers.id("shared"), publisherShareBps: 2_000 }, [MEASUREMENT]);
  await fulfil(env, oracle, enclaves[0].wallet, (await request(env, consumer, { modelId: shared })).c); // the publisher's word non-zero
  const fulfilPublisherShare = withoutCallbacks(env, await fulfil(env, oracle, enclaves[0].wallet, (await request(env, consumer, { modelId: shared })).c));

  log("registerAttestedEnclave, threshold 2...");
  const auditors = [Wallet.createRandom(), Wallet.createRandom()];
  for (const au of auditors) await (await env.enclaveRegistry.setAuditor(au.address, true)).wait();
  await (await env.enclaveRegistry.setAuditorThreshold(2)).wait();
  const domain = registryDomain((await hre.ethers.provider.getNetwork()).chainId, env.addresses.enclaveRegistry);
  const attested = async (operator: Signer) => {
    const att = {
      signer: Wallet.createRandom().address, operator: await operator.getAddress(), measurement: MEASUREMENT, teeType: TeeType.AwsNitro,
      evidenceHash: hre.ethers.id("evidence " + Math.random()), expiresAt: (await now()) + 7n * 86_400n,
    };
    const sigs = await Promise.all(auditors.map((au) => au.signTypedData(domain, ENCLAVE_ATTESTATION_TYPES, att)));
    return (await (await (env.enclaveRegistry.connect(operator) as Contract).registerAttestedEnclave(att, sigs)).wait()).gasUsed as bigint;
  };
  await attested(opA);
  const registerAttestedEnclaveThreshold2 = await attested(opB);

  log("input length x encoding...");
  // the EOA's balance word made non-zero first (its first refund costs 17k more: see fulfilFirstRefund)
  await fulfil(env, oracle, enclaves[0].wallet, (await request(env, eoa, { callbackGasLimit: 0 })).c);
  const byInput: Record<string, { requestInference: number; fulfil: number; inputBytes: number }> = {};
  for (const n of INPUT_LENGTHS) {
    for (const [name, encoding] of ENCODINGS) {
      const spec = { ...IRIS, modelHash: hre.ethers.id(`model ${n} ${encoding}`), inputLength: n, inputEncoding: encoding };
      const modelId = await registerModel(env.modelRegistry.connect(publisher) as Contract, spec, [MEASUREMENT]);
      // pixel-like values: 0..255, as a 28x28 grey image is; int8 holds -128..127, so shift by 128
      const values = Array.from({ length: n }, (_, i) => BigInt(((i * 37) % 256) - (encoding === InputEncoding.PackedInt8 ? 128 : 0)));
      const input = encodeInput(values, encoding);
      const req = await request(env, eoa, { modelId, input, callbackGasLimit: 0 });
      const ful = await fulfil(env, oracle, enclaves[0].wallet, req.c);
      byInput[`${n} ${name}`] = { requestInference: Number(req.gas), fulfil: Number(ful.gasUsed), inputBytes: (input.length - 2) / 2 };
    }
  }
  // Last: it slashes operator A.
  const slashing = await measureSlashing(env, enclaves[0].wallet, opA, relayer);
  return { fulfilRedundancy3PerSubmission, fulfilPublisherShare, registerAttestedEnclaveThreshold2, byInput, ...slashing };
}

/**
 * EquivocationSlasher.proveEquivocation: two results signed alone, then one alone against item 7
 * of a 50-result batch. The oracle is not consulted, so the results need no request on-chain.
 */
async function measureSlashing(env: Env, key: Wallet, operator: Signer, reporter: Signer) {
  log("slashing...");
  const slasher = env.slasher.connect(reporter) as Contract;
  const other = encodeTensor([1n, 2n, 3n]);
  const resultOf = (id: bigint, output: string): InferenceResult => ({
    requestId: id, modelHash: IRIS.modelHash, inputHash: hre.ethers.keccak256(INPUT), outputHash: hre.ethers.keccak256(output), status: ResultStatus.Ok,
  });
  const alone = (w: Wallet, r: InferenceResult) => ({ result: r, batch: [], index: 0, signature: w.signingKey.sign(resultDigest(env.domain, r)).serialized });
  const single = await (await slasher.proveEquivocation(alone(key, resultOf(1_000_001n, OUTPUT)), alone(key, resultOf(1_000_001n, other)))).wait();
  await (await (env.enclaveRegistry.connect(operator) as Contract).bond({ value: await env.enclaveRegistry.minBond() })).wait();
  const fresh = (await registerEnclaveGas(env, operator)).wallet;
  const batchResults = Array.from({ length: BATCH }, (_, i) => resultOf(2_000_000n + BigInt(i), OUTPUT));
  const inBatch = {
    result: batchResults[7], batch: batchResults.map(resultStructHash), index: 7,
    signature: fresh.signingKey.sign(batchDigest(env.domain, batchResults)).serialized,
  };
  const batched = await (await slasher.proveEquivocation(alone(fresh, resultOf(2_000_007n, other)), inBatch)).wait();
  return { slashEquivocationSingle: single.gasUsed as bigint, slashEquivocationInBatchOf50: batched.gasUsed as bigint };
}

/** Deployed bytecode sizes (EIP-170 limit 24,576 bytes). */
function bytecodeSizes(): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const name of ["InferenceOracle", "EnclaveRegistry", "ModelRegistry", "EquivocationSlasher", "IrisClassifierConsumer", "RiskScoredLendingPool"]) {
    const artifact = loadArtifact(name) as { deployedBytecode?: string };
    sizes[name] = ((artifact.deployedBytecode ?? "0x").length - 2) / 2;
  }
  return sizes;
}

/** Upper bounds (issue 11): a figure above its bound is marked ✗ in docs/gas.md. */
const TARGETS: Record<string, number | undefined> = {
  requestInference: 80_000,
  fulfil: 70_000,
  fulfilBatchPerResult: 25_000,
  fulfilBatchPerResultDistinctRequesters: 25_000,
  slashEquivocationSingle: 100_000,
};

const fmt = (v: number) => v.toLocaleString("en");

function verdict(v: number, target?: number): string {
  if (target === undefined) return "—";
  return `≤ ${fmt(target)} ${v <= target ? "✓" : "✗"}`;
}

function replaceBlock(doc: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  if (!doc.includes(begin)) throw new Error(`docs/gas.md has no ${begin} marker`);
  return doc.replace(new RegExp(`${begin}[\\s\\S]*${end}`), `${begin}\n${body}\n${end}`);
}

function writeReport(report: Report) {
  const file = path.resolve(__dirname, "../docs/gas.md");
  let doc = fs.readFileSync(file, "utf8");
  const core = Object.keys(report.osaka).map((k) => {
    const o = report.osaka[k];
    const p = report.prague[k];
    return `| \`${k}\` | ${fmt(o)} | ${p === undefined ? "—" : fmt(p)} | ${verdict(o, TARGETS[k])} |`;
  });
  const extra = [
    `| \`fulfilPublisherShare\` | ${fmt(report.fulfilPublisherShare)} | — | — |`,
    `| \`fulfilRedundancy3PerSubmission\` | ${fmt(report.fulfilRedundancy3PerSubmission)} | — | — |`,
    `| \`registerAttestedEnclaveThreshold2\` | ${fmt(report.registerAttestedEnclaveThreshold2)} | same (no P-256) | Automata zk DCAP ≈ 325k, Nitro ≈ 220k |`,
    `| \`slashEquivocationSingle\` | ${fmt(report.slashEquivocationSingle)} | same (no P-256) | ${verdict(report.slashEquivocationSingle, TARGETS.slashEquivocationSingle)} |`,
    `| \`slashEquivocationInBatchOf50\` | ${fmt(report.slashEquivocationInBatchOf50)} | same (no P-256) | — |`,
  ];
  doc = replaceBlock(doc, "gas-table", ["| Operation | osaka | prague | Target |", "|---|---:|---:|---|", ...core, ...extra].join("\n"));
  const rows = INPUT_LENGTHS.flatMap((n) => ENCODINGS.map(([name]) => {
    const r = report.byInput[`${n} ${name}`];
    const goal = n === 784 ? (r.requestInference <= 150_000 ? " ✓ ≤ 150k" : " ✗ > 150k") : "";
    return `| ${n} | ${name} | ${fmt(r.inputBytes)} | ${fmt(r.requestInference)}${goal} | ${fmt(r.fulfil)} |`;
  }));
  doc = replaceBlock(doc, "input-table", ["| Values | Encoding | Input bytes | `requestInference` | `fulfil` |", "|---:|---|---:|---:|---:|", ...rows].join("\n"));
  const sizes = Object.entries(report.bytecodeSizes).map(([k, v]) => `| \`${k}\` | ${fmt(v)} | ${fmt(24_576 - v)} |`);
  doc = replaceBlock(doc, "size-table", ["| Contract | Deployed bytes | Below EIP-170 (24,576) by |", "|---|---:|---:|", ...sizes].join("\n"));
  fs.writeFileSync(file, doc);
}

interface Report {
  osaka: Record<string, number>;
  prague: Record<string, number>;
  fulfilRedundancy3PerSubmission: number;
  fulfilPublisherShare: number;
  registerAttestedEnclaveThreshold2: number;
  slashEquivocationSingle: number;
  slashEquivocationInBatchOf50: number;
  byInput: Record<string, { requestInference: number; fulfil: number; inputBytes: number }>;
  bytecodeSizes: Record<string, number>;
}

const numbers = (o: Record<string, bigint>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number(v)]));

async function main() {
  await hre.run("compile", { quiet: true });
  if (process.env.GAS_ONLY === "core") {
    process.stdout.write(JSON.stringify(numbers(await measureCore(await setUp()))) + "\n");
    return;
  }
  log(`osaka (${process.env.HARDFORK ?? "osaka"})...`);
  const osaka = numbers(await measureCore(await setUp()));
  const more = await measureMore(await setUp());
  log("prague (child process)...");
  const child = execFileSync("npx", ["hardhat", "run", "scripts/gas.ts"], {
    cwd: path.resolve(__dirname, ".."),
    env: { ...process.env, HARDFORK: "prague", GAS_ONLY: "core" },
    stdio: ["ignore", "pipe", "inherit"],
  }).toString();
  const prague = JSON.parse(child.trim().split("\n").pop()!) as Record<string, number>;
  const report: Report = {
    osaka, prague,
    fulfilRedundancy3PerSubmission: Number(more.fulfilRedundancy3PerSubmission),
    fulfilPublisherShare: Number(more.fulfilPublisherShare),
    registerAttestedEnclaveThreshold2: Number(more.registerAttestedEnclaveThreshold2),
    slashEquivocationSingle: Number(more.slashEquivocationSingle),
    slashEquivocationInBatchOf50: Number(more.slashEquivocationInBatchOf50),
    byInput: more.byInput,
    bytecodeSizes: bytecodeSizes(),
  };
  writeReport(report);
  process.stdout.write(JSON.stringify(report) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
