// One sandbox: its details and actions, kept live by the event stream,
// and tabs for its resource use, terminal, files, ports and events. Tabs
// switch without leaving the page, so a terminal stays connected while
// the files are browsed.

import { describe, getJSON, sandboxPath, sendJSON } from "../api";
import { actionButtons } from "../actions";
import { Page, href } from "../app";
import { Child, copyButton, field, h, modal, notify, replace, stateBadge } from "../dom";
import { ago, bytes, minutes, seconds, splitList, when } from "../format";
import type { Sandbox, SandboxEvent } from "../types";
import { statsPanel } from "./stats";
import { terminalPanel } from "./terminal";
import { filesPanel } from "./files";
import { portsPanel } from "./ports";

const TABS = ["overview", "terminal", "files", "ports", "events"] as const;
type Tab = typeof TABS[number];

// Panel is a tab's content; show is told when the tab becomes visible and
// when the sandbox changes, close when the page is left.
export interface Panel {
  el: HTMLElement;
  show?(sb: Sandbox): void;
  update?(sb: Sandbox): void;
  close?(): void;
}

export const sandboxPage: Page = (root, app, route) => {
  const id = route.path[1];
  let tab: Tab = (TABS as readonly string[]).includes(route.path[2]) ? route.path[2] as Tab : "overview";
  let sb: Sandbox | null = null;
  const title = h("h1", null, id);
  const badge = h("span");
  const actions = h("div");
  const tabBar = h("div", { class: "tabs", role: "tablist", "aria-label": "Sandbox" });
  const body = h("div", { class: "tab-body" });
  replace(root,
    h("p", { class: "crumbs" }, h("a", { href: "#/sandboxes" }, "Sandboxes"), " / "),
    h("div", { class: "page-head" }, h("div", { class: "title" }, title, badge), actions),
    tabBar, body);

  const panels = new Map<Tab, Panel>();
  const events = eventsPanel();
  function panel(t: Tab): Panel {
    let p = panels.get(t);
    if (!p) {
      switch (t) {
        case "overview": p = overviewPanel(statsPanel(id)); break;
        case "terminal": p = terminalPanel(id); break;
        case "files": p = filesPanel(id, route.query.get("path") ?? "/"); break;
        case "ports": p = portsPanel(id); break;
        case "events": p = events; break;
      }
      panels.set(t, p);
      body.appendChild(p.el);
    }
    return p;
  }

  function select(t: Tab, focus = false): void {
    tab = t;
    history.replaceState(null, "", href(["sandboxes", id, ...(t === "overview" ? [] : [t])]));
    tabBar.querySelectorAll<HTMLButtonElement>("[role=tab]").forEach((b) => {
      const on = b.dataset.tab === t;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    });
    const p = panel(t);
    panels.forEach((q, k) => (q.el.hidden = k !== t));
    if (sb) p.show?.(sb);
  }

  // Without an agent in its sandboxes the server serves no terminal,
  // files or ports (GET /v1/info says so).
  const agentTabs: Tab[] = ["terminal", "files", "ports"];
  const tabs = TABS.filter((t) => app.info?.capabilities.agent !== false || !agentTabs.includes(t));
  if (!tabs.includes(tab)) tab = "overview";
  for (const t of tabs) {
    const b = h("button", { type: "button", role: "tab", id: `tab-${t}`, "data-tab": t, "aria-controls": `panel-${t}` }, t[0].toUpperCase() + t.slice(1));
    b.addEventListener("click", () => select(t));
    tabBar.appendChild(b);
  }
  // Arrow keys move between tabs, as a tab list does.
  tabBar.addEventListener("keydown", (e) => {
    const i = tabs.indexOf(tab);
    if (e.key === "ArrowRight") select(tabs[(i + 1) % tabs.length], true);
    else if (e.key === "ArrowLeft") select(tabs[(i + tabs.length - 1) % tabs.length], true);
    else return;
    e.preventDefault();
  });

  function set(next: Sandbox): void {
    sb = next;
    title.textContent = next.name || next.id;
    replace(badge, stateBadge(next.state));
    badge.id = "sandbox-state";
    badge.dataset.state = next.state;
    replace(actions, actionButtons(next, (r) => {
      if (r.state === "deleted") location.hash = "#/sandboxes";
      else set(r);
    }, false));
    panels.forEach((p) => p.update?.(next));
    panels.get(tab)?.show?.(next);
  }

  let timer = 0;
  async function load(): Promise<void> {
    try {
      set(await getJSON<Sandbox>(sandboxPath(id)));
    } catch (e) {
      replace(body, h("p", { class: "form-error", role: "alert" }, `Could not read sandbox ${id}: ${describe(e)}`));
    }
  }
  void load().then(async () => {
    select(tab);
    try {
      events.fill(await getJSON<{ items: SandboxEvent[] }>(sandboxPath(id, "/events")).then((l) => l.items));
    } catch (e) {
      events.fail(e);
    }
  });
  const offEvent = app.events.onEvent((ev) => {
    if (ev.sandboxId !== sb?.id) return;
    events.add(ev);
    if (sb && ev.state) set({ ...sb, state: ev.state });
    clearTimeout(timer);
    timer = window.setTimeout(() => void load(), 250);
  });
  const offResync = app.events.onResync(() => void load());
  return () => {
    offEvent();
    offResync();
    clearTimeout(timer);
    panels.forEach((p) => p.close?.());
  };
};

