// An organisation's quotas and use, and (for the platform admin) the
// form that sets them.

import { describe, getJSON, sendJSON } from "../api";
import { busy, h, notify, replace } from "../dom";
import type { OrgQuotas, QuotaLimits, ResourceTotals } from "../types";

const FIELDS: [keyof ResourceTotals, string, (n: number) => string][] = [
  ["sandboxes", "Sandboxes", (n) => String(n)],
  ["cpu", "CPUs", (n) => String(n)],
  ["memoryMB", "Memory (MB)", (n) => String(n)],
  ["diskMB", "Disk (MB)", (n) => String(n)],
];

export function quotasCard(orgID: string, canSet: boolean): HTMLElement {
  const body = h("div");
  const card = h("section", { class: "card", id: "quotas" }, h("h2", null, "Quotas"), body);
  async function load(): Promise<void> {
    try {
      draw(await getJSON<OrgQuotas>(`/v1/organizations/${encodeURIComponent(orgID)}/quotas`));
    } catch (e) {
      replace(body, h("p", { class: "form-error" }, `Could not read the quotas: ${describe(e)}`));
    }
  }
  function draw(q: OrgQuotas): void {
    const inputs = new Map<keyof ResourceTotals, HTMLInputElement>();
    const rows = FIELDS.map(([k, label, fmt]) => {
      const used = q.usage[k], limit = q.effective[k];
      const bar = limit > 0 ? h("progress", { max: limit, value: Math.min(used, limit), "aria-label": `${label} used` }) : null;
      const input = h("input", { type: "number", step: "any", min: "-1", value: q.set[k] ?? "", placeholder: "server default" });
      inputs.set(k, input);
      return h("tr", null, h("th", { scope: "row" }, label),
        h("td", null, `${fmt(used)} of ${limit < 0 ? "no limit" : fmt(limit)} `, bar),
        canSet ? h("td", null, input) : null);
    });
    const save = h("button", { type: "submit", class: "small" }, "Save quotas");
    const form = h("form", { onsubmit: async (e: Event) => {
      e.preventDefault();
      // A PUT replaces every quota: the ones this form does not show
      // (the image caps) are sent back as they were set.
      const next: QuotaLimits = { ...q.set };
      for (const [k] of FIELDS) {
        const v = inputs.get(k)!.value.trim();
        next[k] = v === "" ? null : Number(v);
      }
      try {
        draw(await busy(save, () => sendJSON<OrgQuotas>("PUT", `/v1/organizations/${encodeURIComponent(orgID)}/quotas`, next)));
        notify(`Quotas of ${orgID} saved`);
      } catch (err) {
        notify(`Saving the quotas failed: ${describe(err)}`, "error");
      }
    } },
      h("table", { class: "kv" }, h("thead", null, h("tr", null, h("th", null, ""), h("th", null, "Used"), canSet ? h("th", null, "Set (blank: default, -1: none)") : null)), h("tbody", null, rows)),
      canSet ? save : h("p", { class: "hint" }, "Only the platform admin sets quotas."));
    replace(body, form);
  }
  void load();
  return card;
}
