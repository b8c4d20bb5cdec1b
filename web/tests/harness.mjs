// What the browser scripts share (browser.mjs, room.mjs): Debian's chromium through
// playwright-core, keyboard helpers, axe-core over a page, and the conversation with the
// Python test on stdin/stdout ("MAIL <kind>" for a mailed link, "DO <what>" for an action).
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
export const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const JSQR = readFileSync(require.resolve("jsqr/dist/jsQR.js"), "utf8");
export const BASE = process.env.RATHAUS_URL;
export const SHOTS = process.env.SCREENSHOTS;
export const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const reader = createInterface({ input: process.stdin });
const lines = reader[Symbol.asyncIterator]();
/** Ask the test: "MAIL <kind>" answers a mailed link's path, "DO <what>" does it and says how. */
async function ask(prefix, what) {
  console.log(`${prefix} ${what}`);
  const { value } = await lines.next();
  return value.trim();
}
export const mail = (kind) => ask("MAIL", kind);
export const act = (what) => ask("DO", what);

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export const audited = [];
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

/** What the QR code (an SVG) at ``selector`` says, read as a camera would: drawn to a canvas
 * and decoded by jsQR; null when it cannot be read. */
export async function readQr(page, selector) {
  await page.evaluate(JSQR); // like axe: through the DevTools protocol, the page's CSP stays
  return page.evaluate(async (selector) => {
    const svg = document.querySelector(selector);
    const image = new Image();
    image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}`;
    await image.decode();
    const size = 480;
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = size;
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(image, 0, 0, size, size);
    // eslint-disable-next-line no-undef
    return jsQR(context.getImageData(0, 0, size, size).data, size, size)?.data ?? null;
  }, selector);
}

export async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const name = el?.getAttribute("name") ?? "";
    return el ? `${el.tagName.toLowerCase()}|${el.id}|${(el.textContent ?? "").trim()}|${name}` : "";
  });
}

/** Tab (forward) until the focused element matches: the keyboard is the only way in. */
export async function tabTo(page, pattern, limit = 60) {
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

/** A page in a browser of its own (other flags than the scenario's), closed by the caller. */
export async function browserPage(extraArgs) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: [...ARGS, ...extraArgs], headless: true });
  const page = await browser.newPage({ locale: "de-DE", viewport: { width: 1100, height: 900 } });
  page.setDefaultTimeout(15000);
  return { browser, page };
}

/** Runs the scenario named on the command line in a fresh persistent context. */
export async function run(scenarios, extraArgs = []) {
  const scenario = scenarios[process.argv[2]];
  check(scenario, `scenario: ${Object.keys(scenarios).join("|")}`);
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  const userDataDir = process.env.USER_DATA_DIR;
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM,
    args: [...ARGS, ...extraArgs],
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

/** Tab (forward) until the focused element is the link to ``href`` (one of several with the
 * same text, as a table's rows have). */
export async function tabToLink(page, href, limit = 120) {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    if ((await page.evaluate(() => document.activeElement?.getAttribute("href"))) === href) return;
  }
  throw new Error(`no link to ${href} within ${limit} tabs on ${page.url()}`);
}
