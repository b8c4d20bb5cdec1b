/** German and English: the citizen's choice is kept in the browser; German by default. */
export type Language = "de" | "en";

const STORAGE_KEY = "rathaus.language";

const de = {
  portal: "Bürgerportal",
  municipality: "Stadt Musterstadt",
  skip: "Zum Inhalt springen",
  language: "Sprache",
  switchTo: "English",
  switchLang: "en",
  nav: "Hauptnavigation",
  navServices: "Leistungen",
  navDisplay: "Aufrufanzeige",
  navDesk: "Sachbearbeitung",
  loading: "Wird geladen …",
  unavailable:
    "Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut.",
  failed: "Das hat nicht geklappt:",
  retry: "Erneut versuchen",
  notFound: "Diese Seite gibt es nicht.",
  home: "Zur Startseite",
  servicesTitle: "Termin vereinbaren",
  servicesIntro:
    "Wählen Sie eine Leistung. Sie sehen, was Sie mitbringen müssen, was es kostet und den frühesten freien Termin – hier und in den Nachbargemeinden.",
  search: "Leistung suchen",
  searchHint: "Name oder Leistungsschlüssel (LeiKa, 14 Ziffern)",
  noMatch: "Keine Leistung passt zu Ihrer Suche.",
  leika: "Leistungsschlüssel",
  duration: "Dauer",
  minutes: "Minuten",
  fee: "Gebühr",
  free: "gebührenfrei",
  bring: "Bitte mitbringen",
  mandatory: "erforderlich",
  optional: "falls vorhanden",
  online: "Auch online möglich",
  earliest: "Früheste Termine",
  earliestIntro: "Der früheste freie Termin je Ort, der früheste zuerst.",
  here: "hier",
  at: "bei",
  bookThis: "Diesen Termin buchen",
  bookAt: "Bei der Nachbargemeinde buchen",
  noSlots: "Im Buchungszeitraum ist kein Termin frei.",
  fullyBooked: "Ausgebucht:",
  partnerDown: "Nicht erreichbar (bitte später erneut versuchen):",
  bookTitle: "Termin buchen",
  holding: "Der Termin wird für Sie reserviert …",
  heldUntil: "Für Sie reserviert bis",
  office: "Ort",
  when: "Termin",
  services: "Leistungen",
  contact: "Ihre Angaben",
  name: "Name",
  email: "E-Mail-Adresse",
  phone: "Telefon (freiwillig)",
  required: "Pflichtfeld",
  confirm: "Verbindlich buchen",
  confirming: "Wird gebucht …",
  checkMail:
    "Fast geschafft: Wir haben Ihnen eine E-Mail geschickt. Bitte bestätigen Sie die Buchung über den Link darin.",
  booked: "Ihr Termin ist gebucht.",
  code: "Buchungsnummer",
  manageTitle: "Ihr Termin",
  status: "Status",
  statusHeld: "reserviert, noch nicht bestätigt",
  statusConfirmed: "bestätigt",
  statusCancelled: "abgesagt",
  statusOther: "",
  calendar: "In den Kalender (.ics)",
  cancel: "Termin absagen",
  cancelConfirm: "Ja, Termin absagen",
  cancelAsk: "Möchten Sie den Termin wirklich absagen?",
  keep: "Nein, behalten",
  cancelled: "Der Termin ist abgesagt.",
  missingToken:
    "Der Link ist unvollständig. Bitte öffnen Sie ihn genau so, wie er in der E-Mail steht.",
  optInTitle: "Buchung bestätigen",
  optInIntro: "Bitte bestätigen Sie Ihre Buchung, damit der Termin für Sie gilt.",
  optInButton: "Buchung bestätigen",
  optInDone: "Danke! Ihr Termin ist bestätigt. Die Bestätigung kommt per E-Mail.",
  botcheck: "Sicherheitsprüfung läuft …",
  displayTitle: "Aufruf",
  displayPick: "Aufrufanzeige eines Standorts",
  waiting: "Wartende",
  counter: "Schalter",
  number: "Nummer",
  noCalls: "Noch keine Aufrufe.",
  updated: "Aktualisiert",
  back: "Zurück zur Übersicht",
  deskTitle: "Sachbearbeitung",
  signIn: "Anmelden",
  signOut: "Abmelden",
  deskIntro: "Melden Sie sich mit Ihrem Dienstkonto an. Die Anmeldung führt Sie zur Anmeldeseite der Stadt und zurück.",
  signingIn: "Anmeldung wird abgeschlossen …",
  signInFailed: "Die Anmeldung hat nicht geklappt. Bitte melden Sie sich erneut an.",
  signedInAs: "Angemeldet als",
  pickOffice: "Standort",
  today: "Termine heute",
  noAppointments: "Heute sind keine Termine gebucht.",
  time: "Uhrzeit",
  queue: "Warteschlange",
  waitingNow: "Wartend",
  nobodyWaiting: "Niemand wartet.",
  callNext: "Nächste Person aufrufen",
  counterLabel: "Schalter",
  serving: "Im Gespräch",
  completeResolved: "Erledigt: Anliegen gelöst",
  completeUnresolved: "Erledigt: nicht abschließend gelöst",
  completed: "Abgeschlossen.",
  walkIn: "ohne Termin",
  documents: "Unterlagen vorab einreichen",
  documentsIntro: "Sie können Ihre Unterlagen schon jetzt hochladen; die Sachbearbeitung prüft sie vor dem Termin.",
  chooseFile: "Datei auswählen:",
  upload: "Hochladen",
  uploading: "Wird hochgeladen …",
  uploaded: "Hochgeladen:",
  docMissing: "noch nicht eingereicht",
  docPendingScan: "wird geprüft",
  docSubmitted: "eingereicht",
  docAccepted: "angenommen",
  docNeedsReplacement: "bitte ersetzen",
  formats: "Formate",
  otherTimes: "Anderen Termin wählen",
  checkIn: "Ich bin da: einchecken",
  checkedInNow: "Sie sind eingecheckt. Vor Ihnen warten:",
  checkInHint: "Am Tag des Termins, vor Ort: so wissen wir, dass Sie da sind.",
  month: "Monat",
  day: "Tag",
  freeTimes: "Freie Uhrzeiten",
  noDays: "In diesem Monat ist nichts frei.",
  pickDay: "Bitte einen Tag wählen",
  reschedule: "Termin verschieben",
  rescheduleTo: "Hierhin verschieben",
  rescheduled: "Der Termin ist verschoben.",
  bringOriginal: "Bitte im Original mitbringen.",
  checkedIn: "angemeldet um",
  roomTitle: "Beratungsraum",
  roomIntro: "Nachrichten und Dokumente zu Ihrem Termin, und ein Videogespräch, wenn die Sachbearbeitung es anbietet.",
  roomIntroVideo: "Ihr Termin ist ein Videogespräch: Sie treten kurz vor Beginn im Beratungsraum ein.",
  roomOpen: "Beratungsraum öffnen",
  roomBack: "Zurück zu Ihrem Termin",
  checkInQr: "QR-Code zum Einchecken",
  checkInQrHint: "Scannen Sie den Code vor Ort mit Ihrem Telefon, oder öffnen Sie den Link:",
  checkInLink: "Einchecken",
};

