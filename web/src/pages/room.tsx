/** The consultation room of a booking, for its citizen (the manage link's token is the key):
 * the timeline, live (Server-Sent Events read with fetch, since EventSource cannot send the
 * token), messages, the documents the office put into the room (download, acknowledge), and
 * the video call with its waiting room. */
import { useEffect, useRef, useState } from "preact/hooks";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { api, ApiError, call, type Schemas } from "../api/client";
import { Call, cameraAndMicrophone, type Phase, type Stop } from "../call";
import { formatDateTime, formatTime, t, type Key } from "../i18n";
import { ErrorMessage, Page, Show, useAsync } from "../ui";

type Event = Schemas["documents.TimelineEventOut"];
type Sent = Schemas["documents.DocumentOut"];
type Headers = { "X-Manage-Token": string };

const KINDS: Record<string, Key> = {
  document_uploaded: "roomDocumentUploaded",
  document_accepted: "roomDocumentAccepted",
  document_needs_replacement: "roomDocumentNeedsReplacement",
  document_withdrawn: "roomDocumentWithdrawn",
  document_sent: "roomDocumentSent",
  document_acknowledged: "roomDocumentAcknowledged",
  call_waiting: "roomCallWaiting",
  call_joined: "roomCallJoined",
  call_admitted: "roomCallAdmitted",
  call_left: "roomCallLeft",
  call_ended: "roomCallEnded",
};

/** The room's events so far, then live; reconnects after the stream ends (token, time limit). */
function useTimeline(id: string, headers: Headers, onEvent: (event: Event) => void) {
  const [events, setEvents] = useState<Event[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [live, setLive] = useState(false);
  const last = useRef(0);
  const react = useRef(onEvent);
  react.current = onEvent;
  const add = (more: Event[]) => {
    const fresh = more.filter((e) => e.id > last.current);
    if (!fresh.length) return;
    last.current = fresh[fresh.length - 1]!.id;
    setEvents((seen) => [...seen, ...fresh]);
    fresh.forEach((e) => react.current(e));
  };
  useEffect(() => {
    if (!headers["X-Manage-Token"]) return; // the page says the link is incomplete
    const stop = new AbortController();
    const path = { booking_id: id };
    async function follow() {
      while (!stop.signal.aborted) {
        try {
          for (;;) {
            const page = await call(
              api.GET("/documents/v1/bookings/{booking_id}/room/timeline", {
                params: { path, query: { after: last.current, limit: 200 } }, headers, signal: stop.signal,
              }),
            );
            add(page.items);
            if (page.items.length < 200) break;
          }
          const body = await call(
            api.GET("/documents/v1/bookings/{booking_id}/room/stream", {
              params: { path, query: { after: last.current } }, headers, signal: stop.signal, parseAs: "stream",
            }),
          );
          setError(undefined);
          setLive(true);
          const reader = (body as unknown as ReadableStream<BufferSource>)
            .pipeThrough(new TextDecoderStream())
            .pipeThrough(new EventSourceParserStream())
            .getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            if (value.data) add([JSON.parse(value.data) as Event]);
          }
          setLive(false);
        } catch (failure) {
          if (stop.signal.aborted) return;
          setLive(false);
          setError(failure);
          // A refusal (not found, no longer yours) stays; a broken connection is tried again.
          if (failure instanceof ApiError && !failure.unavailable) return;
          await new Promise((wake) => setTimeout(wake, 5000));
        }
      }
    }
    void follow();
    return () => stop.abort();
  }, [id, headers["X-Manage-Token"]]);
  return { events, error, live, add };
}

function Timeline({ events, live }: { events: Event[]; live: boolean }) {
  return (
    <>
      <p class="meta">{live ? t("roomLive") : t("roomNotLive")}</p>
      {/* The log exists from the start, so that the first live event is announced too. */}
      <div role="log" aria-labelledby="timeline">
        {events.length === 0 ? (
          <p>{t("roomEmpty")}</p>
        ) : (
          <ol class="timeline">
            {events.map((event) => (
              <li key={event.id} class={event.by_me ? "mine" : "theirs"}>
                <p class="meta">
                  <span>{event.by_me ? t("roomYou") : event.actor_role === "clerk" ? t("roomClerk") : t("roomCitizen")}</span>
                  {" · "}
                  <time dateTime={event.at}>{formatDateTime(event.at)}</time>
                </p>
                <p>
                  {event.kind === "message"
                    ? event.text
                    : `${t(KINDS[event.kind] ?? "roomSomething")}${event.text ? `: ${event.text}` : ""}`}
                </p>
              </li>
            ))}
          </ol>
        )}
      </div>
    </>
  );
}

