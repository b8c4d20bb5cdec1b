/** The room's video call on the citizen's side: signalling on the room's WebSocket
 * (`GET /documents/v1/bookings/{id}/room/call`, messages of version 1 as the documents contract's
 * description lists them), media peer to peer or through the TURN servers of
 * `.../room/call/ice-servers`. The citizen waits until a clerk admits them, then offers. */
import type { Schemas } from "./api/client";

type IceServers = Schemas["documents.IceServersOut"];

/** What the server sends (documents/calls/protocol.py). */
export type ServerMessage =
  | { type: "welcome"; peer: string; role: "citizen" | "clerk"; state: PeerState; closes_at: string }
  | { type: "peer"; peer: string; role: "citizen" | "clerk"; state: PeerState }
  | { type: "admitted" }
  | { type: "offer" | "answer"; peer: string; role: "citizen" | "clerk"; sdp: string }
  | ({ type: "candidate"; peer: string; role: "citizen" | "clerk" } & RTCIceCandidateInit)
  | { type: "ended" }
  | { type: "error"; reason: string };
export type PeerState = "waiting" | "joined" | "admitted" | "left";

export type Phase =
  | "waiting" // connected, a clerk has not admitted the citizen yet
  | "admitted" // admitted: offering, ICE on the way
  | "connected" // media flows
  | "clerk-left" // the clerk's side went away (they may come back)
  | "ended"; // a clerk ended the call

/** Why the call stopped, from the socket's close code (documents' CloseCode). */
export type Stop = "ended" | "window" | "access" | "lost" | "media-failed";

export type CallEvents = {
  phase(phase: Phase): void;
  remote(stream: MediaStream): void;
  stopped(why: Stop, detail?: string): void;
};

export const SUBPROTOCOL = "rathaus.call.v1";

export class Call {
  private socket: WebSocket;
  private connection: RTCPeerConnection | null = null;
  private clerk: string | null = null;
  private done = false;
  private early: (RTCIceCandidateInit | null)[] = []; // before the answer arrived

  constructor(
    bookingId: string,
    manageToken: string,
    private readonly media: MediaStream,
    private readonly ice: IceServers,
    private readonly on: CallEvents,
  ) {
    const url = new URL(`/documents/v1/bookings/${encodeURIComponent(bookingId)}/room/call`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    // A browser cannot set headers on a WebSocket: the manage token rides as a subprotocol.
    this.socket = new WebSocket(url, [SUBPROTOCOL, `rathaus.manage.${manageToken}`]);
    this.socket.onmessage = (event) => void this.receive(JSON.parse(String(event.data)) as ServerMessage);
    this.socket.onclose = (event) => this.closed(event.code, event.reason);
  }

  /** The citizen leaves (the clerk sees "left"); the camera goes off. */
  leave(): void {
    this.finish();
    this.socket.close(1000, "left");
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ v: 1, ...message }));
  }

  private async receive(message: ServerMessage): Promise<void> {
    switch (message.type) {
      case "welcome":
        if (message.state === "admitted") await this.offer();
        else this.on.phase("waiting");
        return;
      case "admitted":
        await this.offer();
        return;
      case "peer":
        if (message.role === "clerk" && message.state === "left" && message.peer === this.clerk)
          this.on.phase("clerk-left");
        return;
      case "offer": {
        // A clerk renegotiates (or offers first after a reconnect): answer them.
        const connection = this.connection ?? this.open();
        this.clerk = message.peer;
        await connection.setRemoteDescription({ type: "offer", sdp: message.sdp });
        for (const candidate of this.early.splice(0)) await connection.addIceCandidate(candidate);
        await connection.setLocalDescription(await connection.createAnswer());
        this.send({ type: "answer", sdp: connection.localDescription?.sdp, to: message.peer });
        return;
      }
      case "answer":
        this.clerk = message.peer;
        await this.connection?.setRemoteDescription({ type: "answer", sdp: message.sdp });
        for (const candidate of this.early.splice(0)) await this.connection?.addIceCandidate(candidate);
        return;
      case "candidate": {
        const { candidate, sdpMid, sdpMLineIndex, usernameFragment } = message;
        const init = candidate ? { candidate, sdpMid, sdpMLineIndex, usernameFragment } : null;
        if (this.connection?.remoteDescription) await this.connection.addIceCandidate(init);
        else this.early.push(init);
        return;
      }
      case "ended":
        this.finish();
        this.on.phase("ended");
        this.on.stopped("ended");
        return;
      case "error":
        return; // a refused message; the socket stays open and the state says what to do
    }
  }

  private open(): RTCPeerConnection {
    const connection = new RTCPeerConnection({ iceServers: this.ice.ice_servers.map((s) => ({ ...s, username: s.username ?? undefined, credential: s.credential ?? undefined })) });
    for (const track of this.media.getTracks()) connection.addTrack(track, this.media);
    connection.onicecandidate = ({ candidate }) => {
      if (candidate) this.send({ type: "candidate", ...candidate.toJSON(), ...(this.clerk ? { to: this.clerk } : {}) });
    };
    connection.ontrack = (event) => this.on.remote(event.streams[0] ?? new MediaStream([event.track]));
    connection.onconnectionstatechange = () => {
      if (connection.connectionState === "connected") this.on.phase("connected");
      if (connection.connectionState === "failed") {
        this.finish();
        this.socket.close(1000, "media failed");
        this.on.stopped("media-failed");
      }
    };
    this.connection = connection;
    return connection;
  }

  private async offer(): Promise<void> {
    this.on.phase("admitted");
    this.connection?.close();
    this.early = [];
    const connection = this.open();
    await connection.setLocalDescription(await connection.createOffer());
    this.send({ type: "offer", sdp: connection.localDescription?.sdp });
  }

  private closed(code: number, reason: string): void {
    if (this.done) return;
    this.finish();
    if (code === 4000) {
      this.on.phase("ended");
      this.on.stopped("ended");
    } else if (code === 4408) this.on.stopped("window", reason);
    else if (code === 4403) this.on.stopped("access", reason);
    else this.on.stopped("lost", reason);
  }

  private finish(): void {
    this.done = true;
    this.connection?.close();
    this.connection = null;
    for (const track of this.media.getTracks()) track.stop();
  }
}

/** The camera and the microphone, or why not, in a word the page turns into a sentence. */
export async function cameraAndMicrophone(): Promise<MediaStream | "denied" | "missing" | "busy"> {
  if (!navigator.mediaDevices?.getUserMedia) return "missing";
  try {
    return await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  } catch (error) {
    const name = error instanceof DOMException ? error.name : "";
    if (name === "NotAllowedError" || name === "SecurityError") return "denied";
    if (name === "NotReadableError" || name === "AbortError") return "busy";
    return "missing"; // NotFoundError, OverconstrainedError: no such device
  }
}
