/** The clerk's side of the room's video call (the citizen's is ../call.ts, whose message
 * types and media it shares): the signalling socket with the clerk's access token offered as
 * the subprotocol `rathaus.bearer.<token>` (a browser cannot set headers on a WebSocket), the
 * peer connection that answers the admitted citizen's offer, candidates both ways. */
import { api, call, type Schemas } from "../api/client";
import { cameraAndMicrophone, SUBPROTOCOL, type ServerMessage } from "../call";

/** What a client sends (documents/calls/protocol.py's *In models). */
export type ClientMessage =
  | { type: "offer" | "answer"; sdp: string; to?: string }
  | ({ type: "candidate"; to?: string } & RTCIceCandidateInit)
  | { type: "admit"; peer?: string }
  | { type: "end" };

/** documents' CloseCode.TOKEN_EXPIRED. */
const TOKEN_EXPIRED = 4401;

export class CallSocket {
  private socket: WebSocket | null = null;
  private closed = false;
  private refused = 0;

  /** ``token``: the access token to open with. The server closes the socket when the token
   * it was opened with expires (4401): the socket opens again at once with the renewed one,
   * and the peer connections (media flows peer to peer) never notice. */
  constructor(
    private readonly bookingId: string,
    private readonly token: () => Promise<string | null>,
    private readonly onMessage: (message: ServerMessage) => void,
    private readonly onClose: (code: number, reason: string) => void,
  ) {
    void this.open();
  }

  private async open(): Promise<void> {
    const token = await this.token();
    if (this.closed) return;
    if (!token) {
      this.onClose(TOKEN_EXPIRED, "signed out");
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(
      `${scheme}//${location.host}/documents/v1/bookings/${encodeURIComponent(this.bookingId)}/room/call`,
      [SUBPROTOCOL, `rathaus.bearer.${token}`],
    );
    this.socket = socket;
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      const message = JSON.parse(event.data) as ServerMessage;
      if (message.type === "welcome") this.refused = 0;
      this.onMessage(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      // Twice in a row without a welcome: the renewed token is refused too.
      if (event.code === TOKEN_EXPIRED && !this.closed && this.refused++ < 2) void this.open();
      else this.onClose(event.code, event.reason);
    };
  }

  send(message: ClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ v: 1, ...message }));
  }

  close(): void {
    this.closed = true;
    this.socket?.close(1000);
  }
}

/** STUN/TURN servers of the room's call, as RTCConfiguration wants them. */
export async function iceServers(
  bookingId: string,
  headers: Record<string, string>,
): Promise<RTCIceServer[]> {
  const answer: Schemas["documents.IceServersOut"] = await call(
    api.GET("/documents/v1/bookings/{booking_id}/room/call/ice-servers", {
      params: { path: { booking_id: bookingId } },
      headers,
    }),
  );
  return answer.ice_servers.map((server) => ({
    urls: server.urls,
    ...(server.username ? { username: server.username } : {}),
    ...(server.credential ? { credential: server.credential } : {}),
  }));
}

/** Camera and microphone, or none (the call still shows and plays the other side). */
export async function localMedia(): Promise<MediaStream | null> {
  const media = await cameraAndMicrophone();
  return typeof media === "string" ? null : media;
}

/** One peer connection to the other side, wired to the socket: local tracks out, the remote
 * stream to ``onRemote``, candidates both ways (to ``peer``). The side that offers without a
 * camera asks to receive; the answering side's tracks join the offer's m-lines. */
export function connectPeer(
  socket: CallSocket,
  peer: string,
  servers: RTCIceServer[],
  local: MediaStream | null,
  onRemote: (stream: MediaStream) => void,
  offering = false,
): RTCPeerConnection {
  const connection = new RTCPeerConnection({ iceServers: servers });
  if (local) for (const track of local.getTracks()) connection.addTrack(track, local);
  else if (offering) {
    connection.addTransceiver("video", { direction: "recvonly" });
    connection.addTransceiver("audio", { direction: "recvonly" });
  }
  connection.onicecandidate = (event) => {
    const candidate = event.candidate?.toJSON() ?? { candidate: "" };
    socket.send({ type: "candidate", to: peer, ...candidate, candidate: candidate.candidate ?? "" });
  };
  connection.ontrack = (event) => onRemote(event.streams[0] ?? new MediaStream([event.track]));
  return connection;
}

/** The clerk's side of an offer: the answer, sent back to its peer. */
export async function answerOffer(
  socket: CallSocket,
  connection: RTCPeerConnection,
  offer: { peer: string; sdp: string },
): Promise<void> {
  await connection.setRemoteDescription({ type: "offer", sdp: offer.sdp });
  const answer = await connection.createAnswer();
  await connection.setLocalDescription(answer);
  socket.send({ type: "answer", sdp: answer.sdp ?? "", to: offer.peer });
}

export async function addCandidate(connection: RTCPeerConnection, message: RTCIceCandidateInit): Promise<void> {
  if (!message.candidate) return; // the end of the other side's candidates
  await connection.addIceCandidate({
    candidate: message.candidate,
    sdpMid: message.sdpMid ?? null,
    sdpMLineIndex: message.sdpMLineIndex ?? null,
    ...(message.usernameFragment ? { usernameFragment: message.usernameFragment } : {}),
  });
}
