/** The clerk's side of an appointment's consultation room: its timeline (messages, documents,
 * the call's happenings; polled, since an EventSource cannot send the clerk's token), writing
 * to the citizen, putting a document into the room for them, and the video call: open it, let
 * the waiting citizen in, see and hear them, end it. */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, call, type Schemas } from "../api/client";
import type { PeerState, ServerMessage } from "../call";
import { addCandidate, answerOffer, CallSocket, connectPeer, iceServers, localMedia } from "./desk-call";
import { formatDateTime, formatTime } from "../i18n";
import { freshAccessToken, type Session } from "../oauth";
import { ErrorMessage, Show, useAsync } from "../ui";
import { formatSize } from "./desk-review";
import { auth, SignedIn } from "./desk-session";
import { d, kindText, type DeskKey } from "./desk-text";

type TimelineEvent = Schemas["documents.TimelineEventOut"];

const POLL_MS = 3000;

export function DeskRoomPage({ id }: { id: string }) {
  return (
    <SignedIn title={d("roomTitle")}>
      {(session) => (
        <>
          <p>
            <a href={`/desk/bookings/${id}`}>{d("openDocuments")}</a>
          </p>
          <Call id={id} session={session} />
          <Timeline id={id} session={session} />
          <RoomDocuments id={id} session={session} />
        </>
      )}
    </SignedIn>
  );
}

function Timeline({ id, session }: { id: string; session: Session }) {
  const [events, setEvents] = useState<TimelineEvent[]>([]);
  const [error, setError] = useState<unknown>();
  const [loaded, setLoaded] = useState(false);
  const after = useRef(0);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    async function poll() {
      try {
        const page = await call(
          api.GET("/documents/v1/bookings/{booking_id}/room/timeline", {
            params: { path: { booking_id: id }, query: { after: after.current } },
            headers: auth(session),
          }),
        );
        if (!live) return;
        after.current = page.next_after;
        if (page.items.length) setEvents((old) => [...old, ...page.items]);
        setError(undefined);
        setLoaded(true);
      } catch (e) {
        if (live) setError(e);
      }
    }
    void poll();
    const timer = setInterval(() => void poll(), POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [id, session.accessToken, round]);
  return (
    <section aria-labelledby="timeline">
      <h2 id="timeline">{d("timeline")}</h2>
      {error !== undefined && <ErrorMessage error={error} retry={() => setRound((r) => r + 1)} />}
      <div role="log" aria-labelledby="timeline">
      <ol class="desk-timeline">
        {events.map((event) => (
          <li key={event.id} class={event.kind === "message" ? "message" : "happening"}>
            <span class="meta">
              {formatTime(event.at)} · {event.by_me ? d("you") : d(event.actor_role === "citizen" ? "citizen" : "clerk")}:
            </span>{" "}
            {event.kind === "message" ? event.text : kindText(event.kind)}
            {event.kind !== "message" && event.text && <span class="meta"> ({event.text})</span>}
          </li>
        ))}
      </ol>
      </div>
      {loaded && events.length === 0 && <p>{d("nothingYet")}</p>}
      <MessageForm id={id} session={session} />
    </section>
  );
}

function MessageForm({ id, session }: { id: string; session: Session }) {
  const [text, setText] = useState("");
  const [state, setState] = useState<{ busy?: boolean; error?: unknown; sent?: boolean }>({});
  async function submit(event: Event) {
    event.preventDefault();
    setState({ busy: true });
    try {
      await call(
        api.POST("/documents/v1/bookings/{booking_id}/room/messages", {
          params: { path: { booking_id: id } },
          headers: auth(session),
          body: { text },
        }),
      );
      setText("");
      setState({ sent: true });
    } catch (error) {
      setState({ error });
    }
  }
  return (
    <form onSubmit={submit}>
      <div class="field">
        <label for="message">{d("message")}</label>
        <textarea id="message" rows={3} maxLength={2000} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </div>
      <button type="submit" disabled={state.busy}>
        {d("send")}
      </button>
      {state.sent && (
        <p class="success" role="status">
          {d("sent")}
        </p>
      )}
      {state.error !== undefined && <ErrorMessage error={state.error} />}
    </form>
  );
}

