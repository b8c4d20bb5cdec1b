// The clerk's and the admin's pages in a real Chromium, keyboard only, axe-core over each:
//   node web/tests/desk.mjs review|down
// review: a clerk with a second factor (TOTP) signs in through identity's page, opens the day's
// appointment, downloads, accepts and sends back its documents, writes in the room, puts a
// document into it, opens the video call, lets the waiting citizen in (a second tab, playing
// the citizen's side of the call with the fake camera), sees their picture, ends the call;
// then the admin signs in and reads the key figures, in German and English.
// down: with booking and documents stopped, every desk page says so.
// session: the desk's session outlives its access tokens (identity issuing 30 s ones); a deep
// link returns after sign-in; signing out revokes.
// Environment (beside harness.mjs's): DESK_CLIENT_ID, BOOKING_ID, BOOKING_CODE, MFA_EMAIL,
// MFA_PASSWORD, ADMIN_EMAIL, ADMIN_PASSWORD, CITIZEN_TOKEN, ROOM_PDF, CLERK_EMAIL,
// CLERK_PASSWORD. It asks for "DO otp" (the clerk's code now) on stdout.
import { readFileSync } from "node:fs";
import { act, audit, BASE, check, focused, heading, run, tabTo as tabToWithin, tabToLink } from "./harness.mjs";

const env = process.env;
// The review and room pages have many stops: a longer way round than the harness's default.
const tabTo = (page, pattern, limit = 120) => tabToWithin(page, pattern, limit);
// A camera and a microphone that exist (a test pattern and a tone), allowed without asking.
const MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required"];

/** From the desk's sign-in button through identity's page (password, and the code where the
 * account has a second factor) back to the desk. */
async function signIn(page, email, password, { otp = false, name = "" } = {}) {
  await page.goto(`${BASE}/desk?client_id=${encodeURIComponent(env.DESK_CLIENT_ID)}`);
  await heading(page, /Sachbearbeitung|Clerk desk/);
  await tabTo(page, /^button\|\|(Anmelden|Sign in)/);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/identity\/v1\/oauth2\/authorize/);
  await page.locator("input[type=password]").waitFor();
  await tabTo(page, /^input\|.*\|email$/);
  await page.keyboard.type(email);
  await tabTo(page, /^input\|.*\|password$/);
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
  if (otp) {
    // Identity's second step: the code field, focused when the page opens.
    await page.locator("input#otp").waitFor();
    await audit(page, `identity-mfa-${name}`);
    check((await focused(page)).startsWith("input|otp|"), "the code field has the focus");
    await page.keyboard.type(await act("otp"));
    await page.keyboard.press("Enter");
  }
  await page.waitForURL(/\/desk(\?|$)/);
  await page.locator("text=/Angemeldet als|Signed in as/").waitFor();
}

const stored = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem("rathaus.oauth.session") ?? "null"));
const expiry = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).exp * 1000;

/** The clerk opens the room's deep link, signs in and is back on it, opens the call; identity's
 * access tokens live 30 s (no leeway): the desk renews its token before it expires; the call's
 * socket, closed by documents when its first token expires, opens again with the renewed one
 * and the call stays open; the first token is refused by then and the desk still works; a
 * token the API refuses (a tab whose timers slept) is renewed once and the call repeated;
 * signing out revokes the refresh token. */