export type Key = keyof typeof de;

const en: Record<Key, string> = {
  portal: "Citizen portal",
  municipality: "City of Musterstadt",
  skip: "Skip to content",
  language: "Language",
  switchTo: "Deutsch",
  switchLang: "de",
  nav: "Main navigation",
  navServices: "Services",
  navDisplay: "Call display",
  navDesk: "Clerk desk",
  loading: "Loading …",
  unavailable: "The service cannot be reached right now. Please try again in a few minutes.",
  failed: "That did not work:",
  retry: "Try again",
  notFound: "This page does not exist.",
  home: "To the start page",
  servicesTitle: "Book an appointment",
  servicesIntro:
    "Choose a service. You will see what to bring, what it costs and the earliest free appointment – here and in neighbouring municipalities.",
  search: "Find a service",
  searchHint: "Name or service key (LeiKa, 14 digits)",
  noMatch: "No service matches your search.",
  leika: "Service key",
  duration: "Duration",
  minutes: "minutes",
  fee: "Fee",
  free: "free of charge",
  bring: "Please bring",
  mandatory: "required",
  optional: "if you have it",
  online: "Also available online",
  earliest: "Earliest appointments",
  earliestIntro: "The earliest free appointment per place, earliest first.",
  here: "here",
  at: "at",
  bookThis: "Book this appointment",
  bookAt: "Book at the neighbouring municipality",
  noSlots: "No appointment is free within the booking period.",
  fullyBooked: "Fully booked:",
  partnerDown: "Not reachable (please try again later):",
  bookTitle: "Book an appointment",
  holding: "Reserving the appointment for you …",
  heldUntil: "Reserved for you until",
  office: "Place",
  when: "Appointment",
  services: "Services",
  contact: "Your details",
  name: "Name",
  email: "E-mail address",
  phone: "Phone (optional)",
  required: "required",
  confirm: "Book now",
  confirming: "Booking …",
  checkMail:
    "Almost done: we have sent you an e-mail. Please confirm the booking with the link in it.",
  booked: "Your appointment is booked.",
  code: "Booking code",
  manageTitle: "Your appointment",
  status: "Status",
  statusHeld: "reserved, not yet confirmed",
  statusConfirmed: "confirmed",
  statusCancelled: "cancelled",
  statusOther: "",
  calendar: "Add to calendar (.ics)",
  cancel: "Cancel the appointment",
  cancelConfirm: "Yes, cancel it",
  cancelAsk: "Do you really want to cancel the appointment?",
  keep: "No, keep it",
  cancelled: "The appointment is cancelled.",
  missingToken: "The link is incomplete. Please open it exactly as it is in the e-mail.",
  optInTitle: "Confirm your booking",
  optInIntro: "Please confirm your booking so that the appointment is yours.",
  optInButton: "Confirm the booking",
  optInDone: "Thank you! Your appointment is confirmed. The confirmation comes by e-mail.",
  botcheck: "Security check running …",
  displayTitle: "Now serving",
  displayPick: "Call display of an office",
  waiting: "Waiting",
  counter: "Counter",
  number: "Number",
  noCalls: "No calls yet.",
  updated: "Updated",
  back: "Back to the overview",
  deskTitle: "Clerk desk",
  signIn: "Sign in",
  signOut: "Sign out",
  deskIntro: "Sign in with your staff account. You are taken to the municipality's sign-in page and back.",
  signingIn: "Completing the sign-in …",
  signInFailed: "The sign-in did not work. Please sign in again.",
  signedInAs: "Signed in as",
  pickOffice: "Office",
  today: "Today's appointments",
  noAppointments: "No appointments are booked today.",
  time: "Time",
  queue: "Queue",
  waitingNow: "Waiting",
  nobodyWaiting: "Nobody is waiting.",
  callNext: "Call the next person",
  counterLabel: "Counter",
  serving: "Now serving",
  completeResolved: "Done: resolved",
  completeUnresolved: "Done: not fully resolved",
  completed: "Completed.",
  walkIn: "walk-in",
  documents: "Hand in documents beforehand",
  documentsIntro: "You can upload your documents now; the clerk checks them before the appointment.",
  chooseFile: "Choose a file:",
  upload: "Upload",
  uploading: "Uploading …",
  uploaded: "Uploaded:",
  docMissing: "not handed in yet",
  docPendingScan: "being checked",
  docSubmitted: "handed in",
  docAccepted: "accepted",
  docNeedsReplacement: "please replace",
  formats: "Formats",
  otherTimes: "Choose another time",
  checkIn: "I am here: check in",
  checkedInNow: "You are checked in. Waiting ahead of you:",
  checkInHint: "On the day, at the office: so we know you are here.",
  month: "Month",
  day: "Day",
  freeTimes: "Free times",
  noDays: "Nothing is free in this month.",
  pickDay: "Please choose a day",
  reschedule: "Move the appointment",
  rescheduleTo: "Move it here",
  rescheduled: "The appointment has been moved.",
  bringOriginal: "Please bring the original.",
  checkedIn: "checked in at",
  roomTitle: "Consultation room",
  roomIntro: "Messages and documents about your appointment, and a video call where the office offers one.",
  roomIntroVideo: "Your appointment is a video call: enter the consultation room shortly before it starts.",
  roomOpen: "Open the consultation room",
  roomBack: "Back to your appointment",
  checkInQr: "QR code to check in",
  checkInQrHint: "Scan the code at the office with your phone, or open the link:",
  checkInLink: "Check in",
};

