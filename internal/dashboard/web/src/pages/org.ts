// The organisation: its defaults for new sandboxes (admin keys change
// them; blank falls back to the server's) and its quotas and use.

import { describe, getJSON, sendJSON } from "../api";
import type { Page } from "../app";
import { busy, field, h, notify, replace } from "../dom";
import { when } from "../format";
import type { OrgSettings } from "../types";
import { quotasCard } from "./quotas";

const KEYS: [keyof OrgSettings, string, string][] = [
  ["defaultTimeoutSeconds", "Timeout (seconds)", "a new sandbox is deleted this long after it is made"],
  ["defaultAutoStopMinutes", "Auto-stop when idle (minutes)", "0: off"],
  ["defaultAutoPauseMinutes", "Auto-pause when idle (minutes)", "0: off"],
  ["defaultAutoArchiveMinutes", "Auto-archive when stopped (minutes)", "0: off"],
  ["defaultAutoDeleteMinutes", "Auto-delete when stopped (minutes)", "-1: never"],
];

export const orgPage: Page = (root, app) => {
  const settings = h("div");
  replace(root,
    h("div", { class: "page-head" }, h("h1", null, "Organisation")),
    h("p", { class: "hint" }, "Organisation ", h("code", null, app.session.organizationId), app.info ? ` · server ${app.info.version}, runtime ${app.info.runtime}` : ""),
    h("div", { class: "columns" },
      h("section", { class: "card", id: "settings" }, h("h2", null, "Defaults for new sandboxes"), settings),
      quotasCard(app.session.organizationId, app.session.platformAdmin)),
    app.info ? h("section", { class: "card" }, h("h2", null, "Server capabilities"),
      h("ul", { class: "caps" }, Object.entries(app.info.capabilities).map(([k, v]) => h("li", { class: v ? "yes" : "no" }, `${k}: ${v ? "yes" : "no"}`)))) : null);

  async function load(): Promise<void> {
    try {
      draw(await getJSON<OrgSettings>("/v1/organization/settings"));
    } catch (e) {
      replace(settings, h("p", { class: "form-error" }, `Could not read the settings: ${describe(e)}`));
    }
  }
  function draw(s: OrgSettings): void {
    const inputs = KEYS.map(([k, label, hint]) => {
      const i = h("input", { type: "number", id: `setting-${k}`, value: s[k] ?? "", placeholder: "server default", disabled: !app.session.admin });
      return [k, i, field(label, i, hint)] as const;
    });
    const save = h("button", { type: "submit", class: "primary", disabled: !app.session.admin }, "Save defaults");
    replace(settings, h("form", { onsubmit: async (e: Event) => {
      e.preventDefault();
      const patch: Record<string, number | null> = {};
      for (const [k, i] of inputs) patch[k] = i.value.trim() === "" ? null : Number(i.value);
      try {
        draw(await busy(save, () => sendJSON<OrgSettings>("PATCH", "/v1/organization/settings", patch)));
        notify("Defaults saved");
      } catch (err) {
        notify(`Saving the defaults failed: ${describe(err)}`, "error");
      }
    } }, inputs.map(([, , f]) => f),
    h("p", { class: "hint" }, s.updatedAt ? `Changed ${when(s.updatedAt)}. ` : "", app.session.admin ? "Blank: the server's default. A request's own values win." : "Only admin keys change these."),
    save));
  }
  void load();
};
