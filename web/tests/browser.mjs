// The portal in a real Chromium, keyboard only, with axe-core over every page. Started by
// tests/web/test_portal_in_a_browser.py against a live Rathaus:
//   node web/tests/browser.mjs journey|down
// Environment: RATHAUS_URL (the gateway), CHROMIUM (the executable), SCREENSHOTS (optional
// folder). When the journey needs a mail (the opt-in link, the manage link), it prints
// "MAIL <kind>" and reads the link's path from stdin.
import { readFileSync } from "node:fs";
import { audit, BASE, check, heading, mail, run, tabTo } from "./harness.mjs";

async function moveToSecondDay(page) {
  const before = await page.locator("dl.facts dd").first().innerText();
  await tabTo(page, /^button\|\|Termin verschieben/);
  await page.keyboard.press("Enter");
  await tabTo(page, /^select\|day\|/);
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await page.locator("#free-times").waitFor();
  await audit(page, "manage-move-de");
  await tabTo(page, /^button\|\|\d\d:\d\d/);
  await page.keyboard.press("Enter");
  await page.locator(".success", { hasText: "verschoben" }).waitFor();
  check((await page.locator("dl.facts dd").first().innerText()) !== before, "the new time shows");
}

async function journey(page) {
  // The start page: the catalogue, German by default.
  await page.goto(`${BASE}/`);
  await heading(page, "Termin vereinbaren");
  check((await page.getAttribute("html", "lang")) === "de", "the page says it is German");
  await page.locator(".card").first().waitFor();
  await audit(page, "start-de");
  check(/Zum Inhalt springen/.test(await tabTo(page, /^a\|/, 1)), "the first Tab reaches the skip link");
  await tabTo(page, /^input\|service-search/);
  await page.keyboard.type("Personalausweis");
  check((await page.locator(".card").count()) === 1, "the search narrows the catalogue");
  await tabTo(page, /Personalausweis beantragen/);
  await page.keyboard.press("Enter");

  // The service's pre-information and the earliest appointments.
  await heading(page, "Personalausweis beantragen");
  await page.locator("#bring").waitFor();
  check(/37,00\s€/.test(await page.locator("main").innerText()), "the fee in German");
  await page.locator(".slots li").first().waitFor({ timeout: 15000 });
  check(await page.evaluate(() => document.activeElement?.tagName === "H1"), "the new page's heading has the focus");
  await audit(page, "service-de");
  await tabTo(page, /Diesen Termin buchen/);
  await page.keyboard.press("Enter");

  // Hold (with the proof of work), then the contact details.
  await heading(page, "Termin buchen");
  await page.locator("form").waitFor({ timeout: 30000 });
  await audit(page, "book-de");
  await tabTo(page, /^input\|name/);
  await page.keyboard.type("Max Mustermann");
  await page.keyboard.press("Tab");
  await page.keyboard.type("max.mustermann@example.org");
  await tabTo(page, /^button\|\|Verbindlich buchen/);
  await page.keyboard.press("Enter");
  await page.locator(".success", { hasText: "E-Mail geschickt" }).waitFor({ timeout: 15000 });
  await audit(page, "book-sent-de");

  // The double opt-in: the mailed link opens the portal, its button sends the POST.
  await page.goto(`${BASE}${await mail("opt-in")}`);
  await heading(page, "Buchung bestätigen");
  await page.locator("button", { hasText: "Buchung bestätigen" }).waitFor();
  await audit(page, "opt-in-de");
  await tabTo(page, /^button\|\|Buchung bestätigen/);
  await page.keyboard.press("Enter");
  await page.locator(".success", { hasText: "bestätigt" }).waitFor();

  // Managing the booking from the confirmation mail's link: calendar file, then cancel.
  await page.goto(`${BASE}${await mail("manage")}`);
  await heading(page, "Ihr Termin");
  await page.locator("dd", { hasText: "bestätigt" }).waitFor();
  await audit(page, "manage-de");
  // Hand in the birth certificate (a PDF): the file chooser opens from the keyboard too.
  // A PDF where only a photo (JPEG) is taken: the API's refusal shows in words.
  await page.locator("#documents").waitFor();
  for (const [label, outcome] of [
    ["Biometrisches Lichtbild", ".error"],
    ["Geburtsurkunde", ".status:text('eingereicht')"],
  ]) {
    const id = await page.getByLabel(new RegExp(`Datei auswählen: ${label}`)).getAttribute("id");
    await tabTo(page, new RegExp(`^input\\|${id}\\|`));
    const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.keyboard.press("Space")]);
    await chooser.setFiles(process.env.UPLOAD_PDF);
    await tabTo(page, /^button\|\|Hochladen/);
    await page.keyboard.press("Enter");
    await page.locator(".uploads li", { hasText: label }).locator(outcome).waitFor();
  }
  await audit(page, "manage-uploaded-de");

  // Move it to the second day with free seats: selects and buttons, by keyboard.
  await moveToSecondDay(page);

  // Checking in from home, a day or more ahead: refused, and the page says why (the second
  // day with free seats is never within the hour before its first slot).
  await tabTo(page, /^button\|\|Ich bin da: einchecken/);
  await page.keyboard.press("Enter");
  await page.locator("[role=alert]", { hasText: "Check-in" }).waitFor();

  await tabTo(page, /In den Kalender/);
  const [download] = await Promise.all([page.waitForEvent("download"), page.keyboard.press("Enter")]);
  check(/^termin-.+\.ics$/.test(download.suggestedFilename()), `calendar file name ${download.suggestedFilename()}`);
  const ics = readFileSync(await download.path(), "utf8");
  check(ics.includes("BEGIN:VCALENDAR") && ics.includes("BEGIN:VEVENT"), "the calendar file is iCalendar");
  await tabTo(page, /Termin absagen/);
  await page.keyboard.press("Enter");
  // The question takes the focus (once rendered).
  await page.waitForFunction(() => document.activeElement?.textContent?.trim() === "Ja, Termin absagen");
  await page.keyboard.press("Enter");
  await page.locator(".success", { hasText: "Der Termin ist abgesagt" }).waitFor();
  await audit(page, "manage-cancelled-de");

  // English, by the switch in the header (kept for the next pages).
  await tabTo(page, /^button\|\|English/);
  await page.keyboard.press("Enter");
  await heading(page, "Your appointment");
  check((await page.getAttribute("html", "lang")) === "en", "the page says it is English");
  await page.goto(`${BASE}/`);
  await heading(page, "Book an appointment");
  await page.locator(".card").first().waitFor();
  await audit(page, "start-en");
  await page.locator(".card a").first().click();
  await page.locator(".slots li, .error").first().waitFor({ timeout: 15000 });
  check(/€/.test(await page.locator("main").innerText()), "the fee shows in English too");
  await audit(page, "service-en");
  await page.getByRole("button", { name: "Choose another time" }).click();
  await page.locator("#day").selectOption({ index: 1 });
  await page.locator("#free-times").waitFor();
  check((await page.locator(".times a").count()) > 0, "free times to book");
  await audit(page, "service-times-en");

  // The waiting-room display.
  await page.goto(`${BASE}/display`);
  await page.locator(".card a").first().waitFor();
  await audit(page, "display-pick-en");
  await page.locator(".card a").first().click();
  await page.locator(".waiting").waitFor();
  await audit(page, "display-en");

  await page.goto(`${BASE}/bookings/00000000-0000-0000-0000-000000000000`);
  await page.locator(".error").waitFor();
  await audit(page, "manage-no-token-en");
}

