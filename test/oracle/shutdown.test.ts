/**
 * The node's stop order (oracle/src/shutdown.ts): every part main.ts starts is stopped on close()
 * and on a failed start, in an order that follows from where each part registered its stop. (A
 * stop once registered but missing from a separate order list left a closed node polling the
 * chain every 30 s on a destroyed provider.)
 */
import { Writable } from "node:stream";
import { expect } from "chai";
import pino from "pino";
import { Started } from "../../oracle/src/shutdown";

function recordingLog() {
  const lines: { msg: string; step?: string; err?: string }[] = [];
  const log = pino({ level: "warn" }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
  return { log, lines };
}

describe("the node's stop order", () => {
  it("stops every part it started: the intake and the drain first, then the rest, the last started first", async () => {
    const { log } = recordingLog();
    const started = new Started(log);
    const stopped: string[] = [];
    const part = (name: string) => () => { stopped.push(name); };
    // Registered as startNode starts the parts.
    started.add("provider", part("provider"));
    started.add("queue", part("queue"));
    started.add("runners", part("runners"));
    started.add("signer refresh", part("signer refresh"));
    started.add("processing", part("processing"), { drains: true, timeoutMs: 1000 });
    started.add("watcher", part("watcher"), { drains: true });
    started.add("console", part("console"));
    started.add("http", part("http"));
    await started.stopAll("shutdown step failed; continuing");
    expect(stopped).to.deep.equal(["watcher", "processing", "http", "console", "signer refresh", "runners", "queue", "provider"]);
  });

  it("runs the next stop when one throws (and logs which), and moves on from a drain that outlasts its time", async () => {
    const { log, lines } = recordingLog();
    const started = new Started(log);
    const stopped: string[] = [];
    started.add("provider", () => { stopped.push("provider"); });
    started.add("runners", async () => { throw new Error("retireSigner reverted"); });
    started.add("processing", () => new Promise(() => undefined), { drains: true, timeoutMs: 50 });
    const t0 = Date.now();
    await started.stopAll("shutdown step failed; continuing");
    expect(Date.now() - t0).to.be.below(1000);
    expect(stopped).to.deep.equal(["provider"]);
    expect(lines.find((l) => l.step === "runners")).to.include({ msg: "shutdown step failed; continuing", err: "retireSigner reverted" });
  });
});