function overviewPanel(stats: Panel): Panel {
  const details = h("dl", { class: "details" });
  const el = h("section", { id: "panel-overview", role: "tabpanel", "aria-labelledby": "tab-overview" },
    h("div", { class: "columns" }, h("div", null, h("h2", null, "Details"), details), stats.el));
  const row = (k: string, ...v: Child[]) => [h("dt", null, k), h("dd", null, ...v)];
  function draw(sb: Sandbox): void {
    const n = sb.network;
    replace(details,
      row("ID", h("code", null, sb.id), " ", copyButton(() => sb.id)),
      row("State", sb.state + (sb.desiredState && sb.desiredState !== sb.state ? ` → ${sb.desiredState}` : "")),
      sb.stateReason ? row("Reason", h("span", { class: "reason" }, sb.stateReason)) : [],
      row("Image", sb.image + (sb.template ? ` (template ${sb.template})` : "")),
      sb.entrypoint?.length ? row("Entrypoint", h("code", null, sb.entrypoint.join(" "))) : [],
      row("Resources", `${sb.resources.cpu} CPU · ${bytes(sb.resources.memoryMB * 1048576)} memory · ${bytes(sb.resources.diskMB * 1048576)} disk · ${sb.resources.pids} processes`),
      row("Network", n.internet ? "internet (NAT)" : "loopback only",
        n.allowCIDRs.length ? ` · allow ${n.allowCIDRs.join(", ")}` : "", n.denyCIDRs.length ? ` · deny ${n.denyCIDRs.join(", ")}` : "",
        n.publicPorts.length ? ` · public ports ${n.publicPorts.join(", ")}` : "", " ",
        h("button", { type: "button", class: "small", onclick: () => void editNetwork(sb) }, "Change")),
      row("Metadata", Object.keys(sb.metadata).length ? Object.entries(sb.metadata).map(([k, v]) => h("span", { class: "chip" }, `${k}=${v}`)) : "none", " ",
        h("button", { type: "button", class: "small", onclick: () => void editMetadata(sb) }, "Edit")),
      row("Expires", sb.expiresAt ? `${when(sb.expiresAt)} (${ago(sb.expiresAt)})` : "never", ` · timeout ${seconds(sb.timeoutSeconds)} `,
        h("button", { type: "button", class: "small", onclick: () => void editTimeout(sb) }, "Set timeout")),
      row("Auto", `stop when idle: ${minutes(sb.autoStopMinutes, "off")} · archive when stopped: ${minutes(sb.autoArchiveMinutes, "off")} · delete when stopped: ${minutes(sb.autoDeleteMinutes, "at once")}${sb.autoResume ? " · resumes on a proxied request" : ""}`),
      row("Created", when(sb.createdAt)),
      row("Started", when(sb.startedAt)),
      row("Last activity", `${when(sb.lastActivityAt)} (${ago(sb.lastActivityAt)})`),
      row("Updated", when(sb.updatedAt)));
  }
  return {
    el,
    show: (sb) => { draw(sb); stats.show?.(sb); },
    update: (sb) => { draw(sb); stats.update?.(sb); },
    close: () => stats.close?.(),
  };
}