/** The clerk signs in through identity's page (authorization code + PKCE), calls the person
 * waiting and completes the visit as resolved, by keyboard; the display shows the call. */
async function desk(page) {
  const office = process.env.DESK_OFFICE;
  await page.goto(`${BASE}/desk?client_id=${encodeURIComponent(process.env.DESK_CLIENT_ID)}`);
  await heading(page, "Sachbearbeitung");
  await audit(page, "desk-sign-in-de");
  await tabTo(page, /^button\|\|Anmelden/);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/identity\/v1\/oauth2\/authorize/);
  await page.locator("input[type=password]").waitFor();
  await audit(page, "identity-sign-in-de"); // identity's page, on the way
  await tabTo(page, /^input\|.*\|email$/);
  await page.keyboard.type(process.env.CLERK_EMAIL);
  await tabTo(page, /^input\|.*\|password$/);
  await page.keyboard.type(process.env.CLERK_PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/desk(\?|$)/); // back where the clerk started, query and all
  await page.locator("text=Angemeldet als").waitFor();
  await page.locator("h3", { hasText: "Wartend: 1" }).waitFor();
  await audit(page, "desk-de");
  await tabTo(page, /^button\|\|Nächste Person aufrufen/);
  await page.keyboard.press("Enter");
  const serving = page.locator("#serving .code");
  await serving.waitFor();
  const code = (await serving.innerText()).trim();
  await audit(page, "desk-serving-de");
  await tabTo(page, /^button\|\|Erledigt: Anliegen gelöst/);
  await page.keyboard.press("Enter");
  await page.locator(".success", { hasText: "Abgeschlossen" }).waitFor();
  await page.locator("h3", { hasText: "Wartend: 0" }).waitFor();
  await page.goto(`${BASE}/display/${office}`);
  await page.locator("td.code", { hasText: code }).waitFor();
  await audit(page, "display-called-de");
}

/** Booking is down: every page still says what happened, in words. */
async function down(page) {
  await page.goto(`${BASE}/`);
  await heading(page, "Termin vereinbaren");
  const alert = page.locator("[role=alert]");
  await alert.waitFor({ timeout: 20000 });
  check(/nicht erreichbar/.test(await alert.innerText()), "the start page says the service is down");
  await audit(page, "down-de");
  await page.goto(`${BASE}/?lang=en`);
  await page.locator("[role=alert]", { hasText: "cannot be reached" }).waitFor({ timeout: 20000 });
  await page.goto(`${BASE}/services/00000000-0000-0000-0000-000000000000`);
  await page.locator("[role=alert]").waitFor({ timeout: 20000 });
  await audit(page, "down-service-en");
}

await run({ journey, desk, down });
