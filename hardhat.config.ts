import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/types";
import "@nomicfoundation/hardhat-ethers";
import "@nomicfoundation/hardhat-chai-matchers";

const SOLC_VERSION = "0.8.30";

// Hardhat normally downloads solc; this machine (and CI) reach only the npm registry, so the
// compiler comes from the pinned `solc` npm package instead.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const solcPkg = require("solc/package.json") as { version: string };
  if (solcPkg.version !== SOLC_VERSION) {
    throw new Error(`npm package solc is ${solcPkg.version}, expected ${SOLC_VERSION}: run npm install`);
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: `${SOLC_VERSION}+commit.73712a01`,
  };
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "prague",
      viaIR: true,
    },
  },
  networks: {
    hardhat: {
      // osaka has the RIP-7212 P-256 precompile; `HARDFORK=prague` measures the Solidity fallback.
      hardfork: process.env.HARDFORK ?? "osaka",
      allowUnlimitedContractSize: false,
    },
    localhost: { url: process.env.RPC_URL ?? "http://127.0.0.1:8545" },
  },
  mocha: {
    timeout: 120_000,
  },
};

export default config;