async function session(page) {
  const room = `/desk/bookings/${env.BOOKING_ID}/room`;
  await page.goto(`${BASE}${room}?client_id=${encodeURIComponent(env.DESK_CLIENT_ID)}`);
  await heading(page, "Beratungsraum");
  await tabTo(page, /^button\|\|Anmelden/);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/identity\/v1\/oauth2\/authorize/);
  await page.locator("input[type=password]").waitFor();
  await tabTo(page, /^input\|.*\|email$/);
  await page.keyboard.type(env.CLERK_EMAIL);
  await tabTo(page, /^input\|.*\|password$/);
  await page.keyboard.type(env.CLERK_PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL((url) => url.pathname === room && url.searchParams.has("client_id")); // where the clerk started
  await heading(page, "Beratungsraum");
  const first = await stored(page);
  check(first.refreshToken, "the code grant gave a refresh token");
  await tabTo(page, /^button\|\|Anruf öffnen/, 200);
  await page.keyboard.press("Enter");
  await page.locator("text=Noch niemand im Anruf.").waitFor();
  const joined = page.locator(".desk-timeline li", { hasText: "dem Anruf beigetreten" });
  await joined.first().waitFor();

  // Renewed before it expires, with no one doing anything.
  await page.waitForFunction((old) => JSON.parse(sessionStorage.getItem("rathaus.oauth.session")).accessToken !== old, first.accessToken, { timeout: 40000 });
  const second = await stored(page);
  check(second.refreshToken !== first.refreshToken, "the refresh token rotated");
  check(Date.now() < expiry(first.accessToken), "renewed before the first token expired");
  // Once the first token is past its expiry, the API refuses it; the call's socket opened again.
  await page.waitForFunction((at) => Date.now() > at + 1000, expiry(first.accessToken), { timeout: 40000 });
  const refused = await page.evaluate(async (token) => (await fetch("/identity/v1/oauth2/userinfo", { headers: { authorization: `Bearer ${token}` } })).status, first.accessToken);
  check(refused === 401, `the expired token was answered ${refused}`);
  await page.waitForFunction(() => [...document.querySelectorAll(".desk-timeline li")].filter((li) => li.textContent.includes("dem Anruf beigetreten")).length >= 2, null, { timeout: 20000 });
  check((await page.locator("text=Die Verbindung zum Anruf ist getrennt").count()) === 0, "the call did not drop");
  await page.locator("button", { hasText: "Anruf beenden" }).waitFor();

  // A tab that slept holds the expired token and believes it valid: one 401, renewed, repeated
  // (the timeline asks every few seconds).
  await page.evaluate((token) => {
    const now = JSON.parse(sessionStorage.getItem("rathaus.oauth.session"));
    sessionStorage.setItem("rathaus.oauth.session", JSON.stringify({ ...now, accessToken: token, expiresAt: Date.now() + 600000 }));
  }, first.accessToken);
  await page.waitForFunction((old) => JSON.parse(sessionStorage.getItem("rathaus.oauth.session")).accessToken !== old, first.accessToken);
  await tabTo(page, /^textarea\|message\|/, 200);
  await page.keyboard.type("Nach der Erneuerung.");
  await tabTo(page, /^button\|\|Senden/);
  await page.keyboard.press("Enter");
  await page.locator(".desk-timeline li.message", { hasText: "Nach der Erneuerung." }).waitFor();
  check((await page.locator("[role=alert]").count()) === 0, "no error after the expiry and the 401");
  await audit(page, "desk-room-renewed-de");

  // Signing out revokes: the last refresh token no longer works.
  const last = await stored(page);
  await page.goto(`${BASE}/desk`);
  await page.locator("text=Angemeldet als").waitFor();
  await tabTo(page, /^button\|\|Abmelden/);
  await page.keyboard.press("Enter");
  await tabTo(page, /^button\|\|Anmelden/);
  const answer = await page.evaluate(async ({ token, client }) => {
    const r = await fetch("/identity/v1/oauth2/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token, client_id: client }),
    });
    return `${r.status} ${(await r.json()).error}`;
  }, { token: last.refreshToken, client: env.DESK_CLIENT_ID });
  check(answer === "400 invalid_grant", `the revoked refresh token was answered ${answer}`);
}

/** The citizen's side of the call in another tab: the fake camera, the offer once let in, the
 * clerk's answer and picture; what happened is in window.citizenCall. */
async function citizenJoins(context) {
  const tab = await context.newPage();
  await tab.goto(`${BASE}/`);
  await tab.evaluate(
    async ({ booking, token }) => {
      const state = (window.citizenCall = { events: [], remoteVideo: false, closed: null });
      const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      const servers = await fetch(`/documents/v1/bookings/${booking}/room/call/ice-servers`, {
        headers: { authorization: `Bearer ${token}` },
      }).then((r) => r.json());
      const pc = new RTCPeerConnection({ iceServers: servers.ice_servers });
      media.getTracks().forEach((t) => pc.addTrack(t, media));
      const socket = new WebSocket(`ws://${location.host}/documents/v1/bookings/${booking}/room/call`, [
        "rathaus.call.v1",
        `rathaus.bearer.${token}`,
      ]);
      const send = (m) => socket.send(JSON.stringify({ v: 1, ...m }));
      pc.onicecandidate = (e) => {
        const c = e.candidate?.toJSON() ?? { candidate: "" };
        send({ type: "candidate", ...c, candidate: c.candidate ?? "" });
      };
      pc.ontrack = (e) => {
        const video = document.createElement("video");
        video.muted = true;
        video.srcObject = e.streams[0];
        video.onloadeddata = () => (state.remoteVideo = video.videoWidth > 0);
        void video.play();
        document.body.append(video);
      };
      socket.onclose = (e) => (state.closed = e.code);
      socket.onmessage = async (e) => {
        const m = JSON.parse(e.data);
        state.events.push(m.type === "peer" ? `peer:${m.role}:${m.state}` : m.type);
        if (m.type === "admitted") {
          await pc.setLocalDescription(await pc.createOffer());
          send({ type: "offer", sdp: pc.localDescription.sdp });
        } else if (m.type === "answer") await pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
        else if (m.type === "candidate" && m.candidate)
          await pc.addIceCandidate({ candidate: m.candidate, sdpMid: m.sdpMid, sdpMLineIndex: m.sdpMLineIndex });
      };
    },
    { booking: env.BOOKING_ID, token: env.CITIZEN_TOKEN },
  );
  await tab.waitForFunction(() => window.citizenCall.events.includes("welcome"));
  return tab;
}