function RoomDocuments({ id, session }: { id: string; session: Session }) {
  const list = useAsync(
    () =>
      call(
        api.GET("/documents/v1/bookings/{booking_id}/room/documents", {
          params: { path: { booking_id: id } },
          headers: auth(session),
        }),
      ),
    [id],
  );
  const [file, setFile] = useState<File | null>(null);
  const [state, setState] = useState<{ busy?: boolean; error?: unknown; sent?: string }>({});
  async function submit(event: Event) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    if (!file) return;
    setState({ busy: true });
    try {
      const sent = await call(
        api.POST("/documents/v1/bookings/{booking_id}/room/documents", {
          params: { path: { booking_id: id }, query: { filename: file.name } },
          headers: { ...auth(session), "content-type": "application/octet-stream" },
          // The file travels as it is: the body is the file's bytes.
          body: file as unknown as string,
          bodySerializer: (body) => body,
        }),
      );
      form.reset();
      setFile(null);
      setState({ sent: sent.display_name });
      list.reload();
    } catch (error) {
      setState({ error });
    }
  }
  return (
    <section aria-labelledby="room-documents">
      <h2 id="room-documents">{d("roomDocuments")}</h2>
      <Show state={list}>
        {(view) =>
          view.items.length === 0 ? (
            <p>{d("roomDocumentsNone")}</p>
          ) : (
            <ul class="uploads">
              {view.items.map((doc) => (
                <li key={doc.id}>
                  <strong>{doc.display_name}</strong>{" "}
                  <span class="meta">
                    ({formatSize(doc.size_bytes)}, {formatDateTime(doc.created_at)};{" "}
                    {doc.acknowledged_at ? `${d("acknowledged")} ${formatDateTime(doc.acknowledged_at)}` : d("notAcknowledged")})
                  </span>
                </li>
              ))}
            </ul>
          )
        }
      </Show>
      <form class="upload" onSubmit={submit}>
        <label for="room-file">{d("chooseFile")}</label>
        <input id="room-file" type="file" accept="application/pdf,image/jpeg,image/png" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
        <button type="submit" disabled={!file || state.busy}>
          {d("sendDocument")}
        </button>
      </form>
      {state.sent && (
        <p class="success" role="status">
          {d("sent")} {state.sent}
        </p>
      )}
      {state.error !== undefined && <ErrorMessage error={state.error} />}
    </section>
  );
}

const STATE_TEXT: Record<PeerState, DeskKey> = {
  waiting: "stateWaiting",
  joined: "stateJoined",
  admitted: "stateAdmitted",
  left: "stateLeft",
};

type Peer = { role: "citizen" | "clerk"; state: PeerState };

