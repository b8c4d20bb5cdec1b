/** Pages and parts that come in chunks of their own, fetched when someone opens them: the
 * start page's script stays small (bench/web/README.md). A chunk that cannot be fetched (the
 * gateway down, the network gone) is said in words with a button to try again. */
import { useEffect, useState } from "preact/hooks";
import type { FunctionComponent } from "preact";
import { ErrorMessage, Loading } from "./ui";

export function lazy<M, P extends object>(
  load: () => Promise<M>,
  pick: (module: M) => FunctionComponent<P>,
): FunctionComponent<P> {
  let loaded: FunctionComponent<P> | null = null;
  return function Lazy(props: P) {
    const [component, setComponent] = useState<FunctionComponent<P> | null>(() => loaded);
    const [failed, setFailed] = useState<{ error: unknown } | null>(null);
    const [round, setRound] = useState(0);
    useEffect(() => {
      if (component) return;
      let live = true;
      load().then(
        (module) => live && setComponent(() => (loaded = pick(module))),
        (error: unknown) => live && setFailed({ error }),
      );
      return () => {
        live = false;
      };
    }, [round]);
    if (failed)
      return (
        <ErrorMessage
          error={failed.error}
          retry={() => {
            setFailed(null);
            setRound((n) => n + 1);
          }}
        />
      );
    if (!component) return <Loading />;
    const Component = component;
    return <Component {...props} />;
  };
}

export const RoomPage = lazy(() => import("./pages/room"), (m) => m.RoomPage);
export const CheckInPage = lazy(() => import("./pages/checkin"), (m) => m.CheckInPage);
/** The manage page's check-in QR code: the encoder (uqr) is most of the check-in chunk. */
export const QrCode = lazy(() => import("./pages/checkin"), (m) => m.QrCode);
export const WaitlistPage = lazy(() => import("./pages/waitlist"), (m) => m.WaitlistPage);
export const WaitlistForm = lazy(() => import("./pages/waitlist"), (m) => m.WaitlistForm);
export const FeedbackPage = lazy(() => import("./pages/feedback"), (m) => m.FeedbackPage);
