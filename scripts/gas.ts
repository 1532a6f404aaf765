/**
 * `npm run gas`: measures the gas of the oracle's operations on the in-process Hardhat network,
 * writes docs/gas.md and prints ONE JSON object on stdout (progress goes to stderr).
 *
 * `registerEnclavePrague` is measured by running this script again in a child process with
 * HARDFORK=prague (no P-256 precompile, OpenZeppelin's Solidity fallback) and GAS_ONLY=register.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import hre from "hardhat";
import { Contract, Signer, Wallet, parseEther } from "ethers";
import { deployContract, deployContracts, registerModel, trustRoot } from "./lib/deploy-contracts";
import {
  ResultStatus, batchDigest, commitmentFromEvent, encodeTensor, oracleDomain, resultDigest, resultStructHash, type RequestCommitment,
} from "../oracle/src/protocol";
import { createDevPlatform, createDevRoot } from "../oracle/src/enclave/platform";

const log = (...args: unknown[]) => console.error(...args);
// Hardhat tasks print with console.log; keep stdout for the JSON alone.
console.log = log;

const MEASUREMENT = "0x" + "ab".repeat(32);
const INPUT = encodeTensor([5_100_000n, 3_500_000n, 1_400_000n, 200_000n]);
const OUTPUT = encodeTensor([912_345n, 80_000n, 7_655n]);
const BATCH = 50;
const RUNTIME = "0x" + "cd".repeat(32);

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
  const spec = {
    modelHash: hre.ethers.id("iris"), inputLength: 4, outputLength: 3, decimals: 6, fee: parseEther("0.001"), uri: "ipfs://iris",
    inputEncoding: 0, determinism: 0, publisherShareBps: 0,
  };
  await registerModel(core.modelRegistry.connect(publisher) as Contract, spec, [MEASUREMENT]);
  return { ...core, platform, signers };
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

async function request(env: Env, requester: Contract, redundancy = 1): Promise<{ gas: bigint; c: RequestCommitment }> {
  const options = { callbackGasLimit: 100_000, deadline: (await now()) + 3600n, redundancy, maxFee: parseEther("1"), maxGasPrice: 10n ** 10n };
  const fee = await env.oracle.quote(1, options);
  const tx = await requester.request(1, INPUT, options, { value: fee });
  const receipt = await tx.wait();
  const log = receipt.logs.map((l: never) => env.oracle.interface.parseLog(l)).find((l: { name: string } | null) => l?.name === "InferenceRequested");
  return { gas: receipt.gasUsed, c: commitmentFromEvent(log.args) };
}

/** Gas of a fulfilment minus what the callbacks themselves used (from `CallbackCompleted`). */
function withoutCallbacks(env: Env, receipt: { gasUsed: bigint; logs: never[] }): bigint {
  let callbackGas = 0n;
  for (const l of receipt.logs) {
    const parsed = env.oracle.interface.parseLog(l);
    if (parsed?.name === "CallbackCompleted") callbackGas += parsed.args.gasUsed as bigint;
  }
  return receipt.gasUsed - callbackGas;
}

function result(c: RequestCommitment) {
  return { requestId: c.requestId, modelHash: c.modelHash, inputHash: c.inputHash, outputHash: hre.ethers.keccak256(OUTPUT), status: ResultStatus.Ok };
}

async function measureRegisterOnly(): Promise<void> {
  const env = await setUp();
  await registerEnclaveGas(env, env.signers[2]); // warm-up: first registration of the operator
  const { gas } = await registerEnclaveGas(env, env.signers[3]);
  process.stdout.write(JSON.stringify({ registerEnclave: Number(gas) }) + "\n");
}

