// The create dialog: every field of CreateSandboxRequest a person would
// set, blank meaning the server's (or the organisation's) default. The
// sandbox is created with wait=false, so the dialog closes at once and the
// list shows it reach running through the event stream.

import { getJSON, sendJSON } from "../api";
import { field, h, modal, notify } from "../dom";
import { optNumber, parsePairs, splitList } from "../format";
import type { CreateSandboxRequest, Image, Sandbox } from "../types";

export async function createDialog(): Promise<Sandbox | null> {
  const images = h("datalist", { id: "image-choices" });
  getJSON<{ items: Image[] }>("/v1/images").then((l) => l.items.forEach((i) => images.appendChild(h("option", { value: i.ref })))).catch(() => {});
  const name = h("input", { name: "name", id: "create-name", autocomplete: "off", placeholder: "generated when blank" });
  const image = h("input", { name: "image", id: "create-image", list: "image-choices", autocomplete: "off", placeholder: "server default" });
  const cpu = h("input", { name: "cpu", id: "create-cpu", type: "number", step: "0.25", min: "0", inputmode: "decimal", placeholder: "default" });
  const mem = h("input", { name: "memoryMB", id: "create-memory", type: "number", step: "64", min: "0", placeholder: "default" });
  const disk = h("input", { name: "diskMB", id: "create-disk", type: "number", step: "256", min: "0", placeholder: "default" });
  const pids = h("input", { name: "pids", id: "create-pids", type: "number", min: "0", placeholder: "default" });
  const env = h("textarea", { name: "env", id: "create-env", rows: 3, spellcheck: "false", placeholder: "KEY=value, one per line" });
  const metadata = h("textarea", { name: "metadata", id: "create-metadata", rows: 2, spellcheck: "false", placeholder: "team=ml, one per line" });
  const timeout = h("input", { name: "timeout", id: "create-timeout", type: "number", min: "1", placeholder: "default" });
  const autoStop = h("input", { name: "autoStop", id: "create-autostop", type: "number", min: "0", placeholder: "default" });
  const autoArchive = h("input", { name: "autoArchive", id: "create-autoarchive", type: "number", min: "0", placeholder: "default" });
  const autoDelete = h("input", { name: "autoDelete", id: "create-autodelete", type: "number", min: "-1", placeholder: "default" });
  const internet = h("input", { name: "internet", id: "create-internet", type: "checkbox", checked: true });
  const allow = h("input", { name: "allow", id: "create-allow", autocomplete: "off", placeholder: "10.0.0.0/8 192.168.1.0/24" });
  const deny = h("input", { name: "deny", id: "create-deny", autocomplete: "off", placeholder: "CIDRs" });
  const autoResume = h("input", { name: "autoResume", id: "create-autoresume", type: "checkbox" });
  const entrypoint = h("textarea", { name: "entrypoint", id: "create-entrypoint", rows: 2, spellcheck: "false", placeholder: "one argument per line; blank: the image's or idle" });

  const body = h("div", { class: "create-form" },
    images,
    h("div", { class: "grid2" }, field("Name", name), field("Image", image)),
    h("fieldset", null, h("legend", null, "Resources"),
      h("div", { class: "grid4" }, field("CPUs", cpu), field("Memory (MB)", mem), field("Disk (MB)", disk), field("Processes", pids))),
    h("div", { class: "grid2" }, field("Environment", env, "Values are never shown again."), field("Metadata", metadata, "Labels to filter by.")),
    h("fieldset", null, h("legend", null, "Timeouts"),
      h("div", { class: "grid4" },
        field("Expires after (s)", timeout, "blank: the default"),
        field("Auto-stop idle (min)", autoStop, "0: off"),
        field("Auto-archive stopped (min)", autoArchive, "0: off"),
        field("Auto-delete stopped (min)", autoDelete, "-1: never"))),
    h("fieldset", null, h("legend", null, "Network"),
      h("label", { class: "check" }, internet, " Internet access (NAT); without it, loopback only"),
      h("div", { class: "grid2" }, field("Allow only (CIDRs)", allow), field("Deny (CIDRs)", deny))),
    h("details", null, h("summary", null, "More"),
      h("label", { class: "check" }, autoResume, " Resume on a request through the port proxy"),
      field("Entrypoint", entrypoint)));

  const sb = await modal<Sandbox>("New sandbox", body, async () => {
    const req: CreateSandboxRequest = {};
    if (name.value.trim()) req.name = name.value.trim();
    if (image.value.trim()) req.image = image.value.trim();
    const res = { cpu: optNumber(cpu, "CPUs"), memoryMB: optNumber(mem, "Memory"), diskMB: optNumber(disk, "Disk"), pids: optNumber(pids, "Processes") };
    if (Object.values(res).some((v) => v !== undefined)) req.resources = res;
    const e = parsePairs(env.value, "Environment");
    if (Object.keys(e).length) req.env = e;
    const m = parsePairs(metadata.value, "Metadata");
    if (Object.keys(m).length) req.metadata = m;
    req.timeoutSeconds = optNumber(timeout, "Expires after");
    req.autoStopMinutes = optNumber(autoStop, "Auto-stop");
    req.autoArchiveMinutes = optNumber(autoArchive, "Auto-archive");
    req.autoDeleteMinutes = optNumber(autoDelete, "Auto-delete");
    const a = splitList(allow.value), d = splitList(deny.value);
    if (!internet.checked || a.length || d.length) req.network = { internet: internet.checked, allowCIDRs: a, denyCIDRs: d };
    if (autoResume.checked) req.autoResume = true;
    const argv = entrypoint.value.split("\n").map((s) => s.trim()).filter(Boolean);
    if (argv.length) req.entrypoint = argv;
    return sendJSON<Sandbox>("POST", "/v1/sandboxes", req, { wait: false });
  }, "Create");
  if (sb) notify(`Creating ${sb.name} (${sb.id}): ${sb.state}`);
  return sb;
}
