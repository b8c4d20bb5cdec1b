/** Reviewing the documents a citizen handed in for an appointment: each checklist item with
 * its documents, opened (downloaded) with the purpose the access log records, accepted, or sent
 * back with the reason the citizen reads. */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import { formatDateTime } from "../i18n";
import type { Session } from "../oauth";
import { ErrorMessage, Show, useAsync } from "../ui";
import { auth, SignedIn } from "./desk-session";
import { d, type DeskKey } from "./desk-text";

type Item = Schemas["documents.ChecklistItemOut"];
type Document = Schemas["documents.DocumentOut"];

const ITEM_STATUS: Record<Item["status"], DeskKey> = {
  missing: "statusMissing",
  pending_scan: "statusPendingScan",
  submitted: "statusSubmitted",
  accepted: "statusAccepted",
  needs_replacement: "statusNeedsReplacement",
};

export function formatSize(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A document's bytes fetched with the clerk's token, handed to the browser as a download. */
export async function download(session: Session, document: Document, purpose?: string): Promise<void> {
  const blob = await call(
    api.GET("/documents/v1/documents/{document_id}/content", {
      params: { path: { document_id: document.id }, query: purpose ? { purpose } : {} },
      headers: auth(session),
      parseAs: "blob",
    }),
  );
  const url = URL.createObjectURL(blob as unknown as Blob);
  const link = window.document.createElement("a");
  link.href = url;
  link.download = document.display_name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function DeskDocumentsPage({ id }: { id: string }) {
  return <SignedIn title={d("reviewTitle")}>{(session) => <Review id={id} session={session} />}</SignedIn>;
}

function Review({ id, session }: { id: string; session: Session }) {
  const [purpose, setPurpose] = useState(() => d("purposeDefault"));
  const list = useAsync(
    () =>
      call(
        api.GET("/documents/v1/bookings/{booking_id}/documents", {
          params: { path: { booking_id: id }, query: { purpose: d("purposeDefault") } },
          headers: auth(session),
        }),
      ),
    [id],
  );
  return (
    <>
      <p>
        <a href={`/desk/bookings/${id}/room`}>{d("openRoom")}</a>
      </p>
      <div class="field">
        <label for="purpose">{d("purpose")}</label>
        <input
          id="purpose"
          value={purpose}
          maxLength={500}
          aria-describedby="purpose-hint"
          onInput={(e) => setPurpose(e.currentTarget.value)}
        />
        <p id="purpose-hint" class="hint">
          {d("purposeHint")}
        </p>
      </div>
      <Show state={list}>
        {(view) => (
          <>
            <dl class="facts">
              <dt>{d("appointmentAt")}</dt>
              <dd>{formatDateTime(view.appointment_at)}</dd>
              <dt>{d("complete")}</dt>
              <dd>{view.complete ? d("yes") : d("no")}</dd>
              <dt>{d("allAccepted")}</dt>
              <dd>{view.all_accepted ? d("yes") : d("no")}</dd>
            </dl>
            <ul class="uploads review">
              {view.items.map((item) => (
                <li key={item.id}>
                  <h2 id={`item-${item.id}`}>
                    {item.title} <span class="req">({item.required ? d("required") : d("optional")})</span>
                  </h2>
                  <p class="status">{d(ITEM_STATUS[item.status])}</p>
                  {item.documents.length === 0 ? (
                    <p class="meta">{d("nothingHandedIn")}</p>
                  ) : (
                    <ul class="uploads">
                      {item.documents.map((doc) => (
                        <DocumentRow
                          key={doc.id}
                          doc={doc}
                          session={session}
                          purpose={purpose}
                          onReviewed={list.reload}
                        />
                      ))}
                    </ul>
                  )}
                </li>
              ))}
            </ul>
          </>
        )}
      </Show>
    </>
  );
}

function DocumentRow({
  doc,
  session,
  purpose,
  onReviewed,
}: {
  doc: Document;
  session: Session;
  purpose: string;
  onReviewed: () => void;
}) {
  const [state, setState] = useState<{ busy?: boolean; error?: unknown; done?: string; asking?: boolean }>({});
  const [reason, setReason] = useState("");
  const clean = doc.scan_status === "clean";
  const reasonId = `reason-${doc.id}`;
  const reasonField = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (state.asking) reasonField.current?.focus();
  }, [state.asking]);
  async function review(decision: "accepted" | "needs_replacement") {
    setState({ busy: true, asking: state.asking });
    try {
      const body = decision === "accepted" ? { decision } : { decision, reason: reason.trim() || null };
      const reviewed = await call(
        api.POST("/documents/v1/documents/{document_id}/review", {
          params: { path: { document_id: doc.id } },
          headers: auth(session),
          body: body as Schemas["documents.ReviewIn"],
        }),
      );
      setState({ done: `${d("reviewed")} ${doc.display_name}: ${d(reviewed.review_status === "accepted" ? "statusAccepted" : "statusNeedsReplacement")}` });
      onReviewed();
    } catch (error) {
      setState({ error, asking: state.asking });
    }
  }
  async function open() {
    setState({ busy: true });
    try {
      await download(session, doc, purpose.trim() || undefined);
      setState({});
    } catch (error) {
      setState({ error });
    }
  }
  return (
    <li>
      <p>
        <strong>{doc.display_name}</strong>{" "}
        <span class="meta">
          ({doc.media_type}, {formatSize(doc.size_bytes)}, {d("handedInAt")} {formatDateTime(doc.created_at)})
        </span>
      </p>
      <p class="status">
        {doc.scan_status === "pending"
          ? d("scanPending")
          : doc.scan_status === "infected"
            ? d("scanInfected")
            : d(ITEM_STATUS[doc.review_status])}
      </p>
      {doc.review_reason && <p class="notice">{doc.review_reason}</p>}
      {state.done && (
        <p class="success" role="status">
          {state.done}
        </p>
      )}
      {state.error !== undefined && <ErrorMessage error={state.error} />}
      {clean && (
        <div class="actions">
          <button type="button" class="secondary" disabled={state.busy} onClick={open}>
            {d("download")} <span class="visually-hidden">{doc.display_name}</span>
          </button>
          {doc.review_status !== "accepted" && (
            <button type="button" disabled={state.busy} onClick={() => review("accepted")}>
              {d("accept")} <span class="visually-hidden">{doc.display_name}</span>
            </button>
          )}
          {doc.review_status !== "needs_replacement" && !state.asking && (
            <button type="button" class="secondary" disabled={state.busy} onClick={() => setState({ asking: true })}>
              {d("needsReplacement")} <span class="visually-hidden">{doc.display_name}</span>
            </button>
          )}
        </div>
      )}
      {state.asking && (
        <form
          class="field"
          onSubmit={(event) => {
            event.preventDefault();
            void review("needs_replacement");
          }}
        >
          <label for={reasonId}>{d("reason")}</label>
          <textarea
            id={reasonId}
            rows={3}
            maxLength={1000}
            value={reason}
            ref={reasonField}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
          <div class="actions">
            <button type="submit" disabled={state.busy}>
              {d("sendReplacement")}
            </button>
            <button type="button" class="secondary" onClick={() => setState({})}>
              {d("cancelAction")}
            </button>
          </div>
        </form>
      )}
    </li>
  );
}
