/**
 * Calls to the runner process over Node IPC: one request, its answer matched by id, a timeout
 * that kills the runner (onnxruntime cannot be interrupted), the runner's error codes as the
 * host's errors, and waiting for the runner's `ready` message.
 */
import type { ChildProcess } from "node:child_process";
import {
  EnclaveError,
  InputRejectedError,
  InvalidJobError,
  ModelRejectedError,
  RunnerCrashedError,
  RunnerFailedError,
  RunnerStartError,
  RunnerTimeoutError,
} from "./errors";
import type { HostMessage, RunnerMessage, RunnerReply } from "./ipc";

/** A request sent and not yet answered. */
export interface Pending {
  resolve(msg: RunnerReply): void;
  reject(err: Error): void;
}

/** The runner's error code as the host's error (the runner's message kept). */
export function mapRunnerError(code: string, message: string): EnclaveError {
  switch (code) {
    case "MODEL_REJECTED":
      return new ModelRejectedError(message);
    case "INPUT_REJECTED":
      return new InputRejectedError(message);
    case "BAD_REQUEST":
      return new InvalidJobError(message);
    default:
      return new RunnerFailedError(code, message);
  }
}

/** Sends one request and resolves with its answer; after `timeoutMs` calls `onTimeout` (which kills the runner) and rejects. */
export function sendRequest(
  child: ChildProcess,
  pending: Map<number, Pending>,
  msg: HostMessage,
  timeoutMs: number,
  hooks: { onIpc?: (direction: "toRunner", msg: HostMessage) => void },
  onTimeout?: (reason: string) => void,
): Promise<RunnerReply> {
  return new Promise<RunnerReply>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(msg.id);
      onTimeout?.(`killed after ${timeoutMs} ms without an answer`);
      reject(new RunnerTimeoutError(timeoutMs));
    }, timeoutMs);
    pending.set(msg.id, {
      resolve: (m) => {
        clearTimeout(timer);
        resolve(m);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    hooks.onIpc?.("toRunner", msg);
    try {
      child.send(msg, (err) => {
        if (err && pending.delete(msg.id)) {
          clearTimeout(timer);
          reject(new RunnerCrashedError(`sending to the runner failed: ${err.message}`));
        }
      });
    } catch (err) {
      pending.delete(msg.id);
      clearTimeout(timer);
      reject(new RunnerCrashedError(`sending to the runner failed: ${(err as Error).message}`));
    }
  });
}

/** Resolves when the runner says it is ready, rejects after `timeoutMs`. */
export function waitReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off("message", onMessage);
      reject(new RunnerStartError(`the runner did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: RunnerMessage): void => {
      if ((m as { type?: string }).type !== "ready") return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve();
    };
    child.on("message", onMessage);
  });
}
