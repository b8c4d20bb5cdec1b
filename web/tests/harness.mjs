// What a browser script of the portal needs: Debian's chromium through playwright-core, axe-core
// over a page, moving by keyboard only, and asking the Python test for what only it has (a
// mail's link, a TOTP code) by a line on stdout answered on stdin.
// Environment: RATHAUS_URL (the gateway), CHROMIUM (the executable), USER_DATA_DIR, SCREENSHOTS
// (optional folder).
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const BASE = process.env.RATHAUS_URL;
const SHOTS = process.env.SCREENSHOTS;
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // A camera and a microphone that exist (a test pattern and a tone), allowed without asking.
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--autoplay-policy=no-user-gesture-required",
];

const reader = createInterface({ input: process.stdin });
const lines = reader[Symbol.asyncIterator]();
/** Ask the Python test ("MAIL opt-in", "OTP") and read its one-line answer. */
export async function ask(question) {
  console.log(question);
  const { value } = await lines.next();
  return value.trim();
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

const audited = [];
/** axe-core over the page as it is now: no serious or critical violation (WCAG 2.1 A/AA). */
export async function audit(page, name) {
  await page.evaluate(AXE); // through the DevTools protocol: the page's CSP stays as served
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(
    bad.length === 0,
    `axe on ${name}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`).join("; ")}`,
  );
  audited.push(name);
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The focused element as "tag|id|text|name|href". */
export async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const name = el?.getAttribute("name") ?? "";
    const href = el?.getAttribute("href") ?? "";
    return el ? `${el.tagName.toLowerCase()}|${el.id}|${(el.textContent ?? "").trim()}|${name}|${href}` : "";
  });
}

/** Tab (forward) until the focused element matches: the keyboard is the only way in. */
export async function tabTo(page, pattern, limit = 80) {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    const now = await focused(page);
    if (pattern.test(now)) return now;
  }
  throw new Error(`no focusable element matching ${pattern} within ${limit} tabs on ${page.url()}`);
}

export async function heading(page, text) {
  await page.locator("h1", { hasText: text }).waitFor({ timeout: 15000 });
}

/** Run ``scenarios[argv[2]]`` with a fresh Chromium; any error in a page fails it. */
export async function run(scenarios) {
  const scenario = scenarios[process.argv[2]];
  check(scenario, `scenario: ${Object.keys(scenarios).join("|")}`);
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  const context = await chromium.launchPersistentContext(process.env.USER_DATA_DIR, {
    executablePath: process.env.CHROMIUM,
    args: ARGS,
    headless: true,
    acceptDownloads: true,
    locale: "de-DE",
    viewport: { width: 1100, height: 900 },
  });
  const errors = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15000);
    const started = Date.now();
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) console.log(`${((Date.now() - started) / 1000).toFixed(1)}s ${frame.url()}`);
    });
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error" && !/Failed to load resource/.test(message.text())) errors.push(message.text());
    });
    try {
      await scenario(page, context);
    } catch (error) {
      console.error(`failed on ${page.url()}; the page said:\n${await page.locator("body").innerText().catch(() => "")}`);
      throw error;
    }
    check(errors.length === 0, `errors in the page: ${errors.join("; ")}`);
    console.log(`OK ${process.argv[2]}: axe clean on ${audited.join(", ")}`);
  } finally {
    await context.close();
    reader.close(); // stdin would keep the process alive
  }
}
