/** What every page of the desk needs: the signed-in clerk's session (or the way to sign in),
 * and the bearer header of its calls. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { t } from "../i18n";
import { currentSession, signIn, type Session } from "../oauth";
import { Page } from "../ui";
import { d } from "./desk-text";

export function auth(session: Session) {
  return { Authorization: `Bearer ${session.accessToken}` };
}

/** A desk page's heading, when no clerk is signed in, with the button to sign in. */
export function SignInPage({ title }: { title: string }) {
  return (
    <Page title={title}>
      <p>{t("deskIntro")}</p>
      <button type="button" onClick={() => void signIn()}>
        {t("signIn")}
      </button>
    </Page>
  );
}

/** The page for a signed-in clerk, or its heading with the button to sign in. */
export function SignedIn({ title, children }: { title: string; children: (session: Session) => ComponentChildren }) {
  const [session] = useState(currentSession);
  if (!session) return <SignInPage title={title} />;
  return (
    <Page title={title}>
      <p>
        <a href="/desk">{d("backToDesk")}</a>
      </p>
      {children(session)}
    </Page>
  );
}
