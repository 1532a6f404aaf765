/**
 * One runner process, from launch to stop: the host measures the runner's code, forks it (under
 * an OS memory limit, with ts-node and nothing of the host's environment but PATH), sends `init`
 * (with the sealing key, if sealing), and has it attested over the host's own measurement and
 * operator. The host (host.ts) supervises these processes: it restarts one that dies and sends
 * it jobs.
 */
import type { ChildProcess } from "node:child_process";
import { ZeroAddress, getAddress, keccak256 } from "ethers";
import type { AttestationBackend, EnclaveEvidence } from "./backend";
import { forkCapped } from "./capped-fork";
import { EnclaveError, RunnerCrashedError, RunnerStartError } from "./errors";
import type { EnclaveLimits, EnclaveLogger, EnclaveTestHooks } from "./host-options";
import type { RunnerMessage, RunnerReply } from "./ipc";
import { measureRunner, RUNNER_ENTRY, type RunnerMeasurement } from "./measure";
import { sendRequest, waitReady, type Pending } from "./runner-ipc";

/** One runner process and what the host knows about it. */
export interface RunnerProcess {
  child: ChildProcess;
  pending: Map<number, Pending>;
  signer: string;
  measurement: RunnerMeasurement;
  attestation: EnclaveEvidence;
  exited: boolean;
  /** Why the host is killing it, if it is. */
  killReason?: string;
}

/** How the host launches its runners (fixed for the host's life). */
export interface LaunchSettings {
  /** Checkout whose runner is measured and launched. */
  repoRoot: string;
  modelsDir: string;
  limits: EnclaveLimits;
  chainId: bigint;
  oracleAddress: string;
  /** The operator every report names (checksummed); undefined if none was configured. */
  operator: string | undefined;
  platform: AttestationBackend;
  sealedKeyPath?: string;
  hooks: EnclaveTestHooks;
  log: EnclaveLogger;
  /** The host's next request id (one sequence for all its messages). */
  nextId(): number;
}

/** Measure, fork, init, attest. Rejects with RunnerStartError; never leaves a process behind. */
export async function launchRunner(settings: LaunchSettings): Promise<RunnerProcess> {
  let measurement: RunnerMeasurement;
  try {
    measurement = measureRunner({ repoRoot: settings.repoRoot });
  } catch (err) {
    throw new RunnerStartError(`measuring the runner failed: ${(err as Error).message}`, err);
  }
  const child = forkRunner(settings);
  const pending = new Map<number, Pending>();
  const runner: RunnerProcess = { child, pending, measurement, signer: "", attestation: undefined as unknown as EnclaveEvidence, exited: false };
  const exited = new Promise<never>((_, reject) => {
    child.once("exit", (code, signal) => {
      runner.exited = true;
      const reason = runner.killReason ?? `runner exited (${signal ? `signal ${signal}` : `code ${code}`})`;
      for (const p of pending.values()) p.reject(new RunnerCrashedError(reason));
      pending.clear();
      reject(new RunnerStartError(reason));
    });
  });
  exited.catch(() => undefined);
  child.on("error", (err) => settings.log.warn({ err: err.message }, "runner process error"));
  child.on("message", (msg: RunnerMessage) => {
    settings.hooks.onIpc?.("fromRunner", msg);
    const id = (msg as { id?: unknown }).id;
    if (typeof id !== "number") return;
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    p.resolve(msg as RunnerReply);
  });
  try {
    await Promise.race([waitReady(child, settings.limits.startTimeoutMs), exited]);
    const sealing = settings.sealedKeyPath !== undefined
      ? { sealingKey: settings.platform.sealingKey!(measurement.measurement), measurement: measurement.measurement, sealedKeyPath: settings.sealedKeyPath }
      : {};
    const init = await Promise.race([
      sendRequest(child, pending, {
        type: "init", id: settings.nextId(), chainId: settings.chainId, oracleAddress: settings.oracleAddress, modelsDir: settings.modelsDir,
        maxModelBytes: settings.limits.maxModelBytes, ...sealing,
      }, settings.limits.startTimeoutMs, settings.hooks),
      exited,
    ]);
    if (!init.ok) throw new RunnerStartError(`${init.code}: ${init.message}`);
    if (init.type !== "init") throw new RunnerStartError(`answered init with ${init.type}`);
    runner.signer = getAddress(init.signer);
    runner.attestation = await Promise.race([attestRunner(settings, runner, runner.signer), exited]);
    settings.log.info({ signer: runner.signer, measurement: measurement.measurement, pid: child.pid, unsealed: init.unsealed }, "runner attested");
    return runner;
  } catch (err) {
    await stopRunner(runner, "start failed");
    if (err instanceof EnclaveError) throw err;
    throw new RunnerStartError((err as Error).message, err);
  }
}

