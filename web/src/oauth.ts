/** Signing staff in with OAuth 2.1's authorization code + PKCE (RFC 7636), as a public client:
 * identity's sign-in page asks for the password, the portal only ever sees the code. The
 * client is `demo-frontend` (make run's seed) unless /desk?client_id= names another; its
 * redirect URI is <origin>/demo/callback. Tokens live in this tab's sessionStorage.
 *
 * The session lasts as long as identity's refresh token: the access token (minutes) is renewed
 * shortly before it expires, and once more when the API refuses it (401; a tab whose timers
 * slept). Refresh tokens rotate (a used one is dead, a replayed one ends the family), so only
 * one refresh runs at a time. Every call with the desk's bearer header goes out with the
 * current token (the API client's middleware below). Signing out revokes the refresh token
 * (RFC 7009). The page the clerk started from rides in `state` and is returned to, if it is
 * one of the desk's own paths. */
import type { Middleware } from "openapi-fetch";
import { api, ApiError, call, type Schemas } from "./api/client";
import type { paths } from "./api/schema";
import { currentLanguage } from "./i18n";

type AuthorizeQuery = NonNullable<paths["/identity/v1/oauth2/authorize"]["get"]["parameters"]["query"]>;
type Token = Schemas["identity.OAuth2Token"];

const PENDING = "rathaus.oauth.pending";
const SESSION = "rathaus.oauth.session";
const DEFAULT_CLIENT = "demo-frontend";
const HOME = "/desk";

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

function redirectUri(): string {
  return `${location.origin}/demo/callback`;
}

/** ``path`` if it is one of the desk's pages on this origin (no other site, no other part of
 * the portal), else the desk's start page: what the callback returns to. */
export function deskPath(path: string | null | undefined): string {
  if (!path || !path.startsWith("/") || path.startsWith("//") || /[\\\s]/.test(path)) return HOME;
  let url: URL;
  try {
    url = new URL(path, location.origin);
  } catch {
    return HOME;
  }
  if (url.origin !== location.origin) return HOME;
  if (url.pathname !== HOME && !url.pathname.startsWith(`${HOME}/`)) return HOME;
  return url.pathname + url.search;
}

export async function signIn(): Promise<void> {
  const clientId = new URLSearchParams(location.search).get("client_id") ?? DEFAULT_CLIENT;
  const verifier = randomString();
  // The random part ties the answer to this request; the page to return to follows it.
  const state = `${randomString()}.${base64url(new TextEncoder().encode(deskPath(location.pathname + location.search)))}`;
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, clientId }));
  const query: AuthorizeQuery = {
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri(),
    scope: "openid email",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
    ui_locales: currentLanguage(),
  };
  const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === "string"));
  location.assign(`/identity/v1/oauth2/authorize?${params}`);
}

