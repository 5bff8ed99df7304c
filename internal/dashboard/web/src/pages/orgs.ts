// Organisations, for the platform admin (an admin key of the default
// organisation): create one (its first admin key is shown once) and look
// one up by ID for its quotas. The API has no list of organisations.

import { describe, sendJSON } from "../api";
import type { Page } from "../app";
import { busy, field, h, replace, secretBox } from "../dom";
import type { Organization } from "../types";
import { quotasCard } from "./quotas";

export const orgsPage: Page = (root) => {
  const name = h("input", { id: "org-name", required: true, autocomplete: "off" });
  const create = h("button", { type: "submit", class: "primary" }, "Create organisation");
  const out = h("div");
  const lookup = h("input", { id: "org-id", required: true, autocomplete: "off", placeholder: "org_…" });
  const quotas = h("div");
  replace(root,
    h("div", { class: "page-head" }, h("h1", null, "Organisations")),
    h("p", { class: "hint" }, "Each organisation has its own sandboxes, keys and webhooks; its keys see nothing of the others'. The API does not list organisations: look one up by its ID."),
    h("div", { class: "columns" },
      h("form", { class: "card", onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          const o = await busy(create, () => sendJSON<Organization>("POST", "/v1/organizations", { name: name.value.trim() }));
          replace(out, h("p", null, "Created ", h("strong", null, o.name), " ", h("code", null, o.id)), secretBox("Its first admin key", o.apiKey ?? ""));
          replace(quotas, quotasCard(o.id, true));
        } catch (err) {
          replace(out, h("p", { class: "form-error", role: "alert" }, `Could not create the organisation: ${describe(err)}`));
        }
      } }, h("h2", null, "New organisation"), field("Name", name), create, out),
      h("form", { class: "card", onsubmit: (e: Event) => { e.preventDefault(); replace(quotas, quotasCard(lookup.value.trim(), true)); } },
        h("h2", null, "Quotas of an organisation"), field("Organisation ID", lookup), h("button", { type: "submit" }, "Show"))),
    quotas);
};