function Call({ id, session }: { id: string; session: Session }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState<string | null>(null);
  const [closesAt, setClosesAt] = useState<string | null>(null);
  const [self, setSelf] = useState<string | null>(null);
  // The socket's ids so far: it opens again with a renewed token (a new id, the old one leaves).
  const own = useRef(new Set<string>());
  const [peers, setPeers] = useState<Record<string, Peer>>({});
  const [noCamera, setNoCamera] = useState(false);
  const socket = useRef<CallSocket | null>(null);
  const connections = useRef(new Map<string, RTCPeerConnection>());
  const local = useRef<MediaStream | null>(null);
  const ownVideo = useRef<HTMLVideoElement>(null);
  const otherVideo = useRef<HTMLVideoElement>(null);

  function hangUp() {
    connections.current.forEach((c) => c.close());
    connections.current.clear();
    local.current?.getTracks().forEach((track) => track.stop());
    local.current = null;
    if (otherVideo.current) otherVideo.current.srcObject = null;
  }
  useEffect(
    () => () => {
      socket.current?.close();
      hangUp();
    },
    [],
  );

  async function start() {
    setError(undefined);
    setStatus(d("connecting"));
    let servers: RTCIceServer[];
    try {
      servers = await iceServers(id, auth(session));
    } catch (e) {
      setStatus(null);
      setError(e);
      return;
    }
    local.current = await localMedia();
    setNoCamera(local.current === null);
    setOpen(true);
    const onMessage = (message: ServerMessage) => {
      switch (message.type) {
        case "welcome":
          own.current.add(message.peer);
          setSelf(message.peer);
          setClosesAt(message.closes_at);
          setStatus(null);
          break;
        case "peer":
          if (own.current.has(message.peer)) break;
          setPeers((old) => ({ ...old, [message.peer]: { role: message.role, state: message.state } }));
          if (message.state === "left") connections.current.get(message.peer)?.close();
          break;
        case "offer": {
          connections.current.get(message.peer)?.close();
          const connection = connectPeer(socket.current!, message.peer, servers, local.current, (stream) => {
            if (otherVideo.current) otherVideo.current.srcObject = stream;
          });
          connections.current.set(message.peer, connection);
          answerOffer(socket.current!, connection, message).catch((e: unknown) => setStatus(String(e)));
          break;
        }
        case "candidate": {
          const connection = connections.current.get(message.peer);
          if (connection) addCandidate(connection, message).catch(() => undefined);
          break;
        }
        case "ended":
          setStatus(d("callEnded"));
          hangUp();
          break;
        case "error":
          setStatus(message.reason);
          break;
        default:
          break;
      }
    };
    socket.current = new CallSocket(id, freshAccessToken, onMessage, (code, reason) => {
      socket.current = null;
      hangUp();
      setOpen(false);
      setPeers({});
      setStatus(code === 4000 ? d("callEnded") : `${d("callClosed")} ${reason || code}`);
    });
  }

  useEffect(() => {
    if (open && ownVideo.current) ownVideo.current.srcObject = local.current;
  }, [open]);

  const others = Object.entries(peers).filter(([peer]) => peer !== self && !own.current.has(peer));
  return (
    <section aria-labelledby="call">
      <h2 id="call">{d("call")}</h2>
      {error !== undefined && <ErrorMessage error={error} />}
      {status && (
        <p role="status" class="notice">
          {status}
        </p>
      )}
      {!open ? (
        <>
          <p>{d("callIntro")}</p>
          <button type="button" onClick={() => void start()}>
            {d("openCall")}
          </button>
        </>
      ) : (
        <>
          {closesAt && (
            <p class="meta">
              {d("callOpenUntil")} {formatTime(closesAt)}
            </p>
          )}
          {noCamera && <p class="notice">{d("noCamera")}</p>}
          <h3 id="participants">{d("participants")}</h3>
          {others.length === 0 ? (
            <p>{d("nobodyInCall")}</p>
          ) : (
            <ul aria-labelledby="participants" aria-live="polite">
              {others.map(([peer, who]) => (
                <li key={peer}>
                  {d(who.role === "citizen" ? "citizen" : "clerk")}: <span class="status">{d(STATE_TEXT[who.state])}</span>{" "}
                  {who.role === "citizen" && who.state === "waiting" && (
                    <button type="button" onClick={() => socket.current?.send({ type: "admit", peer })}>
                      {d("admit")}
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
          <div class="desk-videos">
            <figure>
              <video ref={otherVideo} id="other-video" autoplay playsInline aria-labelledby="other-video-caption" />
              <figcaption id="other-video-caption">{d("otherVideo")}</figcaption>
            </figure>
            <figure>
              <video ref={ownVideo} id="own-video" autoplay playsInline muted aria-labelledby="own-video-caption" />
              <figcaption id="own-video-caption">{d("ownVideo")}</figcaption>
            </figure>
          </div>
          <button type="button" class="danger" onClick={() => socket.current?.send({ type: "end" })}>
            {d("endCall")}
          </button>
        </>
      )}
    </section>
  );
}
