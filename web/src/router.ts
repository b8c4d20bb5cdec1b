/** The pages and their paths (the gateway serves index.html for these first segments:
 * gateway/gateway/portal.py PAGES). Booking mails link to /bookings/<id>#token=...,
 * /bookings/<id>/opt-in#token=..., /bookings/<id>/room#token=... and /book?office_id=...&service_ids=...&start=... */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "services" }
  | { page: "service"; id: string }
  | { page: "book"; query: URLSearchParams }
  | { page: "booking"; id: string; token: string | null }
  | { page: "opt-in"; id: string; token: string | null }
  | { page: "display"; office: string | null }
  | { page: "desk" }
  | { page: "callback" }
  | { page: "desk-documents"; id: string }
  | { page: "desk-room"; id: string }
  | { page: "desk-kpis" }
  | { page: "not-found" }
  | { page: "room"; id: string; token: string | null }
  | { page: "check-in"; id: string; token: string | null };

function fragmentToken(): string | null {
  return new URLSearchParams(location.hash.slice(1)).get("token");
}

export function parse(): Route {
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const [first, second, third] = parts;
  if (!first) return { page: "services" };
  if (first === "services" && second && !third) return { page: "service", id: second };
  if (first === "book" && !second) return { page: "book", query: new URLSearchParams(location.search) };
  if (first === "bookings" && second && !third) return { page: "booking", id: second, token: fragmentToken() };
  if (first === "bookings" && second && third === "opt-in" && parts.length === 3)
    return { page: "opt-in", id: second, token: fragmentToken() };
  if (first === "bookings" && second && third === "room" && parts.length === 3)
    return { page: "room", id: second, token: fragmentToken() };
  if (first === "bookings" && second && third === "check-in" && parts.length === 3)
    return { page: "check-in", id: second, token: fragmentToken() };
  if (first === "display" && parts.length <= 2) return { page: "display", office: second ?? null };
  if (first === "desk" && !second) return { page: "desk" };
  if (first === "demo" && second === "callback" && !third) return { page: "callback" };
  // The clerk's review and room of one booking, the admin's key figures (the desk's chunk).
  if (first === "desk" && second === "bookings" && third && parts.length === 3) return { page: "desk-documents", id: third };
  if (first === "desk" && second === "bookings" && third && parts[3] === "room" && parts.length === 4)
    return { page: "desk-room", id: third };
  if (first === "desk" && second === "kpis" && !third) return { page: "desk-kpis" };
  return { page: "not-found" };
}

const listeners = new Set<() => void>();

export function navigate(href: string): void {
  history.pushState(null, "", href);
  document.body.dataset.navigated = "1"; // from now on a new page moves the focus to its h1
  listeners.forEach((listener) => listener());
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const update = () => {
      document.body.dataset.navigated = "1";
      setRoute(parse());
    };
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return route;
}

/** Links inside the portal change the page without a reload (keyboard activation included). */
export function interceptLinks(): void {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    const anchor = (event.target as Element).closest("a");
    if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
    const url = new URL(anchor.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/identity/")) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
}
