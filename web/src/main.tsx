import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { currentLanguage, onLanguage, setLanguage, t } from "./i18n";
import { interceptLinks, useRoute, type Route } from "./router";
import { BookingPage, BookPage, OptInPage, ServicePage, ServicesPage } from "./pages/citizen";
import { DisplayPage } from "./pages/display";
import { RoomPage } from "./pages/room";
import { CheckInPage } from "./pages/checkin";
import { Loading, Page } from "./ui";
import type { ComponentChildren, FunctionComponent } from "preact";

type DeskModule = typeof import("./pages/desk");
let desk: DeskModule | null = null;

/** The clerk's pages come in their own chunk, fetched when a clerk opens them. */
function Lazy({ pick }: { pick: (module: DeskModule) => FunctionComponent }) {
  const [loaded, setLoaded] = useState(desk);
  useEffect(() => {
    if (!loaded) void import("./pages/desk").then((module) => setLoaded((desk = module)));
  }, [loaded]);
  if (!loaded) return <Loading />;
  const Component = pick(loaded);
  return <Component />;
}

/** A desk page that takes the route's values: rendered from the loaded chunk, not remounted. */
function LazyView({ view }: { view: (module: DeskModule) => ComponentChildren }) {
  const [loaded, setLoaded] = useState(desk);
  useEffect(() => {
    if (!loaded) void import("./pages/desk").then((module) => setLoaded((desk = module)));
  }, [loaded]);
  return loaded ? <>{view(loaded)}</> : <Loading />;
}
import "./style.css";

function Content({ route }: { route: Route }) {
  switch (route.page) {
    case "services":
      return <ServicesPage />;
    case "service":
      return <ServicePage id={route.id} />;
    case "book":
      return <BookPage query={route.query} />;
    case "booking":
      return <BookingPage id={route.id} token={route.token} />;
    case "opt-in":
      return <OptInPage id={route.id} token={route.token} />;
    case "display":
      return <DisplayPage office={route.office} />;
    case "desk":
      return <Lazy pick={(m) => m.DeskPage} />;
    case "callback":
      return <Lazy pick={(m) => m.CallbackPage} />;
    case "desk-documents":
      return <LazyView view={(m) => <m.DeskDocumentsPage id={route.id} />} />;
    case "desk-room":
      return <LazyView view={(m) => <m.DeskRoomPage id={route.id} />} />;
    case "desk-kpis":
      return <LazyView view={(m) => <m.KpisPage />} />;
    case "room":
      return <RoomPage id={route.id} token={route.token} />;
    case "check-in":
      return <CheckInPage id={route.id} token={route.token} />;
    default:
      return (
        <Page title={t("notFound")}>
          <p>
            <a href="/">{t("home")}</a>
          </p>
        </Page>
      );
  }
}

function App() {
  const route = useRoute();
  const [, setLanguageRound] = useState(0);
  useEffect(() => onLanguage(() => setLanguageRound((n) => n + 1)), []);
  const other = currentLanguage() === "de" ? "en" : "de";
  return (
    <>
      <a class="skip" href="#main">
        {t("skip")}
      </a>
      <header class="site">
        <div class="inner">
          <p class="brand">
            <a href="/">
              {t("municipality")} · {t("portal")}
            </a>
          </p>
          <nav aria-label={t("nav")}>
            <ul>
              <li>
                <a href="/" aria-current={route.page === "services" ? "page" : undefined}>
                  {t("navServices")}
                </a>
              </li>
              <li>
                <a href="/display" aria-current={route.page === "display" ? "page" : undefined}>
                  {t("navDisplay")}
                </a>
              </li>
              <li>
                <a href="/desk" aria-current={route.page === "desk" || route.page.startsWith("desk-") ? "page" : undefined}>
                  {t("navDesk")}
                </a>
              </li>
            </ul>
          </nav>
          <button type="button" class="language" lang={other} onClick={() => setLanguage(other)}>
            {t("switchTo")}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Content route={route} />
      </main>
    </>
  );
}

interceptLinks();
render(<App />, document.getElementById("app")!);
