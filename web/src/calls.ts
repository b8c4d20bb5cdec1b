/** The room's video call: its signalling WebSocket (version 1, `rathaus.call.v1`, described in
 * the documents contract's description, since a WebSocket is no OpenAPI path) and the
 * RTCPeerConnection it sets up. Shared by the citizen's room and the clerk's.
 *
 * A browser cannot set headers on a WebSocket, so the credential rides as a second offered
 * subprotocol: `rathaus.bearer.<token>` (an access token) or `rathaus.manage.<token>` (the
 * booking's manage link). The citizen, once admitted, sends the offer; the clerk answers. */
import { api, call, type Schemas } from "./api/client";

export type Role = "citizen" | "clerk";
export type PeerState = "waiting" | "joined" | "admitted" | "left";

/** What the server sends (documents/calls/protocol.py's *Out models). */
export type ServerMessage =
  | { v: 1; type: "welcome"; peer: string; role: Role; state: PeerState; closes_at: string; protocol: string }
  | { v: 1; type: "peer"; peer: string; role: Role; state: PeerState }
  | { v: 1; type: "admitted" }
  | { v: 1; type: "offer" | "answer"; peer: string; role: Role; sdp: string }
  | ({ v: 1; type: "candidate"; peer: string; role: Role } & RTCIceCandidateInit & { candidate: string })
  | { v: 1; type: "ended" }
  | { v: 1; type: "error"; reason: string };

/** What a client sends (documents/calls/protocol.py's *In models). */
export type ClientMessage =
  | { type: "offer" | "answer"; sdp: string; to?: string }
  | ({ type: "candidate"; to?: string } & RTCIceCandidateInit)
  | { type: "admit"; peer?: string }
  | { type: "end" };

export type Credential = { bearer: string } | { manage: string };

export const SUBPROTOCOL = "rathaus.call.v1";

/** The close codes of the protocol (CloseCode) that a page explains. */
export const CLOSED_BECAUSE: Record<number, string> = {
  4000: "ended",
  4401: "token-expired",
  4403: "access-lost",
  4408: "window-closed",
};

export class CallSocket {
  private socket: WebSocket;

  constructor(
    bookingId: string,
    credential: Credential,
    onMessage: (message: ServerMessage) => void,
    onClose: (code: number, reason: string) => void,
  ) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const secret = "bearer" in credential ? `rathaus.bearer.${credential.bearer}` : `rathaus.manage.${credential.manage}`;
    this.socket = new WebSocket(
      `${scheme}//${location.host}/documents/v1/bookings/${encodeURIComponent(bookingId)}/room/call`,
      [SUBPROTOCOL, secret],
    );
    this.socket.onmessage = (event) => {
      if (typeof event.data === "string") onMessage(JSON.parse(event.data) as ServerMessage);
    };
    this.socket.onclose = (event) => onClose(event.code, event.reason);
  }

  send(message: ClientMessage): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ v: 1, ...message }));
  }

  close(): void {
    this.socket.close(1000);
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
  try {
    return await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  } catch {
    return null;
  }
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
