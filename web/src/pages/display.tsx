/** The waiting-room display: the last calls per counter, large enough to read across the room,
 * refreshed every few seconds (screen readers hear new calls through the live region). */
import { useEffect, useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import { formatTime, t } from "../i18n";
import { TENANT } from "../tenant";
import { ErrorMessage, Page, Show, useAsync } from "../ui";

const REFRESH_MS = 5000;

export function DisplayPage({ office }: { office: string | null }) {
  return office ? <Board office={office} /> : <OfficePicker />;
}

function OfficePicker() {
  const offices = useAsync(
    () => call(api.GET("/booking/v1/tenants/{ags}/offices", { params: { path: { ags: TENANT } } })),
    [],
  );
  return (
    <Page title={t("displayPick")}>
      <Show state={offices}>
        {(list) => (
          <ul class="cards">
            {list.items.map((office) => (
              <li key={office.id} class="card">
                <a href={`/display/${office.id}`}>{office.name}</a>
              </li>
            ))}
          </ul>
        )}
      </Show>
    </Page>
  );
}

function Board({ office }: { office: string }) {
  const [state, setState] = useState<{ board?: Schemas["booking.Board"]; error?: unknown }>({});
  useEffect(() => {
    let live = true;
    const load = () =>
      call(
        api.GET("/booking/v1/tenants/{ags}/offices/{office_id}/queue/board", {
          params: { path: { ags: TENANT, office_id: office } },
        }),
      ).then(
        (board) => live && setState({ board }),
        (error: unknown) => live && setState((s) => ({ ...s, error })),
      );
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [office]);
  const board = state.board;
  return (
    <div class="board">
      <Page title={t("displayTitle")}>
        {state.error !== undefined && <ErrorMessage error={state.error} />}
        {board && (
          <>
            <table>
              <caption class="visually-hidden">{t("displayTitle")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("number")}</th>
                  <th scope="col">{t("counter")}</th>
                </tr>
              </thead>
              <tbody aria-live="polite">
                {board.calls.map((c) => (
                  <tr key={`${c.code}-${c.called_at}`}>
                    <td class="code">{c.code}</td>
                    <td>{c.counter}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {board.calls.length === 0 && <p>{t("noCalls")}</p>}
            <p class="waiting">
              {t("waiting")}: <strong>{board.waiting}</strong>
            </p>
            <p class="meta">
              {t("updated")} {formatTime(new Date().toISOString())}
            </p>
          </>
        )}
        {!board && state.error === undefined && <p role="status">{t("loading")}</p>}
      </Page>
    </div>
  );
}
