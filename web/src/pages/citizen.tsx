/** The citizen's pages: the catalogue, a service's pre-information and earliest appointments,
 * booking (hold, contact, double opt-in), and managing the booking. */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError, call, type Schemas } from "../api/client";
import { solve } from "../altcha";
import { formatDateTime, formatMoney, formatTime, t, type Key } from "../i18n";
import { navigate } from "../router";
import { TENANT } from "../tenant";
import { ContactFields, ErrorMessage, Loading, Page, Show, useAsync, useFocusOnResult } from "../ui";
import { Documents } from "./documents";
import { QrCode, WaitlistForm } from "../lazy";
import { SlotPicker, slotLabel } from "./slots";

type Service = Schemas["booking.ServiceOut"];
type Booking = Schemas["booking.BookingOut"];
type Office = Schemas["booking.OfficeOut"];

const path = { ags: TENANT };

/** The check-in page's link, as the manage page's QR code says it (pages/checkin.tsx). */
export function checkInHref(id: string, token: string): string {
  return `${location.origin}/bookings/${encodeURIComponent(id)}/check-in#token=${token}`;
}

function loadServices() {
  return call(api.GET("/booking/v1/tenants/{ags}/services", { params: { path } }));
}

function loadOffices() {
  return call(api.GET("/booking/v1/tenants/{ags}/offices", { params: { path } }));
}

export function ServicesPage() {
  const services = useAsync(loadServices, []);
  const [query, setQuery] = useState("");
  return (
    <Page title={t("servicesTitle")}>
      <p class="lead">{t("servicesIntro")}</p>
      <Show state={services}>
        {(list) => {
          const needle = query.trim().toLowerCase();
          const matches = list.items.filter(
            (s) => !needle || s.name.toLowerCase().includes(needle) || s.leika.startsWith(needle),
          );
          return (
            <>
              <search class="field">
                <label for="service-search">{t("search")}</label>
                <input
                  id="service-search"
                  type="search"
                  aria-describedby="service-search-hint"
                  value={query}
                  onInput={(e) => setQuery(e.currentTarget.value)}
                />
                <p id="service-search-hint" class="hint">
                  {t("searchHint")}
                </p>
              </search>
              <p class="visually-hidden" role="status">
                {matches.length ? `${matches.length} ${t("services")}` : t("noMatch")}
              </p>
              {matches.length === 0 && <p aria-hidden="true">{t("noMatch")}</p>}
              <ul class="cards">
                {matches.map((service) => (
                  <li key={service.id} class="card">
                    <h2>
                      <a href={`/services/${service.id}`}>{service.name}</a>
                    </h2>
                    <p>{service.description}</p>
                    <p class="meta">
                      {t("leika")} {service.leika} · {service.duration_minutes} {t("minutes")} ·{" "}
                      {service.fee_cents ? formatMoney(service.fee_cents) : t("free")}
                    </p>
                  </li>
                ))}
              </ul>
            </>
          );
        }}
      </Show>
    </Page>
  );
}