/** The page a (matching) state names, checked again: never anything but a desk path. */
function returnPath(state: string): string {
  const encoded = state.split(".")[1] ?? "";
  try {
    const bytes = Uint8Array.from(atob(encoded.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    return deskPath(new TextDecoder().decode(bytes));
  } catch {
    return HOME;
  }
}

export type Session = {
  accessToken: string;
  expiresAt: number;
  /** The access token's lifetime (ms), as identity said. */
  lifetime?: number;
  refreshToken?: string;
  clientId?: string;
};

function store(token: Token, clientId: string, previous?: Session): Session {
  const session: Session = {
    accessToken: token.access_token,
    expiresAt: Date.now() + token.expires_in * 1000,
    lifetime: token.expires_in * 1000,
    // Identity rotates it on every use; keep the old one only if none came (it never should).
    refreshToken: token.refresh_token ?? previous?.refreshToken,
    clientId,
  };
  sessionStorage.setItem(SESSION, JSON.stringify(session));
  schedule(session);
  return session;
}

function tokenRequest(body: Record<string, string>) {
  return call(
    api.POST("/identity/v1/oauth2/token", {
      // The form's fields as the contract has them; this helper passes each grant's own.
      body: body as unknown as never,
      bodySerializer: (fields) => new URLSearchParams(fields as Record<string, string>),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }),
  ) as Promise<Token>;
}

/** The callback's code, redeemed at the token endpoint (form-encoded, with the verifier);
 * the desk page to go to next. */
export async function completeSignIn(query: URLSearchParams): Promise<string> {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null") as
    | { verifier: string; state: string; clientId: string }
    | null;
  sessionStorage.removeItem(PENDING);
  const code = query.get("code");
  const state = query.get("state");
  if (!pending || !code || state !== pending.state) throw new Error("state mismatch");
  const token = await tokenRequest({
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
    client_id: pending.clientId,
  });
  store(token, pending.clientId);
  return returnPath(state);
}

function stored(): Session | null {
  return JSON.parse(sessionStorage.getItem(SESSION) ?? "null") as Session | null;
}

/** The signed-in session: one whose access token still works or can be renewed. */
export function currentSession(): Session | null {
  const session = stored();
  if (!session || (session.expiresAt <= Date.now() && !session.refreshToken)) return null;
  schedule(session);
  return session;
}

/** Renew this long before the access token expires: a quarter of its life, a minute at most. */
function margin(lifetimeMs: number): number {
  return Math.min(60_000, Math.max(2_000, lifetimeMs / 4));
}

let timer: ReturnType<typeof setTimeout> | undefined;

function schedule(session: Session): void {
  clearTimeout(timer);
  if (!session.refreshToken) return;
  const left = session.expiresAt - Date.now();
  const early = margin(session.lifetime ?? 300_000);
  timer = setTimeout(() => void refresh(session.accessToken).catch(() => undefined), Math.max(0, left - early));
}

let running: Promise<Session | null> | null = null;

/** A new access token (and refresh token) unless the stored one is newer than ``replacing``;
 * one refresh at a time, since a refresh token works once. Null: the session is over. */
export function refresh(replacing: string): Promise<Session | null> {
  const session = stored();
  if (!session) return Promise.resolve(null);
  if (session.accessToken !== replacing && session.expiresAt > Date.now()) return Promise.resolve(session);
  if (running) return running;
  const refreshToken = session.refreshToken;
  if (!refreshToken) return Promise.resolve(null);
  running = tokenRequest({
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: session.clientId ?? DEFAULT_CLIENT,
  })
    .then(
      (token) => store(token, session.clientId ?? DEFAULT_CLIENT, session),
      (error: unknown) => {
        // invalid_grant: revoked, expired or used elsewhere; the clerk signs in again.
        if (error instanceof ApiError && error.status === 400) {
          sessionStorage.removeItem(SESSION);
          clearTimeout(timer);
          return null;
        }
        throw error;
      },
    )
    .finally(() => {
      running = null;
    });
  return running;
}

/** The access token to send now: renewed first when it is about to expire. */
export async function freshAccessToken(): Promise<string | null> {
  const session = stored();
  if (!session) return null;
  if (session.expiresAt - Date.now() > 2_000) return session.accessToken;
  return (await refresh(session.accessToken))?.accessToken ?? null;
}

export async function signOut(): Promise<void> {
  const session = stored();
  sessionStorage.removeItem(SESSION);
  clearTimeout(timer);
  if (!session?.refreshToken) return;
  try {
    await call(
      api.POST("/identity/v1/oauth2/revoke", {
        body: { token: session.refreshToken, token_type_hint: "refresh_token" },
        bodySerializer: (fields) => new URLSearchParams(fields as Record<string, string>),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
    );
  } catch {
    // Signed out here either way; the refresh token ends on its own.
  }
}

const BEARER = /^Bearer /i;
const unsent = new WeakMap<Request, Request>();

/** Calls with the desk's bearer header: the current token, and on a 401 one refresh and the
 * same call again. */
const bearer: Middleware = {
  async onRequest({ request }) {
    if (!BEARER.test(request.headers.get("authorization") ?? "") || !stored()) return request;
    // Identity unreachable: the token as it is (the API's answer says the rest).
    const token = await freshAccessToken().catch(() => null);
    if (token) request.headers.set("authorization", `Bearer ${token}`);
    unsent.set(request, request.clone());
    return request;
  },
  async onResponse({ request, response }) {
    const again = unsent.get(request);
    unsent.delete(request);
    if (response.status !== 401 || !again) return response;
    const sent = (request.headers.get("authorization") ?? "").replace(BEARER, "");
    const session = await refresh(sent).catch(() => null);
    if (!session) return response;
    again.headers.set("authorization", `Bearer ${session.accessToken}`);
    return fetch(again);
  },
};
api.use(bearer);
