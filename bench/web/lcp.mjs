// Largest Contentful Paint of the portal's pages in Chromium (PerformanceObserver), and the
// JavaScript each page loaded (bytes on the wire, gzip as the gateway's files would travel).
//   node bench/web/lcp.mjs <gateway URL> <repeat> <path> [<path> ...]
// A path may list variants separated by "|": visit i takes variant i (a booking page holds its
// slot, so each visit needs another one).
// Run by bench/web/run.py; prints one JSON line per page.
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const require = createRequire(new URL("../../web/package.json", import.meta.url));
const { chromium } = require("playwright-core");
const [base, repeat, ...paths] = process.argv.slice(2);
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

const folder = mkdtempSync(join(tmpdir(), "rathaus-lcp-"));
const context = await chromium.launchPersistentContext(folder, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ARGS,
  headless: true,
  viewport: { width: 1100, height: 900 },
});
try {
  for (const variants of paths) {
    const path = variants.split("|")[0];
    const samples = [];
    const elements = new Set();
    const ready = [];
    let js = { files: 0, raw: 0, gzip: 0 };
    for (let i = 0; i < Number(repeat); i++) {
      const page = await context.newPage();
      // A cold visit each time: nothing cached from the previous one.
      const session = await context.newCDPSession(page);
      await session.send("Network.setCacheDisabled", { cacheDisabled: true });
      const scripts = [];
      page.on("response", async (response) => {
        if (response.request().resourceType() === "script") scripts.push(response.body());
      });
      const visit = variants.split("|")[i] ?? path;
      await page.goto(`${base}${visit}`, { waitUntil: "load" });
      if (path.startsWith("/book")) {
        // The booking page is usable once the slot is held (after the proof of work, if any).
        const at = await page.waitForFunction(() => document.querySelector("form") && performance.now(), null, {
          polling: "raf",
          timeout: 60000,
        });
        ready.push(await at.jsonValue());
      }
      await page.waitForSelector("main h1", { timeout: 15000 });
      await page.waitForLoadState("networkidle");
      const lcp = await page.evaluate(
        () =>
          new Promise((resolve) => {
            new PerformanceObserver((list) => {
              const entries = list.getEntries();
              const last = entries[entries.length - 1];
              const el = last.element;
              resolve({ time: last.startTime, element: el ? `${el.tagName.toLowerCase()}${el.className ? "." + el.className : ""}` : "" });
            }).observe({ type: "largest-contentful-paint", buffered: true });
          }),
      );
      samples.push(lcp.time);
      elements.add(lcp.element);
      const bodies = await Promise.all(scripts);
      js = {
        files: bodies.length,
        raw: bodies.reduce((n, b) => n + b.length, 0),
        gzip: bodies.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0),
      };
      await page.close();
    }
    samples.sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        path: variants,
        lcp_ms_median: samples[Math.floor(samples.length / 2)],
        lcp_ms_best: samples[0],
        lcp_ms_worst: samples[samples.length - 1],
        lcp_element: [...elements].join(" / "),
        form_ms_median: ready.length ? ready.sort((a, b) => a - b)[Math.floor(ready.length / 2)] : null,
        js_files: js.files,
        js_kib: +(js.raw / 1024).toFixed(1),
        js_gzip_kib: +(js.gzip / 1024).toFixed(1),
      }),
    );
  }
} finally {
  await context.close();
  rmSync(folder, { recursive: true, force: true });
}