function MessageForm({ id, headers, sent }: { id: string; headers: Headers; sent: (event: Event) => void }) {
  const [state, setState] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const [text, setText] = useState("");
  async function submit(event: SubmitEvent) {
    event.preventDefault();
    if (!text.trim()) return;
    setState({ busy: true });
    try {
      sent(
        await call(
          api.POST("/documents/v1/bookings/{booking_id}/room/messages", {
            params: { path: { booking_id: id } }, headers,
            body: { text: text.trim() },
          }),
        ),
      );
      setText("");
      setState({ busy: false });
    } catch (error) {
      setState({ busy: false, error });
    }
  }
  return (
    <form class="form message" onSubmit={submit}>
      <div class="field">
        <label for="message">{t("roomMessage")}</label>
        <textarea
          id="message"
          rows={3}
          maxLength={2000}
          aria-describedby="message-hint"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <p id="message-hint" class="hint">
          {t("roomMessageHint")}
        </p>
      </div>
      {state.error !== undefined && <ErrorMessage error={state.error} />}
      <button type="submit" disabled={state.busy || !text.trim()}>
        {state.busy ? t("roomSending") : t("roomSend")}
      </button>
    </form>
  );
}

function SentDocuments({ id, headers, round }: { id: string; headers: Headers; round: number }) {
  const state = useAsync(
    () => call(api.GET("/documents/v1/bookings/{booking_id}/room/documents", { params: { path: { booking_id: id } }, headers })),
    [id, round],
  );
  return (
    <Show state={state}>
      {(list) =>
        list.items.length === 0 ? (
          <p>{t("roomNoDocuments")}</p>
        ) : (
          <ul class="uploads sent">
            {list.items.map((document) => (
              <SentDocument key={document.id} document={document} headers={headers} changed={state.reload} />
            ))}
          </ul>
        )
      }
    </Show>
  );
}

function SentDocument({ document: sent, headers, changed }: { document: Sent; headers: Headers; changed: () => void }) {
  const [error, setError] = useState<unknown>(undefined);
  const path = { document_id: sent.id };
  async function download() {
    try {
      const blob = await call(
        api.GET("/documents/v1/documents/{document_id}/content", { params: { path }, headers, parseAs: "blob" }),
      );
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob as unknown as Blob);
      link.download = sent.display_name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      setError(undefined);
    } catch (failure) {
      setError(failure);
    }
  }
  async function acknowledge() {
    try {
      await call(api.POST("/documents/v1/documents/{document_id}/acknowledgement", { params: { path }, headers }));
      setError(undefined);
      changed();
    } catch (failure) {
      setError(failure);
    }
  }
  const scanned = sent.scan_status === "clean";
  return (
    <li>
      <p>
        <strong>{sent.display_name}</strong>{" "}
        <span class="meta">
          ({t("roomSentAt")} {formatDateTime(sent.created_at)}, {Math.max(1, Math.round(sent.size_bytes / 1024))} KB)
        </span>
      </p>
      {!scanned && <p class="meta">{t("docPendingScan")}</p>}
      {sent.acknowledged_at && (
        <p class="status">
          {t("roomAcknowledgedAt")} {formatDateTime(sent.acknowledged_at)}
        </p>
      )}
      {scanned && (
        <div class="actions">
          <button type="button" onClick={download}>
            {t("roomDownload")}
            <span class="visually-hidden">: {sent.display_name}</span>
          </button>
          {!sent.acknowledged_at && (
            <button type="button" class="secondary" onClick={acknowledge}>
              {t("roomAcknowledge")}
              <span class="visually-hidden">: {sent.display_name}</span>
            </button>
          )}
        </div>
      )}
      {error !== undefined && <ErrorMessage error={error} />}
    </li>
  );
}

const PHASES: Record<Phase, Key> = {
  waiting: "callWaiting",
  admitted: "callAdmitted",
  connected: "callConnected",
  "clerk-left": "callClerkLeft",
  ended: "callEnded",
};
const STOPS: Record<Stop | "denied" | "missing" | "busy" | "elsewhere", Key> = {
  ended: "callEnded",
  window: "callWindowOver",
  access: "callNoAccess",
  lost: "callLost",
  "media-failed": "callMediaFailed",
  denied: "callDenied",
  missing: "callMissing",
  busy: "callBusy",
  elsewhere: "callElsewhere",
};

type CallState =
  | { step: "idle" }
  | { step: "preparing" }
  | { step: "in"; phase: Phase }
  | { step: "out"; why: keyof typeof STOPS }
  | { step: "refused"; error: unknown };

