// The sandboxes list: filters by state and metadata, search by name or
// ID, pages, and live rows (state changes arrive through the event stream
// and the page re-reads itself, without a reload).

import { describe, getJSON, sandboxPath } from "../api";
import { actionButtons } from "../actions";
import { Page, replaceQuery, href } from "../app";
import { h, replace, stateBadge } from "../dom";
import { ago, bytes, parsePairs } from "../format";
import type { Sandbox, SandboxList } from "../types";
import { createDialog } from "./create";

const PAGE_SIZE = 20;

// stateGroups are the state filter's choices; the API takes several states.
const stateGroups: [string, string][] = [
  ["", "Any state"],
  ["running", "Running"],
  ["paused", "Paused"],
  ["stopped", "Stopped"],
  ["archived", "Archived"],
  ["error", "Error"],
  ["creating,pausing,resuming,stopping,starting,archiving,deleting", "In transition"],
];

export const sandboxesPage: Page = (root, app, route) => {
  const q = route.query;
  let page = Math.max(1, Number(q.get("page")) || 1);
  const search = h("input", { type: "search", id: "search", name: "q", value: q.get("q") ?? "", placeholder: "name or sbx_ ID",
    "aria-label": "Search by name or ID", autocomplete: "off" });
  const state = h("select", { id: "state-filter", "aria-label": "Filter by state" },
    stateGroups.map(([v, l]) => h("option", { value: v, selected: v === (q.get("state") ?? "") }, l)));
  const meta = h("input", { type: "text", id: "meta-filter", value: q.get("meta") ?? "", placeholder: "team=ml, env=dev",
    "aria-label": "Filter by metadata (key=value, comma-separated)", autocomplete: "off" });
  const newBtn = h("button", { type: "button", class: "primary", id: "new-sandbox", "aria-keyshortcuts": "n" }, "New sandbox");
  const status = h("p", { class: "muted", role: "status", id: "list-status" });
  const table = h("div", { class: "table-wrap" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });

  replace(root,
    h("div", { class: "page-head" }, h("h1", null, "Sandboxes"), newBtn),
    h("form", { class: "filters", role: "search", onsubmit: (e: Event) => { e.preventDefault(); page = 1; void load(); } },
      search, state, meta, h("button", { type: "submit" }, "Filter")),
    status, table, pager);

  let rows = new Map<string, Sandbox>();
  let seq = 0;
  let timer = 0;

  async function load(): Promise<void> {
    const mine = ++seq;
    const term = search.value.trim();
    replaceQuery({ q: term || undefined, state: state.value || undefined, meta: meta.value.trim() || undefined, page: page > 1 ? String(page) : undefined });
    let list: SandboxList;
    try {
      const md = meta.value.trim() ? new URLSearchParams(parsePairs(meta.value, "metadata filter", true)).toString() : undefined;
      if (term.startsWith("sbx_")) {
        // An ID names one sandbox; the list's name filter is a prefix of names.
        const sb = await getJSON<Sandbox>(sandboxPath(term)).catch((e) => {
          if ((e as { status?: number }).status === 404) return null;
          throw e;
        });
        const items = sb && (!state.value || state.value.split(",").includes(sb.state)) ? [sb] : [];
        list = { items, pagination: { page: 1, pageSize: PAGE_SIZE, totalItems: items.length, totalPages: 1, hasNextPage: false } };
      } else {
        list = await getJSON<SandboxList>("/v1/sandboxes", { name: term, state: state.value || undefined, metadata: md, page, pageSize: PAGE_SIZE });
      }
    } catch (e) {
      if (mine !== seq) return;
      status.textContent = `Could not list sandboxes: ${describe(e)}`;
      status.className = "form-error";
      return;
    }
    if (mine !== seq) return; // a newer load is under way
    status.className = "muted";
    const p = list.pagination;
    if (p.totalPages > 0 && page > p.totalPages) {
      page = p.totalPages;
      return load();
    }
    status.textContent = p.totalItems === 0 ? "No sandboxes match." :
      `${p.totalItems} sandbox${p.totalItems === 1 ? "" : "es"}${p.totalPages > 1 ? `, page ${p.page} of ${p.totalPages}` : ""}`;
    rows = new Map(list.items.map((s) => [s.id, s]));
    draw();
    pager.hidden = p.totalPages <= 1;
    replace(pager,
      h("button", { type: "button", class: "small", disabled: page <= 1, onclick: () => { page--; void load(); } }, "← Previous"),
      h("span", null, `Page ${p.page} of ${Math.max(1, p.totalPages)}`),
      h("button", { type: "button", class: "small", disabled: !p.hasNextPage, onclick: () => { page++; void load(); } }, "Next →"));
  }

  function draw(): void {
    if (rows.size === 0) {
      replace(table, h("p", { class: "empty" }, "Nothing here yet. ", h("button", { type: "button", class: "link", onclick: openCreate }, "Create a sandbox"), "."));
      return;
    }
    replace(table, h("table", { class: "list", id: "sandbox-table" },
      h("thead", null, h("tr", null, ["Name", "State", "Image", "Size", "Metadata", "Created", "Expires", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, [...rows.values()].map(row))));
  }

  function row(sb: Sandbox): HTMLElement {
    return h("tr", { "data-id": sb.id, "data-name": sb.name, "data-state": sb.state },
      h("td", { "data-label": "Name" }, h("a", { href: href(["sandboxes", sb.id]) }, sb.name || sb.id), h("div", { class: "muted mono" }, sb.id)),
      h("td", { "data-label": "State" }, stateBadge(sb.state), sb.stateReason ? h("div", { class: "reason" }, sb.stateReason) : null),
      h("td", { "data-label": "Image" }, sb.image),
      h("td", { "data-label": "Size" }, `${sb.resources.cpu} CPU · ${bytes(sb.resources.memoryMB * 1048576)}`),
      h("td", { "data-label": "Metadata" }, Object.entries(sb.metadata ?? {}).map(([k, v]) =>
        h("button", { type: "button", class: "chip", title: `Filter by ${k}=${v}`, onclick: () => { meta.value = `${k}=${v}`; page = 1; void load(); } }, `${k}=${v}`))),
      h("td", { "data-label": "Created", title: sb.createdAt }, ago(sb.createdAt)),
      h("td", { "data-label": "Expires", title: sb.expiresAt ?? "" }, sb.expiresAt ? ago(sb.expiresAt) : "never"),
      h("td", { "data-label": "Actions" }, actionButtons(sb, (r) => { rows.set(r.id, r); soon(); })));
  }

  // soon re-reads the list once a burst of events has passed.
  function soon(): void {
    clearTimeout(timer);
    timer = window.setTimeout(() => void load(), 250);
  }

  function openCreate(): void {
    void createDialog().then((sb) => {
      if (sb) soon();
    });
  }
  newBtn.addEventListener("click", openCreate);
  state.addEventListener("change", () => { page = 1; void load(); });
  let typing = 0;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = window.setTimeout(() => { page = 1; void load(); }, 300);
  });

  const offEvent = app.events.onEvent((ev) => {
    // Show the new state at once; the re-read brings the rest (and new or
    // deleted sandboxes, filters and order).
    const sb = rows.get(ev.sandboxId);
    if (sb && ev.state && sb.state !== ev.state) {
      const tr = table.querySelector<HTMLElement>(`tr[data-id="${CSS.escape(ev.sandboxId)}"]`);
      sb.state = ev.state;
      tr?.replaceWith(row(sb));
    }
    soon();
  });
  const offResync = app.events.onResync(soon);
  const keys = (e: KeyboardEvent) => {
    const t = e.target as HTMLElement;
    if (e.ctrlKey || e.metaKey || e.altKey || t.closest("input, textarea, select, dialog, [contenteditable]")) return;
    if (e.key === "/") { e.preventDefault(); search.focus(); }
    if (e.key === "n") { e.preventDefault(); openCreate(); }
  };
  document.addEventListener("keydown", keys);
  void load();
  return () => {
    offEvent();
    offResync();
    clearTimeout(timer);
    document.removeEventListener("keydown", keys);
  };
};