async function measureAll() {
  const env = await setUp();
  const [, , opA, opB, opC, user, relayer] = env.signers;
  const domain = oracleDomain((await hre.ethers.provider.getNetwork()).chainId, env.addresses.oracle);
  const consumer = (await deployContract(env.signers[0], "RecordingConsumer", [env.addresses.oracle])).connect(user) as Contract;

  log("registerEnclave (osaka)...");
  const a = await registerEnclaveGas(env, opA);
  const b = await registerEnclaveGas(env, opB);
  const cEnc = await registerEnclaveGas(env, opC);
  const registerEnclaveOsaka = b.gas;

  log("requestInference...");
  await request(env, consumer); // the first request pays for the counter's zero -> non-zero
  // An EOA requester measures the oracle alone (a consumer adds its own quote call and bookkeeping).
  const oracleAsUser = env.oracle.connect(user) as Contract;
  const eoa = { request: (m: number, i: string, o: object, v: object) => oracleAsUser.requestInference(m, i, o, v) } as unknown as Contract;
  const req = await request(env, eoa);
  const requestInference = req.gas;

  log("fulfil...");
  const oracle = env.oracle.connect(relayer) as Contract;
  const warm = await request(env, consumer);
  await (await oracle.fulfil(warm.c, OUTPUT, 0, a.wallet.signingKey.sign(resultDigest(domain, result(warm.c))).serialized)).wait();
  const one = await request(env, consumer);
  const fulfilReceipt = await (await oracle.fulfil(one.c, OUTPUT, 0, a.wallet.signingKey.sign(resultDigest(domain, result(one.c))).serialized)).wait();
  const fulfil = withoutCallbacks(env, fulfilReceipt);

  log(`fulfilBatch of ${BATCH}...`);
  const items: RequestCommitment[] = [];
  for (let i = 0; i < BATCH; i++) items.push((await request(env, consumer)).c);
  const batchSig = a.wallet.signingKey.sign(batchDigest(domain, items.map(result))).serialized;
  const batchReceipt = await (await oracle.fulfilBatch(items.map((c) => [c, OUTPUT, 0]), batchSig, { gasLimit: 16_000_000 })).wait();
  const fulfilBatchPerResult = withoutCallbacks(env, batchReceipt) / BigInt(BATCH);

  log("redundancy 3...");
  const r3 = await request(env, consumer, 3);
  let total = 0n;
  for (const enc of [a, b, cEnc]) {
    const sig = enc.wallet.signingKey.sign(resultDigest(domain, result(r3.c))).serialized;
    total += withoutCallbacks(env, await (await oracle.fulfil(r3.c, OUTPUT, 0, sig)).wait());
  }
  const fulfilRedundancy3PerSubmission = total / 3n;

  log("slashing...");
  const slasher = env.slasher.connect(relayer) as Contract;
  const other = encodeTensor([1n, 2n, 3n]);
  const signed = (w: Wallet, c: RequestCommitment, output: string) => {
    const r = { ...result(c), outputHash: hre.ethers.keccak256(output) };
    return { result: r, batch: [], index: 0, signature: w.signingKey.sign(resultDigest(domain, r)).serialized };
  };
  // Two results signed alone; then one alone against one inside the batch of BATCH signed above.
  const single = await (await slasher.proveEquivocation(signed(a.wallet, one.c, OUTPUT), signed(a.wallet, one.c, other))).wait();
  const slashEquivocationSingle = single.gasUsed;
  await (await env.enclaveRegistry.connect(opA).getFunction("bond")({ value: await env.enclaveRegistry.minBond() })).wait();
  const b2 = await registerEnclaveGas(env, opA);
  const batch2 = items.slice(0, BATCH);
  const inBatch = {
    result: result(batch2[7]), batch: batch2.map((c) => resultStructHash(result(c))), index: 7,
    signature: b2.wallet.signingKey.sign(batchDigest(domain, batch2.map(result))).serialized,
  };
  const slashBatchReceipt = await (await slasher.proveEquivocation(signed(b2.wallet, batch2[7], other), inBatch)).wait();
  const slashEquivocationInBatchOf50 = slashBatchReceipt.gasUsed;

  log("registerEnclave (prague, child process)...");
  const child = execFileSync("npx", ["hardhat", "run", "scripts/gas.ts"], {
    cwd: path.resolve(__dirname, ".."),
    env: { ...process.env, HARDFORK: "prague", GAS_ONLY: "register" },
    stdio: ["ignore", "pipe", "inherit"],
  }).toString();
  const registerEnclavePrague = BigInt(JSON.parse(child.trim().split("\n").pop()!).registerEnclave);

  return {
    requestInference: Number(requestInference),
    fulfil: Number(fulfil),
    fulfilBatchPerResult: Number(fulfilBatchPerResult),
    registerEnclaveOsaka: Number(registerEnclaveOsaka),
    registerEnclavePrague: Number(registerEnclavePrague),
    fulfilRedundancy3PerSubmission: Number(fulfilRedundancy3PerSubmission),
    slashEquivocationSingle: Number(slashEquivocationSingle),
    slashEquivocationInBatchOf50: Number(slashEquivocationInBatchOf50),
  };
}

const TARGETS: Record<string, number | undefined> = {
  requestInference: 80_000,
  fulfil: 60_000,
  fulfilBatchPerResult: 25_000,
  registerEnclaveOsaka: 150_000,
  slashEquivocationSingle: 100_000,
};

function writeReport(gas: Record<string, number>) {
  const template = fs.readFileSync(path.resolve(__dirname, "../docs/gas.md"), "utf8");
  const rows = Object.entries(gas).map(([k, v]) => {
    const target = TARGETS[k];
    const verdict = target === undefined ? "—" : v <= target ? `≤ ${target.toLocaleString("en")} ✓` : `≤ ${target.toLocaleString("en")} ✗`;
    return `| \`${k}\` | ${v.toLocaleString("en")} | ${verdict} |`;
  });
  const table = ["| Operation | Gas | Target |", "|---|---:|---|", ...rows].join("\n");
  const begin = "<!-- gas-table:begin -->";
  const end = "<!-- gas-table:end -->";
  const updated = template.replace(new RegExp(`${begin}[\\s\\S]*${end}`), `${begin}\n${table}\n${end}`);
  fs.writeFileSync(path.resolve(__dirname, "../docs/gas.md"), updated);
}

async function main() {
  await hre.run("compile", { quiet: true });
  if (process.env.GAS_ONLY === "register") return measureRegisterOnly();
  const gas = await measureAll();
  writeReport(gas);
  process.stdout.write(JSON.stringify(gas) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
