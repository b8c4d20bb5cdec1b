/** Handing in the checklist's documents before the appointment (the manage link's token is
 * the key, as for the booking itself). */
import { useMemo, useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import { t, type Key } from "../i18n";
import { ErrorMessage, Show, useAsync } from "../ui";

type Item = Schemas["documents.ChecklistItemOut"];
type Booking = Schemas["booking.BookingOut"];

const STATUS: Record<Item["status"], Key> = {
  missing: "docMissing",
  pending_scan: "docPendingScan",
  submitted: "docSubmitted",
  accepted: "docAccepted",
  needs_replacement: "docNeedsReplacement",
};

const FORMAT_NAMES: Record<string, string> = {
  "application/pdf": "PDF",
  "image/jpeg": "JPEG",
  "image/png": "PNG",
};

export function Documents({ booking, token }: { booking: Booking; token: string }) {
  const header = { "X-Manage-Token": token };
  const path = { booking_id: booking.id };
  const state = useAsync(
    () => call(api.GET("/documents/v1/bookings/{booking_id}/documents", { params: { path }, headers: header })),
    [booking.id],
  );
  const formats = useMemo(() => new Map(booking.checklist.map((c) => [c.id, c.accepted_formats])), [booking]);
  return (
    <section aria-labelledby="documents">
      <h2 id="documents">{t("documents")}</h2>
      <p>{t("documentsIntro")}</p>
      <Show state={state}>
        {(list) => (
          <ul class="uploads">
            {list.items.map((item) => (
              <UploadItem
                key={item.id}
                item={item}
                formats={(formats.get(item.id) ?? []).filter((f) => f.includes("/"))}
                upload={async (file) => {
                  await call(
                    api.POST("/documents/v1/bookings/{booking_id}/items/{item_id}/documents", {
                      params: {
                        path: { ...path, item_id: item.id },
                        query: { filename: file.name },
                        header: { ...header, "Idempotency-Key": crypto.randomUUID() },
                      },
                      // The file travels as it is: the body is the file's bytes.
                      body: file as unknown as string,
                      bodySerializer: (body) => body,
                      headers: { "content-type": "application/octet-stream" },
                    }),
                  );
                  state.reload();
                }}
              />
            ))}
          </ul>
        )}
      </Show>
    </section>
  );
}

function UploadItem({ item, formats, upload }: { item: Item; formats: string[]; upload: (file: File) => Promise<void> }) {
  const [state, setState] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const [file, setFile] = useState<File | null>(null);
  const inputId = `file-${item.id}`;
  async function submit(event: Event) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    if (!file) return;
    setState({ busy: true });
    try {
      await upload(file);
      form.reset();
      setFile(null);
      setState({ busy: false });
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  const newest = item.documents[item.documents.length - 1];
  return (
    <li>
      <p>
        <strong>{item.title}</strong>: <span class="status">{t(STATUS[item.status])}</span>
        {newest && (
          <span class="meta">
            {" "}
            ({t("uploaded")} {newest.display_name})
          </span>
        )}
      </p>
      {newest?.review_reason && <p class="notice">{newest.review_reason}</p>}
      {formats.length === 0 && <p class="meta">{t("bringOriginal")}</p>}
      {item.status !== "accepted" && formats.length > 0 && (
        <form class="upload" onSubmit={submit}>
          <label for={inputId}>
            {t("chooseFile")} {item.title}
          </label>
          <input
            id={inputId}
            type="file"
            accept={formats.join(",")}
            aria-describedby={`${inputId}-formats`}
            onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
          />
          <p id={`${inputId}-formats`} class="hint">
            {t("formats")}: {formats.map((f) => FORMAT_NAMES[f] ?? f).join(", ")}
          </p>
          <button type="submit" disabled={!file || state.busy}>
            {state.busy ? t("uploading") : t("upload")}
          </button>
          {state.error !== undefined && <ErrorMessage error={state.error} />}
        </form>
      )}
    </li>
  );
}
