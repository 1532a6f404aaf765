/**
 * `oracle dev`: a local oracle for a dApp's integration tests (see local-oracle.ts). Prints the
 * addresses (one JSON line with --json), runs until SIGINT/SIGTERM, then stops everything it
 * started and exits 0.
 */
import type { Command } from "commander";
import { shortError } from "../chain/retry";
import { describeLocalOracle, startLocalOracle, type LocalOracle } from "./local-oracle";

interface DevOpts {
  rpcUrl?: string;
  json?: boolean;
  httpPort?: string;
  confirmations?: string;
}

function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return n;
}

function describe(o: LocalOracle): string {
  const lines = [
    `local oracle ready (development platform: a SIMULATION of TEE hardware, never for production)`,
    `  chain        ${o.rpcUrl} (chain id ${o.chainId})`,
    `  oracle API   ${o.apiUrl}`,
    ...Object.entries(o.contracts).map(([name, address]) => `  ${name.padEnd(22)} ${address}`),
    ...Object.entries(o.models).map(([name, id]) => `  model ${String(id).padEnd(3)} ${name}`),
    `Ctrl-C stops it.`,
  ];
  return `${lines.join("\n")}\n`;
}

export function registerDevCommand(program: Command): void {
  program
    .command("dev")
    .description("Local oracle for a dApp's tests: start (or attach to) a chain, deploy, register the models, run a node")
    .option("--rpc-url <url>", "deploy to this running chain (e.g. your `npx hardhat node`) instead of starting one")
    .option("--json", "print the addresses as one JSON line on stdout (logs go to stderr)")
    .option("-p, --http-port <port>", "the node's HTTP API port (default: any free port)")
    .option("--confirmations <n>", "blocks the node trails the head by (default 0)")
    .action(async (opts: DevOpts) => {
      let oracle: LocalOracle;
      try {
        oracle = await startLocalOracle({
          rpcUrl: opts.rpcUrl, httpPort: intOption("http-port", opts.httpPort), confirmations: intOption("confirmations", opts.confirmations),
        });
      } catch (err) {
        process.stderr.write(`oracle dev: ${shortError(err)}\n`);
        process.exit(1);
      }
      process.stdout.write(opts.json ? `${JSON.stringify(describeLocalOracle(oracle))}\n` : describe(oracle));
      let signalled = false;
      const onSignal = (sig: NodeJS.Signals) => {
        if (signalled) process.exit(130);
        signalled = true;
        process.stderr.write(`oracle dev: ${sig}, stopping\n`);
        void oracle.stop().finally(() => process.exit(0));
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    });
}
