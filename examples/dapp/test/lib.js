// Shared by the tests: a signer on RPC_URL and a deployer of build/*.json.
const { ContractFactory, JsonRpcProvider, NonceManager, Wallet } = require("ethers");

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`set ${name}`);
  return v;
}

function signer() {
  const provider = new JsonRpcProvider(env("RPC_URL"), undefined, { pollingInterval: 200 });
  return new NonceManager(new Wallet(env("PRIVATE_KEY"), provider));
}

async function deploy(runner, name, ...args) {
  const { abi, bytecode } = require(`../build/${name}.json`);
  const c = await new ContractFactory(abi, bytecode, runner).deploy(...args);
  await c.waitForDeployment();
  return c;
}

const IRIS_LABELS = ["setosa", "versicolor", "virginica"];
module.exports = { env, signer, deploy, IRIS_LABELS };
