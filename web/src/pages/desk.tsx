/** The clerk desk: sign in (authorization code + PKCE), the office's appointments of the day,
 * the queue (call the next person, complete with first-contact resolution). Loaded only when
 * a clerk opens it, so the citizen's pages do not carry it. */
import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import { formatDate, formatTime, t } from "../i18n";
import { completeSignIn, currentSession, signOut, type Session } from "../oauth";
import { navigate } from "../router";
import { TENANT } from "../tenant";
import { statusKey } from "./citizen";
import { ErrorMessage, Page, Show, useAsync } from "../ui";
import { auth, SignInPage } from "./desk-session";
import { d } from "./desk-text";

export { DeskDocumentsPage } from "./desk-review";
export { DeskRoomPage } from "./desk-room";
export { KpisPage } from "./desk-kpis";

type Visit = Schemas["booking.VisitOut"];

export function CallbackPage() {
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    completeSignIn(new URLSearchParams(location.search)).then(
      (next) => navigate(next),
      (e: unknown) => setError(e),
    );
  }, []);
  return (
    <Page title={t("deskTitle")}>
      {error === undefined ? (
        <p role="status">{t("signingIn")}</p>
      ) : (
        <>
          <p class="error" role="alert">
            {t("signInFailed")}
          </p>
          <p>
            <a href="/desk">{t("signIn")}</a>
          </p>
        </>
      )}
    </Page>
  );
}

export function DeskPage() {
  const [session, setSession] = useState(currentSession);
  if (!session) return <SignInPage title={t("deskTitle")} />;
  return (
    <Desk
      session={session}
      onSignOut={() => {
        // The sign-in button shows once identity has revoked the session.
        void signOut().then(() => setSession(null));
      }}
    />
  );
}

function Desk({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const headers = auth(session);
  const me = useAsync(() => call(api.GET("/identity/v1/oauth2/userinfo", { headers })), [session.accessToken]);
  const offices = useAsync(
    () => call(api.GET("/booking/v1/tenants/{ags}/offices", { params: { path: { ags: TENANT } } })),
    [],
  );
  const [office, setOffice] = useState<string | null>(null);
  const chosen = office ?? offices.data?.items[0]?.id ?? null;
  return (
    <Page title={t("deskTitle")}>
      <div class="desk-bar">
        {me.data && (
          <p>
            {t("signedInAs")} <strong>{me.data.email ?? me.data.sub}</strong>
          </p>
        )}
        <button type="button" class="secondary" onClick={onSignOut}>
          {t("signOut")}
        </button>
        <a href="/desk/kpis">{d("kpisLink")}</a>
      </div>
      {me.error !== undefined && <ErrorMessage error={me.error} />}
      <Show state={offices}>
        {(list) => (
          <div class="field">
            <label for="office">{t("pickOffice")}</label>
            <select id="office" value={chosen ?? ""} onChange={(e) => setOffice(e.currentTarget.value)}>
              {list.items.map((o) => (
                <option key={o.id} value={o.id}>
                  {o.name}
                </option>
              ))}
            </select>
          </div>
        )}
      </Show>
      {chosen && <QueuePanel office={chosen} session={session} />}
      {chosen && <Appointments office={chosen} session={session} />}
    </Page>
  );
}

function today(): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Berlin" }).format(new Date());
}

