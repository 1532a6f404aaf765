/**
 * Re-runs a model for an audit in a child process held to a memory limit and a time limit, as the
 * runner is: the model file is whatever its publisher uploaded, and an enclave whose operator
 * raised its own runner's limits can have "run" a model that would take this process down. One
 * worker per process, started on first use and kept for the next audit (a demo or a console audits
 * many results); one that dies or overruns is killed, and the next re-run starts a fresh one.
 */
import type { ChildProcess } from "node:child_process";
import { forkCapped } from "../../enclave/capped-fork";
import { PermanentError } from "../../errors";
import { REPO_ROOT } from "../../paths";
import type { RerunAnswer, RerunJob, RerunReady } from "./rerun-worker";

export interface RerunLimits {
  /** Data-segment limit of the worker, MiB (as the runner's default: 4096). */
  memoryMb: number;
  /** Time for one re-run, model load included. */
  timeoutMs: number;
}

export const DEFAULT_RERUN_LIMITS: RerunLimits = { memoryMb: 4096, timeoutMs: 60_000 };

/** A re-run that did not give an output: the model failed, died on the memory limit, or overran. */
export class RerunError extends PermanentError {
  override name = "RerunError";
}

const ENTRY = "oracle/src/audit/result/rerun-worker.ts";

interface Worker { child: ChildProcess; ready: Promise<void>; limits: RerunLimits; exited: boolean }

let worker: Worker | undefined;
let nextId = 1;
/** Re-runs go one at a time through the one worker. */
let tail: Promise<unknown> = Promise.resolve();

function start(limits: RerunLimits): Worker {
  // Its output is discarded (no pipe keeps this process alive): answers and errors come over IPC.
  const child = forkCapped({ repoRoot: REPO_ROOT, entry: ENTRY, memoryMb: limits.memoryMb, output: "ignore" });
  const ready = new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code, signal) => reject(new RerunError(`the re-run worker exited before it was ready (${signal ?? `code ${code}`})`)));
  });
  ready.catch(() => undefined);
  const w: Worker = { child, limits, exited: false, ready };
  child.once("exit", () => { w.exited = true; if (worker === w) worker = undefined; });
  idle(w);
  return w;
}

/** An idle worker does not keep the process alive (a CLI exits when its audit is done). */
function idle(w: Worker): void {
  w.child.unref();
  w.child.channel?.unref();
}

function busy(w: Worker): void {
  w.child.ref();
  w.child.channel?.ref();
}

/**
 * The output and status of `modelHash` (a file `<hash>.onnx`, or any .onnx with that sha256, in
 * `dir`) on `input`, computed in the capped worker. Throws {@link RerunError}.
 */
export function rerunModel(dir: string, modelHash: string, input: string, limits: RerunLimits = DEFAULT_RERUN_LIMITS): Promise<{ output: string; status: number }> {
  const run = tail.then(() => runOne({ id: nextId++, dir, modelHash, input }, limits));
  tail = run.catch(() => undefined);
  return run;
}

async function runOne(job: RerunJob, limits: RerunLimits): Promise<{ output: string; status: number }> {
  if (worker && worker.limits.memoryMb !== limits.memoryMb) kill(worker);
  const w = worker ?? (worker = start(limits));
  busy(w);
  try {
    await w.ready;
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        kill(w);
        reject(new RerunError(`the model did not finish re-running within ${limits.timeoutMs} ms (killed)`));
      }, limits.timeoutMs);
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(timer);
        reject(new RerunError(`the re-run worker died (${signal ?? `code ${code}`}) running the model: it needs more than the ${limits.memoryMb} MiB re-run memory limit, or crashed onnxruntime`));
      };
      const onMessage = (answer: RerunAnswer | RerunReady) => {
        if (!("id" in answer) || answer.id !== job.id) return;
        clearTimeout(timer);
        w.child.off("message", onMessage);
        w.child.off("exit", onExit);
        if ("error" in answer) reject(new RerunError(answer.error));
        else resolve({ output: answer.output, status: answer.status });
      };
      w.child.on("message", onMessage);
      w.child.once("exit", onExit);
      w.child.send(job);
    });
  } finally {
    if (!w.exited) idle(w);
  }
}

function kill(w: Worker): void {
  if (worker === w) worker = undefined;
  w.child.kill("SIGKILL");
}
