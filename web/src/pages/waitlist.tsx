/** The waitlist: subscribing on the pre-information page when nothing is free, and the pages of
 * its mailed links (services/booking/booking/waitlist/mails.py): confirming the address,
 * leaving the list, the offer of a held seat. Each link's page shows what it is about (a GET
 * that changes nothing, as mail scanners follow links) and acts only by its button (a POST). */
import { useState } from "preact/hooks";
import { api, ApiError, call, type Schemas } from "../api/client";
import { formatDate, formatTime, t } from "../i18n";
import type { WaitlistPurpose } from "../router";
import { TENANT } from "../tenant";
import { ContactFields, ErrorMessage, Page, Show, useAsync, useFocusOnResult } from "../ui";
import { BookingFacts } from "./citizen";
import { tm, type MailWord } from "./mailwords";

type Service = Schemas["booking.ServiceOut"];
type Office = Schemas["booking.OfficeOut"];
type Subscription = Schemas["booking.SubscriptionOut"];
type Status = Subscription["status"];

/** The office's local day (Europe/Berlin) as YYYY-MM-DD, whatever the browser's zone. */
function localDay(offsetDays = 0): string {
  const at = new Date(Date.now() + offsetDays * 86_400_000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Berlin" }).format(at);
}

const statusKeys: Record<Status, MailWord> = {
  pending: "waitlistPending",
  waiting: "waitlistWaiting",
  offered: "waitlistOffered",
  booked: "waitlistBooked",
  ended: "waitlistEnded",
};

/** Shown where no appointment is free: wait for a seat of ``service`` on some days. */
export function WaitlistForm({ service, offices }: { service: Service; offices: Office[] }) {
  const [state, setState] = useState<{ busy: boolean; error?: unknown; done?: Subscription }>({ busy: false });
  const result = useFocusOnResult(state, Boolean(state.done || state.error));
  const offering = offices.filter((office) => office.services.some((s) => s.service_id === service.id));
  async function submit(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const office = String(form.get("waitlist-office") ?? "");
    setState({ busy: true });
    try {
      const done = await call(
        api.POST("/booking/v1/tenants/{ags}/waitlist", {
          params: { path: { ags: TENANT } },
          body: {
            service_id: service.id,
            office_id: office || null,
            first_day: String(form.get("waitlist-first")),
            last_day: String(form.get("waitlist-last")),
            name: String(form.get("waitlist-name")),
            email: String(form.get("waitlist-email")),
          },
        }),
      );
      setState({ busy: false, done });
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  return (
    <section aria-labelledby="waitlist">
      <h2 id="waitlist">{tm("waitlistTitle")}</h2>
      {state.done ? (
        <div ref={result} tabIndex={-1} class="success" role="status">
          <p>{state.done.status === "pending" ? tm("waitlistCheckMail") : tm("waitlistWaiting")}</p>
        </div>
      ) : (
        <form onSubmit={submit} class="form">
          <p>{tm("waitlistIntro")}</p>
          <fieldset>
            <legend>{tm("waitlistWhen")}</legend>
            <div class="field">
              <label for="waitlist-office">{t("office")}</label>
              <select id="waitlist-office" name="waitlist-office">
                <option value="">{tm("waitlistAnyOffice")}</option>
                {offering.map((office) => (
                  <option key={office.id} value={office.id}>
                    {office.name}, {office.address.street}
                  </option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="waitlist-first">
                {tm("waitlistFirst")} <span class="req">({t("required")})</span>
              </label>
              <input id="waitlist-first" name="waitlist-first" type="date" required value={localDay()} min={localDay()} />
            </div>
            <div class="field">
              <label for="waitlist-last">
                {tm("waitlistLast")} <span class="req">({t("required")})</span>
              </label>
              <input id="waitlist-last" name="waitlist-last" type="date" required value={localDay(27)} min={localDay()} />
            </div>
          </fieldset>
          <fieldset>
            <legend>{t("contact")}</legend>
            <ContactFields prefix="waitlist-" />
          </fieldset>
          <div ref={result} tabIndex={-1}>
            {state.error !== undefined && <ErrorMessage error={state.error} />}
          </div>
          <button type="submit" disabled={state.busy}>
            {state.busy ? tm("waitlistSubscribing") : tm("waitlistSubscribe")}
          </button>
        </form>
      )}
    </section>
  );
}

/** What a subscription waits for, in words: the service, where, which days. */
function SubscriptionFacts({ subscription }: { subscription: Subscription }) {
  const about = useAsync(
    () =>
      Promise.all([
        call(
          api.GET("/booking/v1/tenants/{ags}/services/{service_id}", {
            params: { path: { ags: subscription.tenant, service_id: subscription.service_id } },
          }),
        ),
        subscription.office_id
          ? call(
              api.GET("/booking/v1/tenants/{ags}/offices/{office_id}", {
                params: { path: { ags: subscription.tenant, office_id: subscription.office_id } },
              }),
            )
          : Promise.resolve(null),
      ]),
    [subscription.service_id, subscription.office_id],
  );
  return (
    <Show state={about}>
      {([service, office]) => (
        <dl class="facts">
          <dt>{tm("waitlistService")}</dt>
          <dd>{service.name}</dd>
          <dt>{t("office")}</dt>
          <dd>{office ? `${office.name}, ${office.address.street}` : tm("waitlistAnyOffice")}</dd>
          <dt>{tm("waitlistDays")}</dt>
          <dd>
            {formatDate(subscription.first_day)} – {formatDate(subscription.last_day)}
          </dd>
          <dt>{t("status")}</dt>
          <dd>{tm(statusKeys[subscription.status])}</dd>
        </dl>
      )}
    </Show>
  );
}

const titles: Record<WaitlistPurpose, MailWord> = {
  confirm: "waitlistConfirmTitle",
  unsubscribe: "waitlistUnsubscribeTitle",
  offer: "waitlistOfferTitle",
};

export function WaitlistPage({ id, purpose, token }: { id: string; purpose: WaitlistPurpose; token: string | null }) {
  return (
    <Page title={tm(titles[purpose])}>
      {!token ? (
        <ErrorMessage error={new ApiError(400, { title: t("missingToken") })} />
      ) : purpose === "offer" ? (
        <Offer id={id} token={token} />
      ) : (
        <Link id={id} token={token} purpose={purpose} />
      )}
    </Page>
  );
}

/** The confirmation and the unsubscribe link: the subscription, and the one button. */
function Link({ id, token, purpose }: { id: string; token: string; purpose: "confirm" | "unsubscribe" }) {
  const shown = useAsync(
    () => call(api.GET("/booking/v1/waitlist/{subscription_id}", { params: { path: { subscription_id: id }, query: { token } } })),
    [id, token],
  );
  const [state, setState] = useState<{ busy: boolean; error?: unknown; done?: Subscription }>({ busy: false });
  async function act() {
    setState({ busy: true });
    try {
      const options = { params: { path: { subscription_id: id } }, body: { token } };
      const done = await call(
        purpose === "confirm"
          ? api.POST("/booking/v1/waitlist/{subscription_id}/confirm", options)
          : api.POST("/booking/v1/waitlist/{subscription_id}/unsubscribe", options),
      );
      setState({ busy: false, done });
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  return (
    <Show state={shown}>
      {(first) => {
        const current = state.done ?? first;
        const open = purpose === "confirm" ? current.status === "pending" : !["ended", "booked"].includes(current.status);
        return (
          <>
            {state.done ? (
              <p class="success" role="status">
                {purpose === "confirm" ? tm("waitlistConfirmed") : tm("waitlistLeft")}
              </p>
            ) : (
              <p>{purpose === "confirm" ? tm("waitlistConfirmIntro") : tm("waitlistUnsubscribeIntro")}</p>
            )}
            <SubscriptionFacts subscription={current} />
            {state.error !== undefined && <ErrorMessage error={state.error} />}
            {open && (
              <button type="button" class={purpose === "unsubscribe" ? "danger" : undefined} onClick={act} disabled={state.busy}>
                {purpose === "confirm" ? tm("waitlistConfirmButton") : tm("waitlistUnsubscribeButton")}
              </button>
            )}
          </>
        );
      }}
    </Show>
  );
}

/** The offer mail's link: the seat held until when, and booking it. */
function Offer({ id, token }: { id: string; token: string }) {
  const offer = useAsync(
    () => call(api.GET("/booking/v1/waitlist/{subscription_id}/offer", { params: { path: { subscription_id: id }, query: { token } } })),
    [id, token],
  );
  const [state, setState] = useState<{ busy: boolean; error?: unknown; done?: Schemas["booking.BookingOut"] }>({
    busy: false,
  });
  async function accept() {
    setState({ busy: true });
    try {
      const done = await call(
        api.POST("/booking/v1/waitlist/{subscription_id}/offer", { params: { path: { subscription_id: id } }, body: { token } }),
      );
      setState({ busy: false, done });
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  return (
    <Show state={offer}>
      {(shown) => {
        const booked = state.done !== undefined || shown.status === "booked";
        const booking = state.done ?? shown.booking;
        return (
          <>
            {booked ? (
              <p class="success" role="status">
                {tm("waitlistOfferBooked")}
              </p>
            ) : (
              <p>
                {tm("waitlistOfferIntro")}{" "}
                {shown.expires_at && (
                  <strong>
                    {t("heldUntil")} {formatTime(shown.expires_at, booking.office.time_zone)}
                  </strong>
                )}
              </p>
            )}
            <BookingFacts booking={booking} />
            {state.error !== undefined && <ErrorMessage error={state.error} />}
            {!booked && (
              <button type="button" onClick={accept} disabled={state.busy}>
                {state.busy ? t("confirming") : tm("waitlistOfferAccept")}
              </button>
            )}
          </>
        );
      }}
    </Show>
  );
}