async function review(page, context) {
  const booking = env.BOOKING_ID;
  await signIn(page, env.MFA_EMAIL, env.MFA_PASSWORD, { otp: true, name: "de" });

  // The day's appointments: the booking, with its documents and its room.
  await page.locator("td.code", { hasText: env.BOOKING_CODE }).waitFor();
  await audit(page, "desk-appointments-de");
  await tabToLink(page, `/desk/bookings/${booking}`);
  await page.keyboard.press("Enter");

  // Review: download (the purpose is logged), accept one, send the other back with a reason.
  await heading(page, "Unterlagen prüfen");
  await page.locator("button", { hasText: "Herunterladen" }).first().waitFor();
  await audit(page, "desk-review-de");
  await tabTo(page, /^button\|\|Herunterladen geburtsurkunde\.pdf/);
  const [download] = await Promise.all([page.waitForEvent("download"), page.keyboard.press("Enter")]);
  check(download.suggestedFilename() === "geburtsurkunde.pdf", `downloaded ${download.suggestedFilename()}`);
  check(readFileSync(await download.path()).subarray(0, 5).toString() === "%PDF-", "the download is the PDF");
  await tabTo(page, /^button\|\|Annehmen geburtsurkunde\.pdf/);
  await page.keyboard.press("Enter");
  await page.locator("[role=status]", { hasText: "geburtsurkunde.pdf: angenommen" }).waitFor();
  await tabTo(page, /^button\|\|Ersatz anfordern lichtbild\.jpg/);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.activeElement?.tagName === "TEXTAREA");
  await tabTo(page, /^button\|\|Ersatz anfordern senden/);
  await page.keyboard.press("Enter"); // without a reason: the API's refusal, in words
  await page.locator("[role=alert]", { hasText: "Das hat nicht geklappt" }).waitFor();
  await page.keyboard.press("Shift+Tab");
  check((await focused(page)).startsWith("textarea|"), "back in the reason");
  await page.keyboard.type("Das Lichtbild ist älter als sechs Monate.");
  await tabTo(page, /^button\|\|Ersatz anfordern senden/);
  await page.keyboard.press("Enter");
  await page.locator("[role=status]", { hasText: "lichtbild.jpg: Ersatz angefordert" }).waitFor();
  await page.locator(".notice", { hasText: "älter als sechs Monate" }).waitFor();
  await audit(page, "desk-reviewed-de");

  // The room: the timeline has what happened, a message, a document for the citizen.
  await tabToLink(page, `/desk/bookings/${booking}/room`);
  await page.keyboard.press("Enter");
  await heading(page, "Beratungsraum");
  await page.locator(".desk-timeline li", { hasText: "Ersatz angefordert" }).waitFor();
  await audit(page, "desk-room-de");
  await tabTo(page, /^textarea\|message\|/);
  await page.keyboard.type("Guten Tag, bitte reichen Sie ein aktuelles Lichtbild nach.");
  await tabTo(page, /^button\|\|Senden/);
  await page.keyboard.press("Enter");
  await page.locator(".desk-timeline li.message", { hasText: "aktuelles Lichtbild" }).waitFor();
  await tabTo(page, /^input\|room-file\|/);
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.keyboard.press("Space")]);
  await chooser.setFiles(env.ROOM_PDF);
  // The button is disabled until the page has taken the file: a disabled one takes no focus.
  await page.waitForFunction(() => document.querySelector("#room-file ~ button")?.disabled === false);
  await tabTo(page, /^button\|\|In den Raum legen/);
  await page.keyboard.press("Enter");
  await page.locator("#room-documents ~ ul li", { hasText: "bescheid.pdf" }).waitFor();
  await page.locator(".desk-timeline li", { hasText: "Unterlage in den Raum gelegt" }).waitFor();

  // The call: open it, the citizen waits, let them in, their picture arrives, end it.
  await tabTo(page, /^button\|\|Anruf öffnen/, 200);
  await page.keyboard.press("Enter");
  await page.locator("text=Noch niemand im Anruf.").waitFor();
  const citizen = await citizenJoins(context);
  await page.locator("li", { hasText: "Bürger/in: wartet" }).waitFor();
  await audit(page, "desk-call-waiting-de");
  await tabTo(page, /^button\|\|Hereinlassen/);
  await page.keyboard.press("Enter");
  await page.locator("li", { hasText: "Bürger/in: im Gespräch" }).waitFor();
  await page.waitForFunction(() => {
    const video = document.querySelector("#other-video");
    return video instanceof HTMLVideoElement && video.videoWidth > 0 && video.currentTime > 0;
  }, null, { timeout: 20000 });
  await citizen.waitForFunction(() => window.citizenCall.remoteVideo, null, { timeout: 20000 });
  await audit(page, "desk-call-de");
  await tabTo(page, /^button\|\|Anruf beenden/);
  await page.keyboard.press("Enter");
  await page.locator("[role=status]", { hasText: "Der Anruf ist beendet" }).waitFor();
  await citizen.waitForFunction(() => window.citizenCall.events.includes("ended") || window.citizenCall.closed === 4000);
  await page.locator(".desk-timeline li", { hasText: "Anruf beendet" }).waitFor();
  await citizen.close();

  // The admin's key figures, by period and office, charts and table.
  await page.goto(`${BASE}/desk`);
  await tabTo(page, /^button\|\|Abmelden/);
  await page.keyboard.press("Enter");
  await signIn(page, env.ADMIN_EMAIL, env.ADMIN_PASSWORD);
  await tabTo(page, /^a\|\|Kennzahlen \(Verwaltung\)/);
  await page.keyboard.press("Enter");
  await heading(page, "Kennzahlen");
  await page.locator("figure.chart svg[role=img]").first().waitFor();
  check((await page.locator("figure.chart").count()) === 7, "seven charts");
  const all = page.locator("#figures ~ div tbody tr", { hasText: "Alle Standorte" });
  check(Number(await all.locator("td").first().innerText()) >= 1, "today's appointment is counted");
  await audit(page, "desk-kpis-de");
  // A period that ends before it begins: said in words, nothing asked of the API.
  await tabTo(page, /^input\|kpi-from\|/);
  await page.keyboard.type("01012099");
  await page.locator("[role=alert]", { hasText: "vor seinem Anfang" }).waitFor();
  // Chromium's date field: day, month and year are each a stop; back to the day.
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.type("01012026");
  check((await page.locator("#kpi-from").inputValue()) === "2026-01-01", "the period starts on 1 January");
  await tabTo(page, /^button\|\|Anzeigen/);
  await page.keyboard.press("Enter");
  await page.locator("figure.chart").first().waitFor();

  await tabTo(page, /^button\|\|English/, 200);
  await page.keyboard.press("Enter");
  await heading(page, "Key figures");
  await page.locator("figure.chart h2", { hasText: "Waiting time" }).waitFor();
  await audit(page, "desk-kpis-en");
  await page.goto(`${BASE}/desk`);
  await page.locator("td.code", { hasText: env.BOOKING_CODE }).waitFor();
  await audit(page, "desk-appointments-en");
}

/** Booking and documents are down: the desk's pages say so, never a blank page. */
async function down(page) {
  await signIn(page, env.CLERK_EMAIL, env.CLERK_PASSWORD);
  await page.locator("[role=alert]", { hasText: "nicht erreichbar" }).first().waitFor({ timeout: 20000 });
  await audit(page, "desk-down-de");
  await page.goto(`${BASE}/desk/bookings/${env.BOOKING_ID}`);
  await page.locator("[role=alert]", { hasText: "nicht erreichbar" }).first().waitFor({ timeout: 20000 });
  await audit(page, "desk-review-down-de");
  await page.goto(`${BASE}/desk/bookings/${env.BOOKING_ID}/room`);
  await page.locator("[role=alert]", { hasText: "nicht erreichbar" }).first().waitFor({ timeout: 20000 });
  await page.goto(`${BASE}/desk/kpis?lang=en`);
  await page.locator("[role=alert]", { hasText: "cannot be reached" }).first().waitFor({ timeout: 20000 });
  await audit(page, "desk-kpis-down-en");
}

await run({ review, down, session }, MEDIA);
