// Images in the server's cache: list, remove, pull from a registry and
// import a tarball, both with the server's streamed progress (one JSON
// line per step, the last with the image or the error).

import { call, describe, getJSON, lines, sendJSON } from "../api";
import type { Page } from "../app";
import { busy, confirmDialog, field, h, notify, notifyError, replace } from "../dom";
import { ago, bytes } from "../format";
import type { Image, ImageProgress } from "../types";

export const imagesPage: Page = (root) => {
  const table = h("div", { class: "table-wrap", id: "image-list" });
  const status = h("p", { class: "muted", role: "status" });
  const ref = h("input", { id: "pull-ref", required: true, autocomplete: "off", spellcheck: "false", placeholder: "docker.io/library/alpine:3.20" });
  const user = h("input", { id: "pull-user", autocomplete: "off" });
  const pass = h("input", { id: "pull-pass", type: "password", autocomplete: "off" });
  const pullBtn = h("button", { type: "submit", class: "primary" }, "Pull");
  const pullProgress = h("div", { class: "progress", id: "pull-progress", "aria-live": "polite" });
  const file = h("input", { id: "import-file", type: "file", required: true, accept: ".tar,.tar.gz,.tgz,application/x-tar" });
  const name = h("input", { id: "import-name", autocomplete: "off", placeholder: "required for a root filesystem" });
  const rootfs = h("input", { id: "import-rootfs", type: "checkbox" });
  const importBtn = h("button", { type: "submit", class: "primary" }, "Import");
  const importProgress = h("div", { class: "progress", id: "import-progress", "aria-live": "polite" });

  replace(root,
    h("div", { class: "page-head" }, h("h1", null, "Images")),
    status, table,
    h("div", { class: "columns" },
      h("form", { class: "card", onsubmit: (e: Event) => { e.preventDefault(); void pull(); } },
        h("h2", null, "Pull from a registry"),
        field("Reference", ref), h("div", { class: "grid2" }, field("Username", user), field("Password", pass, "Used for this pull only, never stored.")),
        h("p", { class: "hint" }, "Needs an admin key. The server refuses registries on internal addresses unless its operator allowed them."),
        pullBtn, pullProgress),
      h("form", { class: "card", onsubmit: (e: Event) => { e.preventDefault(); void importTar(); } },
        h("h2", null, "Import a tarball"),
        field("File", file, "docker save or OCI layout tarball, or a plain root filesystem"),
        field("Name", name),
        h("label", { class: "check" }, rootfs, " The file is a plain root filesystem"),
        importBtn, importProgress)));

  async function load(): Promise<void> {
    try {
      const l = await getJSON<{ items: Image[] }>("/v1/images");
      status.textContent = `${l.items.length} image${l.items.length === 1 ? "" : "s"} in the cache`;
      replace(table, h("table", { class: "list" },
        h("thead", null, h("tr", null, ["Reference", "Digest", "Size", "Layers", "Added", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, l.items.map((i) => h("tr", { "data-ref": i.ref },
          h("td", { "data-label": "Reference" }, h("strong", null, i.ref)),
          h("td", { "data-label": "Digest", class: "mono", title: i.digest }, i.digest.replace(/^sha256:/, "").slice(0, 12)),
          h("td", { "data-label": "Size" }, bytes(i.size)),
          h("td", { "data-label": "Layers" }, String(i.layers)),
          h("td", { "data-label": "Added", title: i.createdAt }, ago(i.createdAt)),
          h("td", { "data-label": "Actions" }, h("button", { type: "button", class: "small danger", onclick: (e: Event) => void remove(i, e.currentTarget as HTMLButtonElement) }, "Remove")))))));
    } catch (e) {
      status.textContent = `Could not list images: ${describe(e)}`;
    }
  }

  async function remove(i: Image, btn: HTMLButtonElement): Promise<void> {
    if (!(await confirmDialog(`Remove ${i.ref}?`, `Remove ${i.ref} from the server's cache? Sandboxes already made from it keep running.`, "Remove"))) return;
    try {
      await busy(btn, () => sendJSON("DELETE", "/v1/images", undefined, { ref: i.ref }));
      notify(`Removed ${i.ref}`);
      void load();
    } catch (e) {
      notifyError(`Removing ${i.ref}`, e);
    }
  }

  // follow shows a progress stream: a bar per layer, the last line's
  // image or error.
  async function follow(resp: Response, into: HTMLElement, what: string): Promise<void> {
    const layers = new Map<string, HTMLProgressElement>();
    const head = h("p", null, "Started");
    replace(into, head);
    for await (const line of lines(resp)) {
      let p: ImageProgress;
      try { p = JSON.parse(line) as ImageProgress; } catch { continue; }
      if (p.status === "error" || p.error) {
        head.textContent = `${what} failed: ${p.error ? `${p.error.code}: ${p.error.message} (request ${p.error.requestId})` : "unknown error"}`;
        head.className = "form-error";
        notify(head.textContent, "error");
        return;
      }
      if (p.status === "done") {
        head.textContent = `${what}: done${p.image ? `, ${p.image.ref} (${bytes(p.image.size)})` : ""}`;
        notify(head.textContent);
        void load();
        return;
      }
      head.textContent = p.status;
      if (p.layer) {
        let bar = layers.get(p.layer);
        if (!bar) {
          bar = h("progress", { max: 1, value: 0, "aria-label": `layer ${p.layer.slice(7, 19)}` });
          layers.set(p.layer, bar);
          into.appendChild(h("div", { class: "layer" }, h("span", { class: "mono" }, p.layer.replace(/^sha256:/, "").slice(0, 12)), bar));
        }
        if (p.total) {
          bar.max = p.total;
          bar.value = p.current ?? 0;
          bar.title = `${p.status} ${bytes(p.current ?? 0)} of ${bytes(p.total)}`;
        }
      }
    }
    head.textContent = `${what}: the stream ended without a result`;
  }

  async function pull(): Promise<void> {
    await busy(pullBtn, async () => {
      try {
        const body: Record<string, string> = { ref: ref.value.trim() };
        if (user.value) body.username = user.value;
        if (pass.value) body.password = pass.value;
        const r = await call("POST", "/v1/images/pull", { json: body });
        await follow(r, pullProgress, `Pull of ${body.ref}`);
      } catch (e) {
        replace(pullProgress, h("p", { class: "form-error" }, `Pull failed: ${describe(e)}`));
      }
    });
  }

  async function importTar(): Promise<void> {
    const f = file.files?.[0];
    if (!f) return;
    await busy(importBtn, async () => {
      try {
        replace(importProgress, h("p", null, `Sending ${f.name} (${bytes(f.size)})…`));
        const r = await call("POST", "/v1/images/import", { query: { name: name.value.trim(), rootfs: rootfs.checked || undefined },
          body: f, headers: { "Content-Type": "application/x-tar" } });
        await follow(r, importProgress, `Import of ${f.name}`);
      } catch (e) {
        replace(importProgress, h("p", { class: "form-error" }, `Import failed: ${describe(e)}`));
      }
    });
  }

  void load();
};