function VideoCall({ id, token, headers }: { id: string; token: string; headers: Headers }) {
  const [state, setState] = useState<CallState>({ step: "idle" });
  const session = useRef<Call | null>(null);
  const own = useRef<HTMLVideoElement>(null);
  const other = useRef<HTMLVideoElement>(null);
  const status = useRef<HTMLDivElement>(null);
  useEffect(() => () => session.current?.leave(), []);
  useEffect(() => {
    if (state.step === "out" || state.step === "refused") status.current?.focus();
  }, [state.step]);
  async function join() {
    setState({ step: "preparing" });
    const media = await cameraAndMicrophone();
    if (typeof media === "string") {
      setState({ step: "out", why: media });
      return;
    }
    let ice: Schemas["documents.IceServersOut"];
    try {
      ice = await call(
        api.GET("/documents/v1/bookings/{booking_id}/room/call/ice-servers", { params: { path: { booking_id: id } }, headers }),
      );
    } catch (error) {
      media.getTracks().forEach((track) => track.stop());
      setState({ step: "refused", error });
      return;
    }
    if (ice.provider !== "webrtc") {
      // The municipality's LiveKit server: its client is not part of this portal.
      media.getTracks().forEach((track) => track.stop());
      setState({ step: "out", why: "elsewhere" });
      return;
    }
    if (own.current) own.current.srcObject = media;
    session.current = new Call(id, token, media, ice, {
      phase: (phase) => setState({ step: "in", phase }),
      remote: (stream) => {
        if (other.current) other.current.srcObject = stream;
      },
      stopped: (why) => {
        session.current = null;
        setState({ step: "out", why });
      },
    });
  }
  function leave() {
    session.current?.leave();
    session.current = null;
    setState({ step: "out", why: "ended" });
  }
  const inCall = state.step === "in" || state.step === "preparing";
  return (
    <>
      <p>{t("callIntro")}</p>
      <div ref={status} tabIndex={-1} class="call-status">
        {state.step === "preparing" && <p role="status">{t("callPreparing")}</p>}
        {state.step === "in" && (
          <p role="status" class={state.phase === "connected" ? "success" : "notice"} data-phase={state.phase}>
            {t(PHASES[state.phase])}
          </p>
        )}
        {state.step === "out" && (
          <p role="alert" class={state.why === "ended" ? "notice" : "error"} data-stop={state.why}>
            {t(STOPS[state.why])}
          </p>
        )}
        {state.step === "refused" && <ErrorMessage error={state.error} />}
      </div>
      <div class="videos" hidden={!inCall}>
        <figure>
          <video ref={other} class="remote" autoplay playsInline aria-label={t("callTheirVideo")} />
          <figcaption>{t("callTheirVideo")}</figcaption>
        </figure>
        <figure>
          <video ref={own} class="own" autoplay playsInline muted aria-label={t("callOwnVideo")} />
          <figcaption>{t("callOwnVideo")}</figcaption>
        </figure>
      </div>
      <div class="actions">
        {inCall ? (
          <button type="button" class="danger" onClick={leave}>
            {t("callLeave")}
          </button>
        ) : (
          <button type="button" onClick={join}>
            {state.step === "idle" ? t("callJoin") : t("callJoinAgain")}
          </button>
        )}
      </div>
    </>
  );
}

export function RoomPage({ id, token }: { id: string; token: string | null }) {
  const headers: Headers = { "X-Manage-Token": token ?? "" };
  const booking = useAsync(async () => {
    if (!token) throw new ApiError(400, { title: t("missingToken") });
    return call(api.GET("/booking/v1/bookings/{booking_id}", { params: { path: { booking_id: id } }, headers }));
  }, [id, token]);
  const [documentsRound, setDocumentsRound] = useState(0);
  const timeline = useTimeline(id, headers, (event) => {
    if (event.kind === "document_sent" || event.kind === "document_acknowledged") setDocumentsRound((n) => n + 1);
  });
  return (
    <Page title={t("roomTitle")}>
      <Show state={booking}>
        {(shown) => (
          <>
            <p class="lead">
              {formatDateTime(shown.starts_at, shown.office.time_zone)} – {formatTime(shown.ends_at, shown.office.time_zone)},{" "}
              {shown.services.map((s) => s.name).join(", ")} ({shown.mode === "video" ? t("roomVideoMode") : shown.office.name})
            </p>
            <section aria-labelledby="call">
              <h2 id="call">{t("callTitle")}</h2>
              <VideoCall id={id} token={token ?? ""} headers={headers} />
            </section>
            <section aria-labelledby="timeline">
              <h2 id="timeline">{t("roomTimeline")}</h2>
              {timeline.error !== undefined && <ErrorMessage error={timeline.error} />}
              <Timeline events={timeline.events} live={timeline.live} />
              <MessageForm id={id} headers={headers} sent={(event) => timeline.add([event as Event])} />
            </section>
            <section aria-labelledby="sent">
              <h2 id="sent">{t("roomDocuments")}</h2>
              <SentDocuments id={id} headers={headers} round={documentsRound} />
            </section>
            <p>
              <a href={`/bookings/${id}#token=${token ?? ""}`}>{t("roomBack")}</a>
            </p>
          </>
        )}
      </Show>
    </Page>
  );
}
