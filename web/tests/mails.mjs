// The pages the booking mails link to, reached from the real mails in the test's SMTP sink, in a
// real Chromium, keyboard only, axe-core on each page. Started by
// tests/web/test_portal_in_a_browser.py:
//   node web/tests/mails.mjs mails|down
// Environment (besides harness.mjs's): WAITLIST_SERVICE, a service with nothing free (offered
// only at an office without opening hours), WAITLISTER, the address to subscribe with. The test
// answers "DO open-hours" (the office opens: a seat frees for the waitlist) and "DO
// visit-completed" (the booked offer moved to now, checked in, called and completed).
import { act, audit, BASE, check, heading, mail, run, tabTo } from "./harness.mjs";

async function subscribe(page) {
  await page.goto(`${BASE}/services/${process.env.WAITLIST_SERVICE}`);
  await heading(page, "Fischereischein beantragen");
  await page.locator("main", { hasText: "kein Termin frei" }).waitFor();
  await page.locator("#waitlist").waitFor();
  await audit(page, "service-waitlist-de");
  await tabTo(page, /^input\|waitlist-name\|/);
  await page.keyboard.type("Wilma Warteliste");
  await page.keyboard.press("Tab");
  await page.keyboard.type(process.env.WAITLISTER);
  await tabTo(page, /^button\|\|Auf die Warteliste setzen/);
  await page.keyboard.press("Enter");
  await page.locator(".success", { hasText: "Fast geschafft" }).waitFor();
  check(await page.evaluate(() => document.activeElement?.classList.contains("success")), "the result has the focus");
}

async function confirm(page) {
  await page.goto(`${BASE}${await mail("waitlist-confirm")}`);
  await heading(page, "Warteliste: Adresse bestätigen");
  await page.locator("dl.facts", { hasText: "Adresse noch nicht bestätigt" }).waitFor();
  await audit(page, "waitlist-confirm-de");
  await tabTo(page, /^button\|\|Adresse bestätigen/);
  await page.keyboard.press("Enter");
  await page.locator(".success", { hasText: "Sie stehen jetzt auf der Warteliste" }).waitFor();
}

async function offer(page) {
  await act("open-hours");
  await page.goto(`${BASE}${await mail("waitlist-offer")}`);
  await heading(page, "Ein Termin ist frei geworden");
  await page.locator("main", { hasText: "Für Sie reserviert bis" }).waitFor();
  check(/Bürgerbüro Süd/.test(await page.locator("dl.facts").innerText()), "the offered seat's office");
  await audit(page, "waitlist-offer-de");
  await tabTo(page, /^button\|\|Diesen Termin verbindlich buchen/);
  await page.keyboard.press("Enter");
  await page.locator(".success", { hasText: "Ihr Termin ist gebucht" }).waitFor();
  check((await page.locator("dl.facts dd").last().innerText()) === "bestätigt", "the booking is confirmed");
}

async function rate(page) {
  await tabTo(page, /^input\|rating-5\|/); // the first of the group; the arrow keys choose
  await page.keyboard.press("ArrowDown");
  check(await page.locator("#rating-4").isChecked(), "4 is chosen");
  await tabTo(page, /^button\|\|Bewertung senden/);
  await page.keyboard.press("Enter");
}

async function feedback(page) {
  await act("visit-completed");
  const link = await mail("feedback");
  await page.goto(`${BASE}${link}`);
  await heading(page, "Ihr Besuch");
  await page.locator("fieldset", { hasText: "Wie zufrieden" }).waitFor();
  await audit(page, "feedback-de");
  await rate(page);
  await page.locator(".success", { hasText: "Danke für Ihre Bewertung" }).waitFor();
  // Once only: the link opened again, a second rating is refused in the API's words.
  await page.goto(`${BASE}/`);
  await page.goto(`${BASE}${link}`);
  await heading(page, "Ihr Besuch");
  await rate(page);
  await page.locator("[role=alert]", { hasText: "Das hat nicht geklappt" }).waitFor();
  check(/rated|bewertet/i.test(await page.locator("[role=alert]").innerText()), "the API's problem is shown");
}

async function unsubscribeInEnglish(page) {
  const link = await mail("waitlist-unsubscribe");
  await page.goto(`${BASE}${link.replace("#", "?lang=en#")}`);
  await heading(page, "Leave the waiting list");
  await page.locator("dl.facts", { hasText: "Appointment booked" }).waitFor();
  check((await page.locator("button", { hasText: "Leave the waiting list" }).count()) === 0, "nothing to leave once booked");
  await audit(page, "waitlist-unsubscribe-en");
}

async function mails(page) {
  await subscribe(page);
  await confirm(page);
  await offer(page);
  await feedback(page);
  await unsubscribeInEnglish(page);
}

/** Booking is down: each link's page says so, in words (no real link needed to get that far). */
async function down(page) {
  const id = "00000000-0000-4000-8000-000000000000";
  for (const [path, title] of [
    [`/waitlist/${id}/confirm#token=${"x".repeat(20)}`, "Warteliste: Adresse bestätigen"],
    [`/waitlist/${id}/offer#token=${"x".repeat(20)}`, "Ein Termin ist frei geworden"],
    [`/bookings/${id}/feedback#token=${"x".repeat(20)}`, "Ihr Besuch"],
  ]) {
    await page.goto(`${BASE}${path}`);
    await heading(page, title);
    await page.locator("[role=alert]", { hasText: "nicht erreichbar" }).waitFor({ timeout: 20000 });
  }
  await audit(page, "feedback-down-de");
}

await run({ mails, down });
