/**
 * The node's one error tree (oracle/src/errors.ts): which failures the queue retries and which
 * fail a job at once, decided by the type, not by a duck-typed flag.
 */
import { expect } from "chai";
import { AuditError } from "../../oracle/src/audit/errors";
import { shortError } from "../../oracle/src/chain/retry";
import { RpcError } from "../../oracle/src/chain/rpc";
import { SubmitError } from "../../oracle/src/chain/submitter";
import { ConfigError } from "../../oracle/src/config";
import { InputTooLargeError, RunnerCrashedError } from "../../oracle/src/enclave/errors";
import { OracleError, isPermanent } from "../../oracle/src/errors";
import { ModelDeclinedError, ModelNotReadyError } from "../../oracle/src/models/provision";
import { DeclinedError, RegistryReadError } from "../../oracle/src/node/servability";

describe("the node's error tree", () => {
  it("fails at once what retrying cannot fix, and retries the rest", () => {
    const permanent = [
      new DeclinedError("input-too-large", "input of 70000 bytes"), new InputTooLargeError(70_000, 65_536),
      new ModelDeclinedError("0xab", "spec-mismatch", "outputs differ"), new ConfigError(["RPC_URL is not a URL"]), new AuditError("unknown request id 9"),
    ];
    const transient = [
      new RegistryReadError("getModel failed"), new RunnerCrashedError("exit 1"), new SubmitError("not mined"),
      new RpcError("eth_call: timeout", "NETWORK_ERROR"), new ModelNotReadyError("fetch busy"),
    ];
    for (const e of [...permanent, ...transient]) expect(e, e.name).to.be.instanceOf(OracleError);
    expect(permanent.map((e) => [e.name, isPermanent(e)])).to.deep.equal(permanent.map((e) => [e.name, true]));
    expect(transient.map((e) => [e.name, isPermanent(e)])).to.deep.equal(transient.map((e) => [e.name, false]));
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
