// The dashboard's entry point: sign-in, the page shell, and the hash
// router that swaps pages without reloading.

import "./style.css";
import { ApiError, apiKey, call, describe, getJSON, setAPIKey, whenUnauthenticated } from "./api";
import { App, currentRoute, Page } from "./app";
import { h, replace, toastRegion } from "./dom";
import { EventStream } from "./events";
import type { Info, Session } from "./types";
import { sandboxesPage } from "./pages/sandboxes";
import { sandboxPage } from "./pages/sandbox";
import { imagesPage } from "./pages/images";
import { keysPage } from "./pages/keys";
import { webhooksPage } from "./pages/webhooks";
import { orgPage } from "./pages/org";
import { orgsPage } from "./pages/orgs";
import { signInPage } from "./pages/signin";

const root = document.getElementById("app")!;

// NavItem is a page of the menu; show hides it from keys the API would
// refuse there anyway (it still answers a typed-in URL with its 403).
interface NavItem { path: string; label: string; page: Page; show?: (s: Session) => boolean }

const nav: NavItem[] = [
  { path: "sandboxes", label: "Sandboxes", page: sandboxesPage },
  { path: "images", label: "Images", page: imagesPage },
  { path: "keys", label: "API keys", page: keysPage, show: (s) => s.admin },
  { path: "webhooks", label: "Webhooks", page: webhooksPage, show: (s) => s.admin },
  { path: "organization", label: "Organisation", page: orgPage },
  { path: "organizations", label: "Organisations", page: orgsPage, show: (s) => s.platformAdmin },
];

let app: App | null = null;
let leave: (() => void) | void;

async function boot(): Promise<void> {
  const key = apiKey();
  if (!key) return showSignIn("");
  try {
    const session = await getJSON<Session>("/ui/api/session");
    await start(session);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setAPIKey(null);
      return showSignIn(`Signed out: the key of this session was refused. ${describe(e)}`);
    }
    showSignIn(`The server could not be reached: ${describe(e)}`);
  }
}

function showSignIn(message: string): void {
  stopApp();
  replace(root, signInPage(message, async (key) => {
    // The key is tried before it is kept: a wrong one never reaches storage.
    const r = await call("GET", "/ui/api/session", { key });
    const session = (await r.json()) as Session;
    setAPIKey(key);
    await start(session);
  }));
  (root.querySelector("input") as HTMLInputElement | null)?.focus();
}

async function start(session: Session): Promise<void> {
  const info = await getJSON<Info>("/v1/info").catch(() => null);
  const events = new EventStream();
  app = { session, info, events };
  const live = h("span", { class: "live", title: "" });
  events.onState((s, detail) => {
    live.className = `live ${s}`;
    live.textContent = s === "live" ? "live" : s === "connecting" ? "connecting…" : "reconnecting…";
    live.title = s === "live" ? "State changes arrive as they happen (GET /v1/events?follow=true)" : detail;
  });
  const links = h("ul", { class: "nav-links" },
    nav.filter((n) => !n.show || n.show(session)).map((n) => h("li", null, h("a", { href: `#/${n.path}`, "data-nav": n.path }, n.label))));
  const header = h("header", { class: "top" },
    h("a", { class: "brand", href: "#/sandboxes" }, h("img", { src: "/ui/icon.svg", alt: "", width: 24, height: 24 }), "Hutch"),
    h("nav", { "aria-label": "Main" }, links),
    h("div", { class: "who" }, live,
      h("span", { class: "org", title: `key ${session.keyId}` }, session.organizationId, session.admin ? " · admin" : ""),
      h("button", { type: "button", class: "small", id: "signout", onclick: () => signOut("") }, "Sign out")));
  const main = h("main", { id: "main", tabindex: -1 });
  replace(root, header, main, toastRegion());
  whenUnauthenticated((e) => signOut(`Signed out: the server refused this session's key. ${describe(e)}`));
  events.start();
  window.addEventListener("hashchange", route);
  route();
}

function stopApp(): void {
  window.removeEventListener("hashchange", route);
  if (leave) leave();
  leave = undefined;
  app?.events.stop();
  app = null;
}

function signOut(message: string): void {
  setAPIKey(null);
  history.replaceState(null, "", "#/");
  showSignIn(message);
}

function route(): void {
  if (!app) return;
  const r = currentRoute();
  if (r.path.length === 0) {
    location.replace("#/sandboxes");
    return;
  }
  if (leave) leave();
  leave = undefined;
  const main = document.getElementById("main")!;
  main.replaceChildren();
  document.querySelectorAll<HTMLAnchorElement>("[data-nav]").forEach((a) => {
    if (a.dataset.nav === r.path[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  let page: Page | undefined;
  if (r.path[0] === "sandboxes" && r.path.length > 1) page = sandboxPage;
  else page = nav.find((n) => n.path === r.path[0])?.page;
  if (!page) {
    replace(main, h("h1", null, "Not found"), h("p", null, "No page here. ", h("a", { href: "#/sandboxes" }, "Sandboxes")));
    return;
  }
  leave = page(main, app, r);
}

void boot();