function PreInformation({ service }: { service: Service }) {
  return (
    <>
      <p class="lead">{service.description}</p>
      <dl class="facts">
        <dt>{t("leika")}</dt>
        <dd>{service.leika}</dd>
        <dt>{t("duration")}</dt>
        <dd>
          {service.duration_minutes} {t("minutes")}
        </dd>
        <dt>{t("fee")}</dt>
        <dd>{service.fee_cents ? formatMoney(service.fee_cents) : t("free")}</dd>
      </dl>
      {service.online_url && (
        <p>
          <a href={service.online_url}>{service.online_hint ?? t("online")}</a>
        </p>
      )}
      {service.required_documents.length > 0 && (
        <section aria-labelledby="bring">
          <h2 id="bring">{t("bring")}</h2>
          <ul class="documents">
            {service.required_documents.map((document) => (
              <li key={document.id}>
                <strong>{document.name}</strong> ({document.mandatory ? t("mandatory") : t("optional")})
                {document.description && <p>{document.description}</p>}
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

function bookingHref(appointment: Schemas["booking.MunicipalityAppointment"]): string {
  const query = new URLSearchParams({
    office_id: appointment.office_id,
    service_ids: appointment.service_id,
    start: appointment.start,
  });
  if (appointment.base_url) {
    query.set("tenant", appointment.tenant);
    return `${appointment.base_url.replace(/\/$/, "")}/book?${query}`;
  }
  return `/book?${query}`;
}

function Earliest({ service }: { service: Service }) {
  const search = useAsync(
    () =>
      Promise.all([
        call(
          api.GET("/booking/v1/tenants/{ags}/earliest/search", {
            params: { path, query: { leika: service.leika } },
          }),
        ),
        loadOffices(),
      ]),
    [service.leika],
  );
  return (
    <section aria-labelledby="earliest">
      <h2 id="earliest">{t("earliest")}</h2>
      <Show state={search}>
        {([found, offices]) => {
          const byId = new Map<string, Office>(offices.items.map((o) => [o.id, o]));
          const freeHere = found.appointments.some((appointment) => !appointment.municipality);
          return (
            <>
              {found.appointments.length === 0 ? (
                <p>{t("noSlots")}</p>
              ) : (
                <>
                  <p>{t("earliestIntro")}</p>
                  <ol class="slots">
                    {found.appointments.map((appointment) => {
                      const office = appointment.municipality ? null : byId.get(appointment.office_id);
                      const where = appointment.municipality
                        ? `${t("at")} ${appointment.municipality}`
                        : `${office?.name ?? t("here")}${office ? `, ${office.address.street}` : ""}`;
                      return (
                        <li key={`${appointment.tenant}-${appointment.office_id}-${appointment.start}`}>
                          <span class="when">{formatDateTime(appointment.start)}</span>
                          <span class="where">{where}</span>
                          <a class="button" href={bookingHref(appointment)}>
                            {appointment.base_url ? t("bookAt") : t("bookThis")}
                            <span class="visually-hidden">
                              : {formatDateTime(appointment.start)}, {where}
                            </span>
                          </a>
                        </li>
                      );
                    })}
                  </ol>
                </>
              )}
              {found.unavailable.length > 0 && (
                <p class="notice">
                  {t("partnerDown")} {found.unavailable.map((u) => u.municipality).join(", ")}
                </p>
              )}
              {!freeHere && <WaitlistForm service={service} offices={offices.items} />}
            </>
          );
        }}
      </Show>
    </section>
  );
}

/** Opened on request: the month's free days are computed only when someone wants them. */
function OtherTimes({ service }: { service: Service }) {
  const [open, setOpen] = useState(false);
  return (
    <section aria-labelledby="other-times">
      <h2 id="other-times">
        <button type="button" class="disclosure" aria-expanded={open} onClick={() => setOpen(!open)}>
          {t("otherTimes")}
        </button>
      </h2>
      {open && (
        <SlotPicker
          serviceIds={[service.id]}
          act={(slot, office) => (
            <a href={`/book?${new URLSearchParams({ office_id: slot.office_id, service_ids: service.id, start: slot.start })}`}>
              {slotLabel(slot, office)}
            </a>
          )}
        />
      )}
    </section>
  );
}

export function ServicePage({ id }: { id: string }) {
  const service = useAsync(
    () => call(api.GET("/booking/v1/tenants/{ags}/services/{service_id}", { params: { path: { ...path, service_id: id } } })),
    [id],
  );
  if (service.data === undefined)
    return (
      <Page title={t("servicesTitle")}>
        <Show state={service}>{() => null}</Show>
      </Page>
    );
  return (
    <Page title={service.data.name}>
      <PreInformation service={service.data} />
      <Earliest service={service.data} />
      <OtherTimes service={service.data} />
      <p>
        <a href="/">{t("back")}</a>
      </p>
    </Page>
  );
}

export function BookingFacts({ booking }: { booking: Booking }) {
  const zone = booking.office.time_zone;
  return (
    <dl class="facts">
      <dt>{t("when")}</dt>
      <dd>
        {formatDateTime(booking.starts_at, zone)} – {formatTime(booking.ends_at, zone)}
      </dd>
      <dt>{t("office")}</dt>
      <dd>
        {booking.office.name}, {booking.office.street}, {booking.office.postal_code} {booking.office.city}
      </dd>
      <dt>{t("services")}</dt>
      <dd>{booking.services.map((s) => s.name).join(", ")}</dd>
      <dt>{t("code")}</dt>
      <dd class="code">{booking.code}</dd>
      <dt>{t("status")}</dt>
      <dd>{t(statusKey(booking.status))}</dd>
    </dl>
  );
}

export function statusKey(status: Booking["status"]): Key {
  if (status === "held") return "statusHeld";
  if (status === "confirmed") return "statusConfirmed";
  if (status === "cancelled" || status === "expired") return "statusCancelled";
  return "statusOther";
}

async function botcheckHeader(): Promise<string | undefined> {
  const challenge = await call(api.GET("/booking/v1/tenants/{ags}/botcheck", { params: { path } }));
  return challenge.required ? await solve(challenge) : undefined;
}

type Held = Schemas["booking.HoldOut"];

export function BookPage({ query }: { query: URLSearchParams }) {
  const tenant = query.get("tenant") ?? TENANT;
  const idempotencyKey = useMemo(() => crypto.randomUUID(), []);
  const hold = useAsync<Held>(async () => {
    const officeId = query.get("office_id");
    const serviceIds = (query.get("service_ids") ?? "").split(",").filter(Boolean);
    const start = query.get("start");
    if (!officeId || !serviceIds.length || !start) throw new ApiError(400, { title: t("missingToken") });
    const altcha = await botcheckHeader();
    return call(
      api.POST("/booking/v1/tenants/{ags}/holds", {
        params: {
          path: { ags: tenant },
          header: { "Idempotency-Key": idempotencyKey, ...(altcha ? { "X-Altcha": altcha } : {}) },
        },
        body: { office_id: officeId, service_ids: serviceIds, start },
      }),
    );
  }, [query.toString()]);
  return (
    <Page title={t("bookTitle")}>
      {hold.error !== undefined ? (
        <ErrorMessage error={hold.error} />
      ) : hold.data === undefined ? (
        <p role="status">{t("holding")}</p>
      ) : (
        <ContactStep held={hold.data} />
      )}
    </Page>
  );
}

function ContactStep({ held }: { held: Held }) {
  const [state, setState] = useState<{ busy: boolean; error?: unknown; booking?: Booking }>({ busy: false });
  const result = useFocusOnResult(state, Boolean(state.booking || state.error));
  async function submit(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const phone = String(form.get("phone") ?? "").trim();
    setState({ busy: true });
    try {
      const booking = await call(
        api.POST("/booking/v1/bookings/{booking_id}/confirm", {
          params: {
            path: { booking_id: held.id },
            header: { "X-Manage-Token": held.manage_token, "Idempotency-Key": `${held.id}-confirm` },
          },
          body: { name: String(form.get("name")), email: String(form.get("email")), phone: phone || null },
        }),
      );
      if (booking.status === "confirmed") {
        navigate(`/bookings/${booking.id}#token=${held.manage_token}`);
        return;
      }
      setState({ busy: false, booking });
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  if (state.booking)
    return (
      <div ref={result} tabIndex={-1} class="success" role="status">
        <p>{t("checkMail")}</p>
        <BookingFacts booking={state.booking} />
        <p>
          <a href={`/bookings/${held.id}#token=${held.manage_token}`}>{t("manageTitle")}</a>
        </p>
      </div>
    );
  return (
    <>
      <BookingFacts booking={held} />
      {held.hold_expires_at && (
        <p class="notice">
          {t("heldUntil")} {formatTime(held.hold_expires_at, held.office.time_zone)}
        </p>
      )}
      <form onSubmit={submit} class="form">
        <fieldset>
          <legend>{t("contact")}</legend>
          <ContactFields />
          <div class="field">
            <label for="phone">{t("phone")}</label>
            <input id="phone" name="phone" type="tel" autocomplete="tel" />
          </div>
        </fieldset>
        <div ref={result} tabIndex={-1}>
          {state.error !== undefined && <ErrorMessage error={state.error} />}
        </div>
        <button type="submit" disabled={state.busy}>
          {state.busy ? t("confirming") : t("confirm")}
        </button>
      </form>
    </>
  );
}

export function BookingPage({ id, token }: { id: string; token: string | null }) {
  const headers = { "X-Manage-Token": token ?? "" };
  const booking = useAsync(async () => {
    if (!token) throw new ApiError(400, { title: t("missingToken") });
    return call(api.GET("/booking/v1/bookings/{booking_id}", { params: { path: { booking_id: id } }, headers }));
  }, [id, token]);
  const [asking, setAsking] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  const askButton = useRef<HTMLButtonElement>(null);
  const first = useRef(true);
  useEffect(() => {
    // The question takes the focus; answering "no" returns it to the button that asked.
    if (first.current) first.current = false;
    else (asking ? yes : askButton).current?.focus();
  }, [asking]);
  const [action, setAction] = useState<{ error?: unknown; done?: Booking; moved?: boolean }>({});
  const current = action.done ?? booking.data;
  async function calendar() {
    try {
      const blob = await call(
        api.GET("/booking/v1/bookings/{booking_id}/calendar.ics", {
          params: { path: { booking_id: id } }, headers,
          parseAs: "blob",
        }),
      );
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob as unknown as Blob);
      link.download = `termin-${current?.code ?? id}.ics`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (error) {
      setAction({ error });
    }
  }
  const [moving, setMoving] = useState(false);
  const [visit, setVisit] = useState<Schemas["booking.VisitOut"] | null>(null);
  async function checkIn() {
    try {
      setVisit(
        await call(
          api.POST("/booking/v1/bookings/{booking_id}/check-in", { params: { path: { booking_id: id } }, headers }),
        ),
      );
      setAction({});
    } catch (error) {
      setAction({ error });
    }
  }
  async function reschedule(start: string, officeId: string) {
    try {
      const done = await call(
        api.POST("/booking/v1/bookings/{booking_id}/reschedule", {
          params: { path: { booking_id: id } }, headers,
          body: { start, office_id: officeId },
        }),
      );
      setMoving(false);
      setAction({ done, moved: true });
    } catch (error) {
      setAction({ error });
    }
  }
  async function cancel() {
    try {
      const done = await call(
        api.POST("/booking/v1/bookings/{booking_id}/cancel", { params: { path: { booking_id: id } }, headers }),
      );
      setAsking(false);
      setAction({ done });
    } catch (error) {
      setAction({ error });
    }
  }
  return (
    <Page title={t("manageTitle")}>
      <Show state={booking}>
        {() =>
          current && (
            <>
              {action.moved && (
                <p class="success" role="status">
                  {t("rescheduled")}
                </p>
              )}
              {action.done?.status === "cancelled" && (
                <p class="success" role="status">
                  {t("cancelled")}
                </p>
              )}
              <BookingFacts booking={current} />
              {current.checklist.length > 0 && current.status !== "cancelled" && (
                <section aria-labelledby="bring">
                  <h2 id="bring">{t("bring")}</h2>
                  <ul class="documents">
                    {current.checklist.map((item) => (
                      <li key={item.id}>
                        <strong>{item.name}</strong> ({item.mandatory ? t("mandatory") : t("optional")})
                      </li>
                    ))}
                  </ul>
                </section>
              )}
              {current.status === "confirmed" && (
                <section aria-labelledby="check-in" class="check-in">
                  <h2 id="check-in">{t("checkIn")}</h2>
                  <p class="hint">{t("checkInHint")}</p>
                  {token && (
                    <figure class="qr-figure">
                      <QrCode text={checkInHref(id, token)} label={t("checkInQr")} />
                      <figcaption>
                        {t("checkInQrHint")} <a href={`/bookings/${id}/check-in#token=${token}`}>{t("checkInLink")}</a>
                      </figcaption>
                    </figure>
                  )}
                  {visit ? (
                    <p class="success" role="status">
                      {t("checkedInNow")} {visit.waiting_ahead ?? 0}
                    </p>
                  ) : (
                    <button type="button" onClick={checkIn}>
                      {t("checkIn")}
                    </button>
                  )}
                </section>
              )}
              {current.status === "confirmed" && token && (
                <section aria-labelledby="room">
                  <h2 id="room">{t("roomTitle")}</h2>
                  <p>{current.mode === "video" ? t("roomIntroVideo") : t("roomIntro")}</p>
                  <p>
                    <a class="button" href={`/bookings/${id}/room#token=${token}`}>
                      {t("roomOpen")}
                    </a>
                  </p>
                </section>
              )}
              {moving && current.services[0] && (
                <section aria-labelledby="move">
                  <h2 id="move">{t("reschedule")}</h2>
                  <SlotPicker
                    serviceIds={current.services.map((s) => s.service_id)}
                    act={(slot, office) => (
                      <button type="button" class="secondary" onClick={() => reschedule(slot.start, slot.office_id)}>
                        {slotLabel(slot, office)}
                        <span class="visually-hidden"> – {t("rescheduleTo")}</span>
                      </button>
                    )}
                  />
                </section>
              )}
              {current.status === "confirmed" && token && current.checklist.length > 0 && (
                <Documents booking={current} token={token} />
              )}
              {action.error !== undefined && <ErrorMessage error={action.error} />}
              {current.status !== "cancelled" && current.status !== "expired" && (
                <div class="actions">
                  <button type="button" onClick={calendar}>
                    {t("calendar")}
                  </button>
                  <button type="button" class="secondary" aria-expanded={moving} onClick={() => setMoving(!moving)}>
                    {t("reschedule")}
                  </button>
                  {asking ? (
                    <div role="group" aria-labelledby="cancel-ask" class="confirm-box">
                      <p id="cancel-ask">{t("cancelAsk")}</p>
                      <button type="button" class="danger" onClick={cancel} ref={yes}>
                        {t("cancelConfirm")}
                      </button>
                      <button type="button" onClick={() => setAsking(false)}>
                        {t("keep")}
                      </button>
                    </div>
                  ) : (
                    <button type="button" class="secondary" onClick={() => setAsking(true)} ref={askButton}>
                      {t("cancel")}
                    </button>
                  )}
                </div>
              )}
            </>
          )
        }
      </Show>
    </Page>
  );
}

export function OptInPage({ id, token }: { id: string; token: string | null }) {
  const booking = useAsync(async () => {
    if (!token) throw new ApiError(400, { title: t("missingToken") });
    return call(
      api.GET("/booking/v1/bookings/{booking_id}/opt-in", { params: { path: { booking_id: id }, query: { token } } }),
    );
  }, [id, token]);
  const [state, setState] = useState<{ busy: boolean; error?: unknown; done?: Booking }>({ busy: false });
  async function confirm() {
    setState({ busy: true });
    try {
      const done = await call(
        api.POST("/booking/v1/bookings/{booking_id}/opt-in", {
          params: { path: { booking_id: id } },
          body: { token: token ?? "" },
        }),
      );
      setState({ busy: false, done });
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  return (
    <Page title={t("optInTitle")}>
      <Show state={booking}>
        {(shown) => {
          const current = state.done ?? shown;
          return (
            <>
              {current.status === "confirmed" ? (
                <p class="success" role="status">
                  {t("optInDone")}
                </p>
              ) : (
                <p>{t("optInIntro")}</p>
              )}
              <BookingFacts booking={current} />
              {state.error !== undefined && <ErrorMessage error={state.error} />}
              {current.status === "held" && (
                <button type="button" onClick={confirm} disabled={state.busy}>
                  {t("optInButton")}
                </button>
              )}
            </>
          );
        }}
      </Show>
    </Page>
  );
}

export { Loading };