/** Has the platform attest the runner's signer over the host's measurement and operator. */
export async function attestRunner(
  settings: LaunchSettings, { child, pending, measurement }: Pick<RunnerProcess, "child" | "pending" | "measurement">, expectedSigner?: string,
): Promise<EnclaveEvidence> {
  const reply = await sendRequest(child, pending, { type: "attest", id: settings.nextId() }, settings.limits.startTimeoutMs, settings.hooks);
  if (!reply.ok) throw new RunnerStartError(`attest refused: ${reply.code}: ${reply.message}`);
  if (reply.type !== "attest") throw new RunnerStartError(`answered attest with ${reply.type}`);
  const signer = getAddress(reply.signer);
  if (expectedSigner !== undefined && signer !== expectedSigner) throw new RunnerStartError(`attest names ${signer}, init named ${expectedSigner}`);
  if (reply.reportData !== keccak256(signer)) throw new RunnerStartError("report data is not keccak256(signer)");
  // The measurement is the host's own, computed before launch: the runner claims none. The
  // operator is the host's configuration too: the runner neither sees nor signs it.
  const evidence = await settings.platform.attest({
    measurement: measurement.measurement, runtime: measurement.runtime, signer,
    ...(settings.operator !== undefined ? { operator: settings.operator } : {}),
  });
  if (evidence.format === "dev" && evidence.operator !== (settings.operator ?? ZeroAddress)) {
    throw new RunnerStartError(`the platform's report names operator ${evidence.operator}, the host is configured with ${settings.operator ?? "none"}`);
  }
  return evidence;
}

/** Disconnects the runner (it exits on disconnect), then kills it if it lingers. */
export async function stopRunner(runner: RunnerProcess, reason: string): Promise<void> {
  if (runner.exited) return;
  runner.killReason = reason;
  const exited = new Promise<void>((resolve) => runner.child.once("exit", () => resolve()));
  try {
    if (runner.child.connected) runner.child.disconnect();
  } catch {
    // already gone
  }
  const timer = setTimeout(() => runner.child.kill("SIGKILL"), 2_000);
  await exited;
  clearTimeout(timer);
}

function forkRunner({ repoRoot, limits, hooks, log }: LaunchSettings): ChildProcess {
  const env: Record<string, string> = {
    ...(hooks.slowJob
      ? { ORACLE_ENCLAVE_TEST_HOOKS: "1", ORACLE_RUNNER_TEST_DELAY_MS: String(hooks.slowJob.delayMs), ORACLE_RUNNER_TEST_SLOW_REQUEST_ID: String(hooks.slowJob.requestId) }
      : {}),
    ...(hooks.env ?? {}),
  };
  const child = forkCapped({ repoRoot, entry: RUNNER_ENTRY, memoryMb: limits.maxRunnerMemoryMb, env, execArgv: hooks.execArgv });
  const forward = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
    hooks.onOutput?.(stream, chunk);
    const text = chunk.toString("utf8").trimEnd();
    if (text) log.warn({ pid: child.pid, stream }, `runner ${stream}: ${text.slice(0, 2000)}`);
  };
  child.stdout?.on("data", forward("stdout"));
  child.stderr?.on("data", forward("stderr"));
  return child;
}
