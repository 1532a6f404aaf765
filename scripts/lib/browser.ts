/**
 * Debian's Chromium driven by playwright-core, as the console's browser test and the screenshot
 * script use it: headless, no sandbox (containers), no background traffic (the machine may have no
 * network, and nothing may leave it), a fresh profile each time.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
  "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
];

/** Raised when there is no Chromium to drive; the message says how to install it. */
export class ChromiumMissingError extends Error {
  constructor(where: string) {
    super(`Chromium not found at ${where}: install Debian's package (apt-get update && apt-get install -y chromium) or set CHROMIUM_PATH`);
    this.name = "ChromiumMissingError";
  }
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh user-data dir, removed again by `close()`. */
export async function launchChromium(opts: { width?: number; height?: number; executablePath?: string } = {}): Promise<Browser> {
  const executablePath = opts.executablePath ?? CHROMIUM_PATH;
  if (!fs.existsSync(executablePath)) throw new ChromiumMissingError(executablePath);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "oracle-chromium-"));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath, headless: true, args: CHROMIUM_ARGS,
      viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 }, offline: false,
    });
    return {
      context,
      close: async () => {
        await context.close().catch(() => undefined);
        fs.rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}
