/**
 * `npm run screenshots`: runs the demo's flow (scripts/lib/console-demo.ts), opens the console and
 * one request's audit page in headless Chromium, and saves them as PNG into docs/:
 *
 *   docs/console.png        the console after the demo's requests and a stream of small ones
 *   docs/console-audit.png  the end-to-end audit page of the first iris request
 *
 * Needs /usr/bin/chromium (Debian: apt-get install -y chromium) or CHROMIUM_PATH.
 */
import path from "node:path";
import { launchChromium } from "./lib/browser";
import { startConsoleDemo } from "./lib/console-demo";
import { REPO_ROOT } from "../oracle/src/paths";

async function main(): Promise<void> {
  const say = (s: string) => process.stdout.write(`${s}\n`);
  const browser = await launchChromium({ width: 1400, height: 900 });
  const demo = await startConsoleDemo({ log: say });
  try {
    await demo.load(60, 6);
    await demo.waitFulfilled([...demo.ids.iris, demo.ids.risk, ...demo.ids.penguins]);
    await new Promise((r) => setTimeout(r, 3000)); // a few more samples for the charts
    const page = await browser.context.newPage();
    await page.goto(`${demo.url}/console/`);
    await page.waitForSelector('#requests tr[data-status="fulfilled"]');
    await page.waitForSelector('#chart-fulfilled[data-points]:not([data-points="0"])');
    await page.waitForTimeout(2500);
    const out = path.join(REPO_ROOT, "docs", "console.png");
    await page.screenshot({ path: out, fullPage: true });
    say(`saved ${path.relative(REPO_ROOT, out)}`);
    await page.goto(`${demo.url}/console/audit/${demo.ids.iris[0]}`);
    const audit = path.join(REPO_ROOT, "docs", "console-audit.png");
    await page.screenshot({ path: audit, fullPage: true });
    say(`saved ${path.relative(REPO_ROOT, audit)}`);
  } finally {
    await demo.stop();
    await browser.close();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`screenshots failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
