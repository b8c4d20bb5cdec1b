/** Building blocks every page uses: loading, errors that say what to do, the page heading. */
import type { ComponentChildren, RefObject } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api/client";
import { currentLanguage, t } from "./i18n";

export type Async<T> = { data?: T; error?: unknown; loading: boolean; reload: () => void };

/** Runs ``load`` now and whenever ``deps`` or the language change. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  const language = currentLanguage();
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, language, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}

export function Loading() {
  return (
    <p class="loading" role="status">
      {t("loading")}
    </p>
  );
}

/** What went wrong, in words: never a blank page. */
export function ErrorMessage({ error, retry }: { error: unknown; retry?: () => void }) {
  const unavailable = !(error instanceof ApiError) || error.unavailable;
  const detail = error instanceof ApiError && !unavailable ? (error.problem?.detail ?? error.problem?.title ?? error.message) : null;
  return (
    <div class="error" role="alert">
      <p>{unavailable ? t("unavailable") : `${t("failed")} ${detail}`}</p>
      {retry && (
        <button type="button" onClick={retry}>
          {t("retry")}
        </button>
      )}
    </div>
  );
}

/** The page's heading: it takes the focus when the page changes, and names the tab. */
export function Page({ title, children }: { title: string; children?: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} – ${t("portal")} ${t("municipality")}`;
    if (document.body.dataset.navigated) heading.current?.focus();
  }, [title]);
  return (
    <>
      <h1 tabIndex={-1} ref={heading}>
        {title}
      </h1>
      {children}
    </>
  );
}

export function Show<T>({ state, children }: { state: Async<T>; children: (data: T) => ComponentChildren }) {
  if (state.error !== undefined) return <ErrorMessage error={state.error} retry={state.reload} />;
  if (state.data === undefined) return <Loading />;
  return <>{children(state.data)}</>;
}

/** A ref for the place that shows a form's outcome: it takes the focus whenever ``state``
 * changes and ``shown`` (a result or an error in it) is true, so screen readers announce it. */
export function useFocusOnResult(state: object, shown: boolean): RefObject<HTMLDivElement> {
  const result = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (shown) result.current?.focus();
  }, [state]);
  return result;
}

/** The required name and e-mail fields of a contact form; ``prefix`` keeps their ids and
 * names apart from those of another form on the same page. */
export function ContactFields({ prefix = "" }: { prefix?: string }) {
  return (
    <>
      <div class="field">
        <label for={`${prefix}name`}>
          {t("name")} <span class="req">({t("required")})</span>
        </label>
        <input id={`${prefix}name`} name={`${prefix}name`} required autocomplete="name" maxLength={200} />
      </div>
      <div class="field">
        <label for={`${prefix}email`}>
          {t("email")} <span class="req">({t("required")})</span>
        </label>
        <input id={`${prefix}email`} name={`${prefix}email`} type="email" required autocomplete="email" />
      </div>
    </>
  );
}
