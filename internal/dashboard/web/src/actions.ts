// The lifecycle actions on one sandbox, as buttons: only those the
// transition table (internal/sandbox/state.go) allows from its state are
// shown, and each shows the API's answer, or its error in its own words.

import { sandboxPath, sendJSON } from "./api";
import { busy, confirmDialog, field, h, modal, notify, notifyError } from "./dom";
import type { Sandbox, State } from "./types";

interface ActionDef {
  action: "pause" | "resume" | "stop" | "start" | "archive" | "renew" | "delete";
  label: string;
  from: State[];
  danger?: boolean;
}

const live: State[] = ["creating", "running", "pausing", "paused", "resuming", "stopping", "stopped",
  "starting", "archiving", "archived", "error"];

const ACTIONS: ActionDef[] = [
  { action: "pause", label: "Pause", from: ["running"] },
  { action: "resume", label: "Resume", from: ["paused"] },
  { action: "stop", label: "Stop", from: ["running", "paused", "error"] },
  { action: "start", label: "Start", from: ["stopped", "archived", "error"] },
  { action: "archive", label: "Archive", from: ["stopped"] },
  { action: "renew", label: "Renew", from: live },
  { action: "delete", label: "Delete", from: live, danger: true },
];

// run performs one action and reports its result; the sandbox as the API
// answered it is returned (undefined when cancelled or refused).
export async function runAction(sb: Sandbox, action: ActionDef["action"], btn: HTMLButtonElement | null): Promise<Sandbox | undefined> {
  const name = sb.name || sb.id;
  try {
    switch (action) {
      case "delete": {
        if (!(await confirmDialog(`Delete ${name}?`, `The sandbox ${name} (${sb.id}), its processes and its files are deleted for good.`, "Delete"))) return;
        const r = await busy(btn, () => sendJSON<Sandbox>("DELETE", sandboxPath(sb.id)));
        notify(`Deleted ${name}: ${r?.state ?? "deleted"}`);
        return r;
      }
      case "renew": {
        const r = await renew(sb);
        if (r) notify(`Renewed ${name}: expires ${new Date(r.expiresAt ?? "").toLocaleString()}`);
        return r ?? undefined;
      }
      default: {
        const r = await busy(btn, () => sendJSON<Sandbox>("POST", sandboxPath(sb.id, `/${action}`)));
        notify(`${label(action)} ${name}: now ${r.state}`);
        return r;
      }
    }
  } catch (e) {
    notifyError(`${label(action)} ${name}`, e);
    return undefined;
  }
}

function label(action: string): string {
  return ACTIONS.find((a) => a.action === action)?.label ?? action;
}

// renew asks for a new expiry counted from now, as `hutch renew` does.
function renew(sb: Sandbox): Promise<Sandbox | null> {
  const choice = h("select", { name: "for" },
    [["30m", 30], ["1 hour", 60], ["2 hours", 120], ["8 hours", 480], ["1 day", 1440], ["7 days", 10080]].map(([l, m]) =>
      h("option", { value: m, selected: m === 60 }, String(l))));
  const current = sb.expiresAt ? `It expires ${new Date(sb.expiresAt).toLocaleString()}.` : "It has no expiry now.";
  return modal(`Renew ${sb.name || sb.id}`, h("div", null, h("p", null, current), field("New expiry, from now", choice)), async () => {
    const at = new Date(Date.now() + Number(choice.value) * 60000).toISOString();
    return sendJSON<Sandbox>("POST", sandboxPath(sb.id, "/renew-expiration"), { expiresAt: at });
  }, "Renew");
}

// actionButtons are the buttons for sb's state; done receives the answer.
export function actionButtons(sb: Sandbox, done: (sb: Sandbox) => void, small = true): HTMLElement {
  const box = h("div", { class: "actions", role: "group", "aria-label": `Actions on ${sb.name || sb.id}` });
  for (const a of ACTIONS) {
    if (!a.from.includes(sb.state)) continue;
    const b = h("button", { type: "button", class: `${small ? "small" : ""} ${a.danger ? "danger" : ""}`.trim(),
      "data-action": a.action, "data-sandbox": sb.id, "aria-label": `${a.label} ${sb.name || sb.id}` }, a.label);
    b.addEventListener("click", async () => {
      const r = await runAction(sb, a.action, b);
      if (r) done(r);
    });
    box.appendChild(b);
  }
  return box;
}