async function editMetadata(sb: Sandbox): Promise<void> {
  const text = h("textarea", { rows: 5, spellcheck: "false", id: "metadata-edit" }, Object.entries(sb.metadata).map(([k, v]) => `${k}=${v}`).join("\n"));
  const r = await modal<Sandbox>(`Metadata of ${sb.name}`, field("key=value, one per line; a removed line deletes the key", text), async () => {
    const next: Record<string, string | null> = {};
    for (const line of text.value.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const i = line.indexOf("=");
      if (i <= 0) throw new Error(`"${line}" is not key=value`);
      next[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    for (const k of Object.keys(sb.metadata)) if (!(k in next)) next[k] = null;
    return sendJSON<Sandbox>("PATCH", sandboxPath(sb.id, "/metadata"), next);
  }, "Save");
  if (r) notify(`Metadata of ${r.name} saved`);
}

async function editTimeout(sb: Sandbox): Promise<void> {
  const secs = h("input", { type: "number", min: "1", id: "timeout-edit", placeholder: "blank: no expiry", value: sb.timeoutSeconds ?? "" });
  const r = await modal<Sandbox>(`Timeout of ${sb.name}`, field("Seconds from now until the sandbox is deleted", secs), async () => {
    const v = secs.value.trim();
    return sendJSON<Sandbox>("PUT", sandboxPath(sb.id, "/timeout"), { timeoutSeconds: v ? Number(v) : null });
  }, "Set");
  if (r) notify(`Timeout of ${r.name}: ${r.expiresAt ? `expires ${when(r.expiresAt)}` : "no expiry"}`);
}

async function editNetwork(sb: Sandbox): Promise<void> {
  const internet = h("input", { type: "checkbox", checked: sb.network.internet });
  const allow = h("input", { value: sb.network.allowCIDRs.join(" "), placeholder: "CIDRs; blank: any" });
  const deny = h("input", { value: sb.network.denyCIDRs.join(" "), placeholder: "CIDRs" });
  const r = await modal<Sandbox>(`Network of ${sb.name}`, h("div", null,
    h("label", { class: "check" }, internet, " Internet access (NAT)"),
    field("Allow only (CIDRs)", allow), field("Deny (CIDRs)", deny),
    h("p", { class: "hint" }, "A running sandbox gets the policy at once, a stopped one when it starts.")), async () =>
    sendJSON<Sandbox>("PUT", sandboxPath(sb.id, "/network"), { internet: internet.checked, allowCIDRs: splitList(allow.value), denyCIDRs: splitList(deny.value) }), "Apply");
  if (r) notify(`Network of ${r.name} changed`);
}

interface EventsPanel extends Panel {
  fill(items: SandboxEvent[]): void;
  add(ev: SandboxEvent): void;
  fail(e: unknown): void;
}

// eventsPanel is the sandbox's event log, newest first, with the stream's
// events added as they come.
function eventsPanel(): EventsPanel {
  const list = h("ol", { class: "timeline", id: "event-list", reversed: true });
  const el = h("section", { id: "panel-events", role: "tabpanel", "aria-labelledby": "tab-events" }, h("h2", null, "Events"), list);
  const seen = new Set<number>();
  const item = (ev: SandboxEvent) => h("li", null,
    h("time", { datetime: ev.time, title: ev.time }, when(ev.time)), " ",
    h("strong", null, ev.from || ev.to ? `${ev.from || "·"} → ${ev.to || "·"}` : ev.type), " ",
    h("span", { class: "muted" }, ev.cause), ev.message ? h("div", { class: "reason" }, ev.message) : null);
  return {
    el,
    fill(items) {
      list.replaceChildren();
      for (const ev of items) this.add(ev);
    },
    add(ev) {
      if (seen.has(ev.id)) return;
      seen.add(ev.id);
      list.prepend(item(ev));
    },
    fail(e) {
      replace(list, h("li", { class: "form-error" }, `Could not read the events: ${describe(e)}`));
    },
  };
}
