/**
 * The `oracle` command line (bin/oracle, `npm run oracle -- <command>`).
 *
 * The node's commands (start, status, register-enclave, bond, request) live in
 * oracle/src/node/commands.ts and node/request-command.ts, `oracle dev` (a local chain with a
 * node, development tooling) in oracle/src/dev/; the auditor's commands are registered by
 * `registerAuditCommands(program)` from oracle/src/audit; the model commands (inspect, check,
 * pack, publish, fetch, list) by `registerModelCommands` from oracle/src/models/cli.ts.
 */
import { Command } from "commander";
import { registerAuditCommands } from "./audit/cli";
import { registerModelCommands } from "./models/cli";
import { registerNodeCommands } from "./node/commands";
import { registerDevCommand } from "./dev/command";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("oracle")
    .description("Attested inference oracle: run a node, register enclaves, audit attestations and results")
    .showHelpAfterError();
  registerNodeCommands(program);
  registerDevCommand(program);
  registerAuditCommands(program);
  registerModelCommands(program);
  return program;
}

if (require.main === module) {
  buildProgram().parseAsync(process.argv).catch((err: Error) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  });
}
