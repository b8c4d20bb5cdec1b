/** Check-in by QR code: the manage page shows the code of this page's link; opening it (on the
 * citizen's phone at the office, or at a kiosk that scans it) checks in with the manage token.
 * Checking in again changes nothing; outside the window the API's problem says why. */
import { useMemo } from "preact/hooks";
import { encode } from "uqr";
import { api, ApiError, call } from "../api/client";
import { formatTime, t } from "../i18n";
import { Page, Show, useAsync } from "../ui";

export function checkInHref(id: string, token: string): string {
  return `${location.origin}/bookings/${encodeURIComponent(id)}/check-in#token=${token}`;
}

/** The link as a QR code: SVG drawn from the matrix (no inline code, the CSP stays strict). */
export function QrCode({ text, label }: { text: string; label: string }) {
  const { path, size } = useMemo(() => {
    const { data, size } = encode(text, { ecc: "M", border: 2 });
    const path = data.flatMap((row, y) => row.map((dark, x) => (dark ? `M${x} ${y}h1v1h-1z` : ""))).join("");
    return { path, size };
  }, [text]);
  return (
    <svg class="qr" role="img" aria-label={label} viewBox={`0 0 ${size} ${size}`} shape-rendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}

export function CheckInPage({ id, token }: { id: string; token: string | null }) {
  const visit = useAsync(async () => {
    if (!token) throw new ApiError(400, { title: t("missingToken") });
    return call(
      api.POST("/booking/v1/bookings/{booking_id}/check-in", {
        params: { path: { booking_id: id } },
        headers: { "X-Manage-Token": token },
      }),
    );
  }, [id, token]);
  return (
    <Page title={t("checkInTitle")}>
      <Show state={visit}>
        {(done) => (
          <div class="success" role="status">
            <p>
              {done.status === "waiting"
                ? `${t("checkedInNow")} ${done.waiting_ahead ?? 0}`
                : t("checkInCalled")}
            </p>
            <dl class="facts">
              <dt>{t("code")}</dt>
              <dd class="code">{done.code}</dd>
              <dt>{t("when")}</dt>
              <dd>{formatTime(done.starts_at)}</dd>
              {done.counter && (
                <>
                  <dt>{t("checkInCounter")}</dt>
                  <dd>{done.counter}</dd>
                </>
              )}
            </dl>
          </div>
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
