/** Signing staff in with OAuth 2.1's authorization code + PKCE (RFC 7636), as a public client:
 * identity's sign-in page asks for the password, the portal only ever sees the code. The
 * client is `demo-frontend` (make run's seed) unless /desk?client_id= names another; its
 * redirect URI is <origin>/demo/callback. Tokens live in this tab's sessionStorage. */
import { api, call, type Schemas } from "./api/client";
import type { paths } from "./api/schema";
import { currentLanguage } from "./i18n";

type AuthorizeQuery = NonNullable<paths["/identity/v1/oauth2/authorize"]["get"]["parameters"]["query"]>;
type Token = Schemas["identity.OAuth2Token"];

const PENDING = "rathaus.oauth.pending";
const SESSION = "rathaus.oauth.session";
const DEFAULT_CLIENT = "demo-frontend";

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

function redirectUri(): string {
  return `${location.origin}/demo/callback`;
}

export async function signIn(): Promise<void> {
  const clientId = new URLSearchParams(location.search).get("client_id") ?? DEFAULT_CLIENT;
  const verifier = randomString();
  const state = randomString();
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

export type Session = { accessToken: string; expiresAt: number };

/** The callback's code, redeemed at the token endpoint (form-encoded, with the verifier). */
export async function completeSignIn(query: URLSearchParams): Promise<void> {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null") as
    | { verifier: string; state: string; clientId: string }
    | null;
  sessionStorage.removeItem(PENDING);
  const code = query.get("code");
  if (!pending || !code || query.get("state") !== pending.state) throw new Error("state mismatch");
  const token: Token = await call(
    api.POST("/identity/v1/oauth2/token", {
      body: {
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri(),
        code_verifier: pending.verifier,
        client_id: pending.clientId,
      },
      bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }),
  );
  const session: Session = { accessToken: token.access_token, expiresAt: Date.now() + token.expires_in * 1000 };
  sessionStorage.setItem(SESSION, JSON.stringify(session));
}

export function currentSession(): Session | null {
  const session = JSON.parse(sessionStorage.getItem(SESSION) ?? "null") as Session | null;
  return session && session.expiresAt > Date.now() ? session : null;
}

export function signOut(): void {
  sessionStorage.removeItem(SESSION);
}
