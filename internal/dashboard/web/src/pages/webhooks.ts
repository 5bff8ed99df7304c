// Webhooks: list, register (the signing secret is shown once), remove.
// The API does not report deliveries (they are queued, retried and
// recorded in the server's store), so their state is not shown here.

import { describe, getJSON, sendJSON } from "../api";
import type { Page } from "../app";
import { busy, confirmDialog, field, h, notify, notifyError, replace, secretBox } from "../dom";
import { ago } from "../format";
import type { Webhook } from "../types";

export const webhooksPage: Page = (root) => {
  const table = h("div", { class: "table-wrap", id: "webhook-list" });
  const status = h("p", { class: "muted", role: "status" });
  const url = h("input", { id: "webhook-url", type: "url", required: true, autocomplete: "off", placeholder: "https://example.com/hutch" });
  const create = h("button", { type: "submit", class: "primary" }, "Register");
  const out = h("div", { id: "webhook-secret" });
  replace(root,
    h("div", { class: "page-head" }, h("h1", null, "Webhooks")),
    h("p", { class: "hint" }, "Every state change of the organisation's sandboxes is POSTed, signed (X-Hutch-Signature: HMAC-SHA256 of the body under the secret), and retried with backoff until a 2xx, up to 15 attempts. Delivery state is not reported by the API yet."),
    status, table,
    h("form", { class: "card", onsubmit: (e: Event) => { e.preventDefault(); void make(); } },
      h("h2", null, "New webhook"), field("URL", url, "An http or https URL; internal addresses are refused unless the operator allowed them."), create, out));

  async function load(): Promise<void> {
    try {
      const l = await getJSON<{ items: Webhook[] }>("/v1/webhooks");
      status.textContent = `${l.items.length} webhook${l.items.length === 1 ? "" : "s"}`;
      replace(table, l.items.length === 0 ? null : h("table", { class: "list" },
        h("thead", null, h("tr", null, ["URL", "ID", "Registered", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, l.items.map((w) => h("tr", null,
          h("td", { "data-label": "URL", class: "mono" }, w.url),
          h("td", { "data-label": "ID", class: "mono" }, w.id),
          h("td", { "data-label": "Registered", title: w.createdAt }, ago(w.createdAt)),
          h("td", { "data-label": "Actions" }, h("button", { type: "button", class: "small danger", onclick: (e: Event) => void remove(w, e.currentTarget as HTMLButtonElement) }, "Remove")))))));
    } catch (e) {
      status.textContent = `Could not list webhooks: ${describe(e)}`;
    }
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
};
