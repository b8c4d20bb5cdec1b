// The citizen's consultation room and check-in by QR code in a real Chromium, keyboard only,
// axe-core over every page. Started by tests/web/test_portal_in_a_browser.py:
//   node web/tests/room.mjs room
// Environment (besides harness.mjs's): ROOM_MANAGE, the manage link's path of a booking moved
// to now (its room's call and its check-in open), LATER_MANAGE that of a later one. The clerk
// is the test's aiortc peer: "DO clerk-joins", "DO admit", "DO frames" (how many frames of our
// fake camera it received), "DO end"; "DO clerk-writes" posts a message as the clerk.
import { readFileSync } from "node:fs";
import { act, audit, BASE, browserPage, check, heading, readQr, run, tabTo } from "./harness.mjs";

// Chromium's fake camera and microphone, allowed without asking; raw host candidates on loopback.
const MEDIA = [
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--autoplay-policy=no-user-gesture-required",
];

function roomPath(manage, query = "") {
  return manage.replace("#", `/room${query}#`);
}

async function checkIn(page) {
  // The later booking: the QR code's link opens the check-in page, which shows the API's refusal.
  await page.goto(`${BASE}${process.env.LATER_MANAGE}`);
  await heading(page, "Ihr Termin");
  await page.getByRole("img", { name: "QR-Code zum Einchecken" }).waitFor();
  const href = await page.locator(".qr-figure a").getAttribute("href");
  check(/^\/bookings\/[0-9a-f-]+\/check-in#token=/.test(href), `the check-in link ${href}`);
  const scanned = await readQr(page, "svg.qr");
  check(scanned === `${BASE}${href}`, `the QR code says ${scanned}, not the link ${BASE}${href}`);
  await tabTo(page, /^a\|\|Einchecken\|/);
  await page.keyboard.press("Enter");
  await heading(page, "Einchecken");
  await page.locator("[role=alert]", { hasText: "60" }).waitFor();
  await audit(page, "check-in-refused-de");

  // Today's booking: checked in, with how many wait ahead.
  await page.goto(`${BASE}${process.env.ROOM_MANAGE}`);
  await heading(page, "Ihr Termin");
  await page.getByRole("img", { name: "QR-Code zum Einchecken" }).waitFor();
  await audit(page, "manage-room-de");
  await tabTo(page, /^a\|\|Einchecken\|/);
  await page.keyboard.press("Enter");
  await heading(page, "Einchecken");
  await page.locator(".success", { hasText: "Sie sind eingecheckt" }).waitFor();
  await audit(page, "check-in-de");
  await tabTo(page, /^a\|\|Zurück zu Ihrem Termin/);
  await page.keyboard.press("Enter");
  await heading(page, "Ihr Termin");
}

async function talk(page) {
  await tabTo(page, /^a\|\|Beratungsraum öffnen/);
  await page.keyboard.press("Enter");
  await heading(page, "Beratungsraum");
  await page.locator(".timeline li", { hasText: "Dokument von der Stadt erhalten" }).waitFor();
  await page.locator("text=Neue Nachrichten erscheinen sofort.").waitFor();
  await audit(page, "room-de");

  await tabTo(page, /^textarea\|message\|/);
  await page.keyboard.type("Ich habe eine Frage zu meinem Antrag.");
  await tabTo(page, /^button\|\|Nachricht senden/);
  await page.keyboard.press("Enter");
  await page.locator(".timeline li.mine", { hasText: "Ich habe eine Frage" }).waitFor();
  check((await page.locator("#message").inputValue()) === "", "the field is empty again");
  await act("clerk-writes"); // arrives by the live stream
  await page.locator(".timeline li.theirs", { hasText: "ich sehe Ihre Unterlagen" }).waitFor();

  await tabTo(page, /^button\|\|Herunterladen/);
  const [download] = await Promise.all([page.waitForEvent("download"), page.keyboard.press("Enter")]);
  check(download.suggestedFilename() === "Bescheid.pdf", `the file's name ${download.suggestedFilename()}`);
  check(readFileSync(await download.path()).subarray(0, 5).toString() === "%PDF-", "the document is the PDF");
  await tabTo(page, /^button\|\|Empfang bestätigen/);
  await page.keyboard.press("Enter");
  await page.locator(".sent .status", { hasText: "Empfang bestätigt am" }).waitFor();
  await page.locator(".timeline li", { hasText: "Empfang eines Dokuments bestätigt" }).waitFor();
}

async function video(page) {
  await act("clerk-joins");
  await tabTo(page, /^button\|\|Am Videogespräch teilnehmen/);
  await page.keyboard.press("Enter");
  await page.locator("[data-phase=waiting]", { hasText: "Bitte warten Sie" }).waitFor();
  await audit(page, "room-waiting-de");
  await act("admit");
  await page.locator("[data-phase=connected]").waitFor({ timeout: 20000 });
  // The clerk's synthetic video plays here...
  await page.waitForFunction(
    () => {
      const remote = document.querySelector("video.remote");
      return remote && remote.videoWidth > 0 && remote.currentTime > 0;
    },
    null,
    { timeout: 20000 },
  );
  // ...and the clerk receives frames of our fake camera.
  console.log(`FRAMES ${await act("frames")}`);
  await audit(page, "room-call-de");
  await act("end");
  await page.locator("[data-stop=ended]", { hasText: "beendet" }).waitFor();
  await page.locator(".timeline li", { hasText: "Videogespräch beendet" }).waitFor();
  check(await page.locator(".videos").isHidden(), "the videos are gone");
  await audit(page, "room-ended-de");
}

/** Without the camera: refused by the person (no fake permission), or none there (no fake
 * device): each said in words, in a browser of its own. */
async function withoutCamera() {
  for (const [flags, name, words] of [
    [["--use-fake-device-for-media-stream"], "room-denied-en", "did not allow access to the camera"],
    [["--use-fake-ui-for-media-stream"], "room-missing-en", "cannot find a camera"],
  ]) {
    const { browser, page } = await browserPage(flags);
    try {
      await page.goto(`${BASE}${roomPath(process.env.ROOM_MANAGE, "?lang=en")}`);
      await heading(page, "Consultation room");
      await tabTo(page, /^button\|\|Join the video call/);
      await page.keyboard.press("Enter");
      await page.locator("[role=alert]", { hasText: words }).waitFor();
      check(await page.evaluate(() => document.activeElement?.classList.contains("call-status")), "the message has the focus");
      await audit(page, name);
    } finally {
      await browser.close();
    }
  }
}

async function room(page) {
  await checkIn(page);
  await talk(page);
  await video(page);
  await tabTo(page, /^button\|\|English/);
  await page.keyboard.press("Enter");
  await heading(page, "Consultation room");
  await page.locator(".timeline li", { hasText: "Video call ended" }).waitFor();
  await audit(page, "room-en");
  await withoutCamera();
}

/** Booking is down: the room and the check-in page say so, in words. */
async function down(page) {
  await page.goto(`${BASE}${roomPath(process.env.ROOM_MANAGE)}`);
  await heading(page, "Beratungsraum");
  await page.locator("[role=alert]", { hasText: "nicht erreichbar" }).waitFor({ timeout: 20000 });
  await audit(page, "room-down-de");
  await page.goto(`${BASE}${process.env.ROOM_MANAGE.replace("#", "/check-in#")}`);
  await heading(page, "Einchecken");
  await page.locator("[role=alert]", { hasText: "nicht erreichbar" }).waitFor({ timeout: 20000 });
}

await run({ room, down }, MEDIA);
