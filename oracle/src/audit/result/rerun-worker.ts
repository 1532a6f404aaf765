/**
 * The child process of an audit's model re-run (rerun.ts forks it under a memory limit): it loads
 * a model file from a folder, runs one input, and answers with the encoded output, or with the
 * error. The model is anyone's upload, so it runs here and never in the auditor's own process.
 */
import { ModelStore } from "../../models/store";

export interface RerunJob { id: number; dir: string; modelHash: string; input: string }
export type RerunAnswer = { id: number; output: string; status: number } | { id: number; error: string };
/** Sent once, when the worker listens. */
export interface RerunReady { ready: true }

const stores = new Map<string, ModelStore>();

process.on("message", (job: RerunJob) => {
  let store = stores.get(job.dir);
  if (!store) stores.set(job.dir, (store = new ModelStore({ dir: job.dir })));
  store.infer(job.modelHash, job.input).then(
    (r) => process.send!({ id: job.id, output: r.output, status: r.status } satisfies RerunAnswer),
    (err: Error) => process.send!({ id: job.id, error: err.message } satisfies RerunAnswer),
  );
});
process.on("disconnect", () => process.exit(0));
process.send!({ ready: true } satisfies RerunReady);