function Appointments({ office, session }: { office: string; session: Session }) {
  const [date, setDate] = useState(today);
  const day = useAsync(
    () =>
      call(
        api.GET("/booking/v1/tenants/{ags}/offices/{office_id}/appointments", {
          params: { path: { ags: TENANT, office_id: office }, query: { date } },
          headers: auth(session),
        }),
      ),
    [office, date],
  );
  return (
    <section aria-labelledby="today">
      <h2 id="today">{date === today() ? t("today") : `${d("appointments")}: ${formatDate(date)}`}</h2>
      <div class="field">
        <label for="appointments-day">{d("pickDay")}</label>
        <input
          id="appointments-day"
          type="date"
          value={date}
          onChange={(e) => e.currentTarget.value && setDate(e.currentTarget.value)}
        />
      </div>
      <Show state={day}>
        {(view) =>
          view.items.length === 0 ? (
            <p>{t("noAppointments")}</p>
          ) : (
            <table class="plain">
              <thead>
                <tr>
                  <th scope="col">{t("time")}</th>
                  <th scope="col">{t("code")}</th>
                  <th scope="col">{t("services")}</th>
                  <th scope="col">{t("status")}</th>
                  <th scope="col">{d("actions")}</th>
                </tr>
              </thead>
              <tbody>
                {view.items.map((b) => (
                  <tr key={b.id}>
                    <td>{formatTime(b.starts_at, view.time_zone)}</td>
                    <td class="code">{b.code}</td>
                    <td>{b.services.map((s) => s.name).join(", ")}</td>
                    <td>{t(statusKey(b.status))}</td>
                    <td>
                      <a href={`/desk/bookings/${b.id}`} aria-label={`${d("openDocuments")} ${b.code}`}>
                        {d("openDocuments")}
                      </a>{" "}
                      ·{" "}
                      <a href={`/desk/bookings/${b.id}/room`} aria-label={`${d("openRoom")} ${b.code}`}>
                        {d("openRoom")}
                      </a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </section>
  );
}

function QueuePanel({ office, session }: { office: string; session: Session }) {
  const headers = auth(session);
  const path = { ags: TENANT, office_id: office };
  const queue = useAsync(
    () => call(api.GET("/booking/v1/tenants/{ags}/offices/{office_id}/queue", { params: { path }, headers })),
    [office],
  );
  const [counter, setCounter] = useState("1");
  const [serving, setServing] = useState<Visit | null>(null);
  const [action, setAction] = useState<{ error?: unknown; done?: boolean }>({});
  async function callNext() {
    try {
      const visit = await call(
        api.POST("/booking/v1/tenants/{ags}/offices/{office_id}/queue/call", {
          params: { path },
          headers,
          body: { counter },
        }),
      );
      setServing(visit);
      setAction({});
      queue.reload();
    } catch (error) {
      setAction({ error });
    }
  }
  async function complete(resolved: boolean) {
    if (!serving) return;
    try {
      await call(
        api.POST("/booking/v1/bookings/{booking_id}/complete", {
          params: { path: { booking_id: serving.booking_id } },
          headers,
          body: { resolved },
        }),
      );
      setServing(null);
      setAction({ done: true });
      queue.reload();
    } catch (error) {
      setAction({ error });
    }
  }
  return (
    <section aria-labelledby="queue">
      <h2 id="queue">{t("queue")}</h2>
      {action.error !== undefined && <ErrorMessage error={action.error} />}
      {action.done && (
        <p class="success" role="status">
          {t("completed")}
        </p>
      )}
      {serving ? (
        <div class="serving" role="group" aria-labelledby="serving">
          <h3 id="serving">
            {t("serving")}: <span class="code">{serving.code}</span> ({t("counterLabel")} {serving.counter})
          </h3>
          <div class="actions">
            <button type="button" onClick={() => complete(true)}>
              {t("completeResolved")}
            </button>
            <button type="button" class="secondary" onClick={() => complete(false)}>
              {t("completeUnresolved")}
            </button>
          </div>
        </div>
      ) : (
        <div class="actions">
          <div class="field inline">
            <label for="counter">{t("counterLabel")}</label>
            <input id="counter" value={counter} size={4} maxLength={20} onInput={(e) => setCounter(e.currentTarget.value)} />
          </div>
          <button type="button" onClick={callNext}>
            {t("callNext")}
          </button>
        </div>
      )}
      <Show state={queue}>
        {(q) => (
          <>
            <h3>
              {t("waitingNow")}: {q.waiting.length}
            </h3>
            {q.waiting.length === 0 ? (
              <p>{t("nobodyWaiting")}</p>
            ) : (
              <ol>
                {q.waiting.map((v) => (
                  <li key={v.booking_id}>
                    <span class="code">{v.code}</span> {v.walk_in ? `(${t("walkIn")})` : formatTime(v.starts_at, q.time_zone)},{" "}
                    {t("checkedIn")} {formatTime(v.checked_in_at, q.time_zone)}
                  </li>
                ))}
              </ol>
            )}
          </>
        )}
      </Show>
    </section>
  );
}