const dictionaries: Record<Language, Record<Key, string>> = { de, en };

function initial(): Language {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "de" || asked === "en") return asked;
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored === "de" || stored === "en") return stored;
  return "de";
}

let language: Language = initial();
const listeners = new Set<() => void>();

export function currentLanguage(): Language {
  return language;
}

export function setLanguage(next: Language): void {
  language = next;
  localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
  listeners.forEach((listener) => listener());
}

export function onLanguage(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function t(key: Key): string {
  return dictionaries[language][key];
}

/** The words of a chunk loaded later (a page of its own, lazy.tsx) kept in that chunk, so the
 * start page's script does not carry them: the same language switch as ``t``. */
export function words<K extends string>(own: Record<Language, Record<K, string>>): (key: K) => string {
  return (key) => own[language][key];
}

const locales: Record<Language, string> = { de: "de-DE", en: "en-GB" };

export function formatMoney(cents: number): string {
  return new Intl.NumberFormat(locales[language], { style: "currency", currency: "EUR" }).format(
    cents / 100,
  );
}

/** A time in the office's own zone (Europe/Berlin), whatever the browser's zone. */
export function formatDateTime(iso: string, timeZone = "Europe/Berlin"): string {
  return new Intl.DateTimeFormat(locales[language], {
    dateStyle: "full",
    timeStyle: "short",
    timeZone,
  }).format(new Date(iso));
}

export function formatDate(day: string): string {
  // A calendar day (YYYY-MM-DD) is no instant: shown as it is, in words.
  return new Intl.DateTimeFormat(locales[language], { dateStyle: "full", timeZone: "UTC" }).format(
    new Date(`${day}T12:00:00Z`),
  );
}

export function formatMonth(month: string): string {
  return new Intl.DateTimeFormat(locales[language], { month: "long", year: "numeric", timeZone: "UTC" }).format(
    new Date(`${month}-15T12:00:00Z`),
  );
}

export function formatTime(iso: string, timeZone = "Europe/Berlin"): string {
  return new Intl.DateTimeFormat(locales[language], { timeStyle: "short", timeZone }).format(
    new Date(iso),
  );
}

document.documentElement.lang = language;
