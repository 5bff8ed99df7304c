// What every page is given: who is signed in, what the server can do, the
// live event stream, and the hash router's view of the location.

import type { EventStream } from "./events";
import type { Info, Session } from "./types";

export interface App {
  session: Session;
  info: Info | null;
  events: EventStream;
}

export interface Route {
  path: string[]; // "#/sandboxes/sbx_1/files" is ["sandboxes", "sbx_1", "files"]
  query: URLSearchParams;
}

// A page draws itself into root and returns what to undo when the user
// leaves it (streams, timers, sockets).
export type Page = (root: HTMLElement, app: App, route: Route) => (() => void) | void;

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, "");
  const [p, q = ""] = hash.split("?", 2);
  return { path: p.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

export function href(path: string[], query?: Record<string, string | undefined>): string {
  const p = path.map(encodeURIComponent).join("/");
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v) q.set(k, v);
  const qs = q.toString();
  return `#/${p}${qs ? `?${qs}` : ""}`;
}

// replaceQuery changes the location's query without a new history entry
// or a page change (filters, the file browser's directory).
export function replaceQuery(query: Record<string, string | undefined>): void {
  const r = currentRoute();
  history.replaceState(null, "", href(r.path, query));
}
