// Compiles contracts/*.sol, and the package's MockInferenceOracle for the unit tests, with solc-js
// from this project's node_modules. Imports resolve as Node resolves modules (node_modules).
const fs = require("node:fs");
const path = require("node:path");
const solc = require("solc");

const MOCK = "@attested-inference-oracle/contracts/mocks/MockInferenceOracle.sol";
const sources = { [MOCK]: { content: fs.readFileSync(require.resolve(MOCK), "utf8") } };
for (const f of fs.readdirSync(path.join(__dirname, "contracts")).filter((f) => f.endsWith(".sol"))) {
  sources[`contracts/${f}`] = { content: fs.readFileSync(path.join(__dirname, "contracts", f), "utf8") };
}
const findImports = (p) => {
  try {
    return { contents: fs.readFileSync(require.resolve(p, { paths: [__dirname] }), "utf8") };
  } catch {
    return { error: `not found: ${p}` };
  }
};
const input = {
  language: "Solidity", sources,
  settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun", outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
};
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (out.errors ?? []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
fs.mkdirSync(path.join(__dirname, "build"), { recursive: true });
for (const file of Object.values(out.contracts)) {
  for (const [name, c] of Object.entries(file)) {
    fs.writeFileSync(path.join(__dirname, "build", `${name}.json`), JSON.stringify({ abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` }));
    console.log(`build/${name}.json`);
  }
}
console.log(`solc ${solc.version()}`);
