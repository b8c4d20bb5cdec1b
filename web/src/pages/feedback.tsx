/** The satisfaction mail's link (``/bookings/<id>/feedback#token=``): the visit, and its rating
 * from 1 to 5, given once (the API refuses a second one and a visit not yet completed in words). */
import { useState } from "preact/hooks";
import { api, ApiError, call } from "../api/client";
import { t } from "../i18n";
import { ErrorMessage, Page, Show, useAsync, useFocusOnResult } from "../ui";
import { BookingFacts } from "./citizen";
import { tm, type MailWord } from "./mailwords";

const RATINGS: [number, MailWord][] = [
  [5, "feedback5"],
  [4, "feedback4"],
  [3, "feedback3"],
  [2, "feedback2"],
  [1, "feedback1"],
];

export function FeedbackPage({ id, token }: { id: string; token: string | null }) {
  const headers = { "X-Manage-Token": token ?? "" };
  const booking = useAsync(async () => {
    if (!token) throw new ApiError(400, { title: t("missingToken") });
    return call(api.GET("/booking/v1/bookings/{booking_id}", { params: { path: { booking_id: id } }, headers }));
  }, [id, token]);
  const [state, setState] = useState<{ busy: boolean; error?: unknown; rated?: number }>({ busy: false });
  const result = useFocusOnResult(state, Boolean(state.rated || state.error));
  async function submit(event: Event) {
    event.preventDefault();
    const rating = Number(new FormData(event.currentTarget as HTMLFormElement).get("rating"));
    setState({ busy: true });
    try {
      const visit = await call(
        api.POST("/booking/v1/bookings/{booking_id}/feedback", {
          params: { path: { booking_id: id } },
          headers,
          body: { rating },
        }),
      );
      setState({ busy: false, rated: visit.rating ?? rating });
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  return (
    <Page title={tm("feedbackTitle")}>
      <Show state={booking}>
        {(shown) => (
          <>
            <BookingFacts booking={shown} />
            {state.rated ? (
              <div ref={result} tabIndex={-1} class="success" role="status">
                <p>{tm("feedbackThanks")}</p>
              </div>
            ) : (
              <form onSubmit={submit} class="form">
                <fieldset>
                  <legend>{tm("feedbackQuestion")}</legend>
                  {RATINGS.map(([value, key]) => (
                    <div class="choice" key={value}>
                      <input id={`rating-${value}`} type="radio" name="rating" value={value} required />
                      <label for={`rating-${value}`}>{tm(key)}</label>
                    </div>
                  ))}
                </fieldset>
                <div ref={result} tabIndex={-1}>
                  {state.error !== undefined && <ErrorMessage error={state.error} />}
                </div>
                <button type="submit" disabled={state.busy}>
                  {tm("feedbackSend")}
                </button>
              </form>
            )}
          </>
        )}
      </Show>
      {token && (
        <p>
          <a href={`/bookings/${id}#token=${token}`}>{t("roomBack")}</a>
        </p>
      )}
    </Page>
  );
}
