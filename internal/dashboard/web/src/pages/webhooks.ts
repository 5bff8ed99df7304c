// Webhooks: list, register (the signing secret is shown once), remove,
// and each webhook's recent delivery attempts (GET
// /v1/webhooks/{id}/deliveries): what the receiver answered, how long it
// took, and whether the delivery got through, is retried or was given up.

import { describe, getJSON, sendJSON } from "../api";
import type { Page } from "../app";
import { busy, confirmDialog, field, h, notify, notifyError, replace, secretBox } from "../dom";
import { ago } from "../format";
import type { Webhook, WebhookDelivery } from "../types";

export const webhooksPage: Page = (root) => {
  const table = h("div", { class: "table-wrap", id: "webhook-list" });
  const status = h("p", { class: "muted", role: "status" });
  const url = h("input", { id: "webhook-url", type: "url", required: true, autocomplete: "off", placeholder: "https://example.com/hutch" });
  const create = h("button", { type: "submit", class: "primary" }, "Register");
  const out = h("div", { id: "webhook-secret" });
  const deliveries = h("div", { id: "webhook-deliveries" });
  const refresh = h("button", { type: "button", class: "small", id: "webhook-refresh", onclick: () => void loadDeliveries().catch(() => undefined) }, "Refresh");
  replace(root,
    h("div", { class: "page-head" }, h("h1", null, "Webhooks")),
    h("p", { class: "hint" }, "Every state change of the organisation's sandboxes is POSTed, signed (X-Hutch-Signature: HMAC-SHA256 of the body under the secret), and retried with backoff until a 2xx, up to 15 attempts. Each webhook's last 50 delivery attempts are listed under Recent deliveries."),
    status, table, h("div", { class: "page-head" }, h("h2", null, "Recent deliveries"), refresh), deliveries,
    h("form", { class: "card", onsubmit: (e: Event) => { e.preventDefault(); void make(); } },
      h("h2", null, "New webhook"), field("URL", url, "An http or https URL; internal addresses are refused unless the operator allowed them."), create, out));

  let hooks: Webhook[] = [];
  const last = new Map<string, HTMLElement>(); // webhook ID -> its "Last delivery" cell

  async function load(): Promise<void> {
    try {
      const l = await getJSON<{ items: Webhook[] }>("/v1/webhooks");
      hooks = l.items;
      last.clear();
      status.textContent = `${l.items.length} webhook${l.items.length === 1 ? "" : "s"}`;
      replace(table, l.items.length === 0 ? null : h("table", { class: "list" },
        h("thead", null, h("tr", null, ["URL", "ID", "Registered", "Last delivery", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, l.items.map((w) => h("tr", { "data-webhook": w.id },
          h("td", { "data-label": "URL", class: "mono" }, w.url),
          h("td", { "data-label": "ID", class: "mono" }, w.id),
          h("td", { "data-label": "Registered", title: w.createdAt }, ago(w.createdAt)),
          cell(w.id),
          h("td", { "data-label": "Actions" }, h("button", { type: "button", class: "small danger", onclick: (e: Event) => void remove(w, e.currentTarget as HTMLButtonElement) }, "Remove")))))));
      await loadDeliveries();
    } catch (e) {
      status.textContent = `Could not list webhooks: ${describe(e)}`;
    }
  }

  function cell(id: string): HTMLElement {
    const td = h("td", { "data-label": "Last delivery" }, "…");
    last.set(id, td);
    return td;
  }

  // loadDeliveries redraws the attempts (and each "Last delivery" cell)
  // without touching the webhooks' rows, so a timer can run it.
  async function loadDeliveries(): Promise<void> {
    const attempts = await Promise.all(hooks.map((w) => getJSON<{ items: WebhookDelivery[] }>(
      `/v1/webhooks/${encodeURIComponent(w.id)}/deliveries`).then((d) => d.items, (e: unknown) => describe(e))));
    hooks.forEach((w, i) => {
      const td = last.get(w.id);
      if (td) replace(td, lastDelivery(attempts[i]));
    });
    replace(deliveries, ...hooks.map((w, i) => deliveryTable(w, attempts[i])));
  }

  async function make(): Promise<void> {
    try {
      const w = await busy(create, () => sendJSON<Webhook>("POST", "/v1/webhooks", { url: url.value.trim() }));
      replace(out, secretBox(`The signing secret of ${w.url}`, w.secret ?? ""));
      url.value = "";
      void load();
    } catch (e) {
      replace(out, h("p", { class: "form-error", role: "alert" }, `Could not register the webhook: ${describe(e)}`));
    }
  }

  async function remove(w: Webhook, btn: HTMLButtonElement): Promise<void> {
    if (!(await confirmDialog("Remove the webhook?", `${w.url} receives nothing more, and its pending deliveries are dropped.`, "Remove"))) return;
    try {
      await busy(btn, () => sendJSON("DELETE", `/v1/webhooks/${encodeURIComponent(w.id)}`));
      notify(`Removed the webhook to ${w.url}`);
      void load();
    } catch (e) {
      notifyError("Removing the webhook", e);
    }
  }

  void load();
  // Deliveries follow state changes by a second or so: re-read them while
  // the page is open.
  const timer = window.setInterval(() => void loadDeliveries().catch(() => undefined), 5000);
  return () => window.clearInterval(timer);
};

const outcomeClass: Record<WebhookDelivery["outcome"], string> = {
  delivered: "state-running", retrying: "state-creating", failed: "state-error",
};

function outcomeBadge(d: WebhookDelivery): HTMLElement {
  return h("span", { class: `badge ${outcomeClass[d.outcome] ?? ""}` }, d.outcome);
}

// answer is what the receiver said: its status (the error, which only
// repeats it, in the tooltip), or why there was none.
function answer(d: WebhookDelivery): HTMLElement {
  if (d.statusCode === 0) return h("td", { "data-label": "Answer", class: "mono" }, d.error ?? "no answer");
  const text = `${d.statusCode}${d.statusCode >= 200 && d.statusCode < 300 ? "" : " (failed)"}`;
  return h("td", { "data-label": "Answer", class: "mono", title: d.error }, text);
}

function lastDelivery(a: WebhookDelivery[] | string): HTMLElement | string {
  if (typeof a === "string") return `unknown: ${a}`;
  const d = a[0];
  if (!d) return "none yet";
  return h("span", null, outcomeBadge(d), " ", h("span", { title: d.time }, ago(d.time)));
}

// deliveryTable lists one webhook's attempts, newest first.
function deliveryTable(w: Webhook, a: WebhookDelivery[] | string): HTMLElement {
  const head = h("h3", { class: "mono" }, w.url);
  if (typeof a === "string") return h("section", { class: "card" }, head, h("p", { class: "form-error", role: "alert" }, `Could not list its deliveries: ${a}`));
  if (a.length === 0) return h("section", { class: "card" }, head, h("p", { class: "muted" }, "No delivery attempted yet: one is sent at the next state change of a sandbox."));
  return h("section", { class: "card", "data-webhook": w.id }, head, h("div", { class: "table-wrap" }, h("table", { class: "list" },
    h("thead", null, h("tr", null, ["When", "Event", "Attempt", "Answer", "Latency", "Outcome"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", null, a.map((d) => h("tr", { "data-outcome": d.outcome, "data-delivery": d.deliveryId },
      h("td", { "data-label": "When", title: d.time }, ago(d.time)),
      h("td", { "data-label": "Event" }, h("span", { class: "mono" }, d.sandboxId), ` ${d.from || "–"} → ${d.to}`),
      h("td", { "data-label": "Attempt" }, `#${d.attempt} of delivery ${d.deliveryId}`),
      answer(d),
      h("td", { "data-label": "Latency" }, `${d.latencyMs.toFixed(d.latencyMs < 10 ? 1 : 0)} ms`),
      h("td", { "data-label": "Outcome" }, outcomeBadge(d))))))));
}
