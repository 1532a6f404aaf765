/**
 * The node's one error tree (oracle/src/errors.ts): which failures the queue retries and which
 * fail a job at once, decided by the type, not by a duck-typed flag.
 */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { HttpError } from "../../oracle/src/api/http";
import { AuditError } from "../../oracle/src/audit/errors";
import { shortError } from "../../oracle/src/chain/retry";
import { RpcError } from "../../oracle/src/chain/rpc";
import { SubmitError } from "../../oracle/src/chain/submitter";
import { ConfigError } from "../../oracle/src/config";
import { InputTooLargeError, RunnerCrashedError } from "../../oracle/src/enclave/errors";
import { OracleError, isPermanent } from "../../oracle/src/errors";
import { ModelDeclinedError, ModelNotReadyError } from "../../oracle/src/models/provision";
import { runnerCodeClosure } from "../../oracle/src/enclave/measure";
import { NotBondedError } from "../../oracle/src/node/bond";
import { PreflightError } from "../../oracle/src/node/preflight";
import { RequestUsageError } from "../../oracle/src/node/request-command";
import { DeclinedError, RegistryReadError } from "../../oracle/src/node/servability";
import { REPO_ROOT } from "../../oracle/src/paths";

describe("the node's error tree", () => {
  it("fails at once what retrying cannot fix, and retries the rest", () => {
    const permanent = [
      new DeclinedError("input-too-large", "input of 70000 bytes"), new InputTooLargeError(70_000, 65_536),
      new ModelDeclinedError("0xab", "spec-mismatch", "outputs differ"), new ConfigError(["RPC_URL is not a URL"]), new AuditError("unknown request id 9"),
      new PreflightError("RPC_URL does not answer eth_chainId"), new RequestUsageError("no model \"x\""), new HttpError(404, "no such path"),
      new NotBondedError({ operator: "0x" + "11".repeat(20), bonded: 0n, unbonding: 0n, withdrawableAt: 0, minBond: 10n ** 18n, isBonded: false }, 0n),
    ];
    const transient = [
      new RegistryReadError("getModel failed"), new RunnerCrashedError("exit 1"), new SubmitError("not mined"),
      new RpcError("eth_call: timeout", "NETWORK_ERROR"), new ModelNotReadyError("fetch busy"), new HttpError(503, "rpc check failed"),
    ];
    for (const e of [...permanent, ...transient]) expect(e, e.name).to.be.instanceOf(OracleError);
    expect(permanent.map((e) => [e.name, isPermanent(e)])).to.deep.equal(permanent.map((e) => [e.name, true]));
    expect(transient.map((e) => [e.name, isPermanent(e)])).to.deep.equal(transient.map((e) => [e.name, false]));
  });

  it("has one root: every error class of the node is an OracleError, except in the runner's measured code", () => {
    const src = path.join(REPO_ROOT, "oracle", "src");
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []));
    const measured = new Set(runnerCodeClosure(REPO_ROOT).files);
    const roots = files(src)
      .filter((f) => /class \w+ extends (Error|TypeError|RangeError)\b/.test(readFileSync(f, "utf8")))
      .map((f) => path.relative(REPO_ROOT, f).split(path.sep).join("/"))
      .filter((f) => !measured.has(f));
    expect(roots).to.deep.equal(["oracle/src/errors.ts"]);
  });

  it("retries an error that is not the node's, whatever flag it carries (the safe default)", () => {
    expect(isPermanent(new Error("socket hang up"))).to.equal(false);
    expect(isPermanent(Object.assign(new Error("a library's"), { transient: false }))).to.equal(false);
    expect(isPermanent("a string")).to.equal(false);
  });

  it("gives a decline its reason (the metric label and the trail's word), and a permanent error without one 'permanent'", () => {
    expect(new DeclinedError("gas-price-above-max", "too cheap").reason).to.equal("gas-price-above-max");
    expect(new ModelDeclinedError("0xab", "fetch-not-found", "404").reason).to.equal("fetch-not-found");
    expect(new AuditError("x").reason).to.equal("permanent");
  });

  it("ends the message with the advice, and a log line never cuts it", () => {
    const advice = " (fund it, or set ORACLE_PRIVATE_KEY to a funded key)";
    const err = new SubmitError(`sending failed: ${"x".repeat(500)}`, { advice });
    expect(err.message.endsWith(advice)).to.equal(true);
    expect(shortError(err).endsWith(advice)).to.equal(true);
    expect(new AuditError("cannot reach the chain", { details: "ECONNREFUSED (check --rpc)" }).message).to.equal("cannot reach the chain: ECONNREFUSED (check --rpc)");
  });
});
