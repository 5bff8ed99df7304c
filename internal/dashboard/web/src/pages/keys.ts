// The organisation's API keys: list, create (the secret is shown once),
// revoke. The API lets only admin keys manage keys; others see its 403.

import { describe, getJSON, sendJSON } from "../api";
import type { Page } from "../app";
import { busy, confirmDialog, field, h, notify, notifyError, replace, secretBox } from "../dom";
import { ago, when } from "../format";
import type { APIKey } from "../types";

export const keysPage: Page = (root, app) => {
  const table = h("div", { class: "table-wrap", id: "key-list" });
  const status = h("p", { class: "muted", role: "status" });
  const name = h("input", { id: "key-name", autocomplete: "off", placeholder: "ci, alice's laptop…" });
  const admin = h("input", { id: "key-admin", type: "checkbox" });
  const create = h("button", { type: "submit", class: "primary" }, "Create key");
  const out = h("div", { id: "key-secret" });
  replace(root,
    h("div", { class: "page-head" }, h("h1", null, "API keys")),
    h("p", { class: "hint" }, `Keys of organisation ${app.session.organizationId}. Keys are stored hashed; a secret is shown only when its key is made.`),
    status, table,
    h("form", { class: "card", onsubmit: (e: Event) => { e.preventDefault(); void make(); } },
      h("h2", null, "New key"), field("Name", name),
      h("label", { class: "check" }, admin, " Admin: may manage keys, webhooks and settings"), create, out));

  async function load(): Promise<void> {
    try {
      const l = await getJSON<{ items: APIKey[] }>("/v1/api-keys");
      status.textContent = `${l.items.filter((k) => !k.revokedAt).length} active, ${l.items.filter((k) => k.revokedAt).length} revoked`;
      replace(table, h("table", { class: "list" },
        h("thead", null, h("tr", null, ["Name", "Prefix", "Role", "Created", "State", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, l.items.map((k) => h("tr", { "data-key": k.id },
          h("td", { "data-label": "Name" }, k.name || "(unnamed)", k.id === app.session.keyId ? h("span", { class: "chip" }, "this session") : null),
          h("td", { "data-label": "Prefix", class: "mono" }, `${k.prefix}…`),
          h("td", { "data-label": "Role" }, k.admin ? "admin" : "member"),
          h("td", { "data-label": "Created", title: k.createdAt }, ago(k.createdAt)),
          h("td", { "data-label": "State" }, k.revokedAt ? `revoked ${when(k.revokedAt)}` : "active"),
          h("td", { "data-label": "Actions" }, k.revokedAt ? null :
            h("button", { type: "button", class: "small danger", onclick: (e: Event) => void revoke(k, e.currentTarget as HTMLButtonElement) }, "Revoke")))))));
    } catch (e) {
      status.textContent = `Could not list keys: ${describe(e)}`;
    }
  }

  async function make(): Promise<void> {
    try {
      const k = await busy(create, () => sendJSON<APIKey>("POST", "/v1/api-keys", { name: name.value.trim(), admin: admin.checked }));
      replace(out, secretBox(`The secret of ${k.name || k.id}`, k.apiKey ?? ""));
      name.value = "";
      void load();
    } catch (e) {
      replace(out, h("p", { class: "form-error", role: "alert" }, `Could not create the key: ${describe(e)}`));
    }
  }

  async function revoke(k: APIKey, btn: HTMLButtonElement): Promise<void> {
    const self = k.id === app.session.keyId ? " This is the key of this session: you will be signed out." : "";
    if (!(await confirmDialog(`Revoke ${k.name || k.prefix}?`, `Every client using this key is refused from now on.${self}`, "Revoke"))) return;
    try {
      await busy(btn, () => sendJSON("DELETE", `/v1/api-keys/${encodeURIComponent(k.id)}`));
      notify(`Revoked ${k.name || k.prefix}`);
      void load();
    } catch (e) {
      notifyError(`Revoking ${k.name || k.prefix}`, e);
    }
  }

  void load();
};
