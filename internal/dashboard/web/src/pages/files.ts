// The sandbox's files through the agent: list a directory, go into one,
// upload (each file PUT raw, streamed, renamed into place by the agent),
// download (fetched with the key, then saved from memory), delete, and
// make a directory.

import { call, describe, getJSON, sandboxPath, sendJSON } from "../api";
import { replaceQuery } from "../app";
import { busy, confirmDialog, field, h, modal, notify, notifyError, replace } from "../dom";
import { ago, bytes } from "../format";
import type { FileInfo, FileList as Listing, Sandbox } from "../types";
import type { Panel } from "./sandbox";

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function parent(dir: string): string {
  const d = dir.replace(/\/+$/, "");
  const i = d.lastIndexOf("/");
  return i <= 0 ? "/" : d.slice(0, i);
}

export function filesPanel(id: string, start: string): Panel {
  let dir = start || "/";
  let state = "";
  const pathInput = h("input", { id: "files-path", value: dir, "aria-label": "Directory", autocomplete: "off", spellcheck: "false" });
  const upload = h("input", { id: "files-upload", type: "file", multiple: true, class: "visually-hidden" });
  const uploadLabel = h("label", { for: "files-upload", class: "button small", tabindex: 0, role: "button" }, "Upload files");
  uploadLabel.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); upload.click(); } });
  const status = h("p", { class: "muted", role: "status", id: "files-status" });
  const table = h("div", { class: "table-wrap", id: "files-list" });
  const el = h("section", { id: "panel-files", role: "tabpanel", "aria-labelledby": "tab-files", class: "drop" },
    h("form", { class: "filters", onsubmit: (e: Event) => { e.preventDefault(); go(pathInput.value.trim() || "/"); } },
      h("button", { type: "button", class: "small", "aria-label": "Parent directory", onclick: () => go(parent(dir)) }, "↑ Up"),
      pathInput, h("button", { type: "submit", class: "small" }, "Go"),
      h("button", { type: "button", class: "small", onclick: () => void mkdir() }, "New folder"),
      upload, uploadLabel),
    status, table, h("p", { class: "hint" }, "Drop files here to upload them into this directory."));

  function go(d: string): void {
    dir = d;
    pathInput.value = d;
    replaceQuery({ path: d === "/" ? undefined : d });
    void list();
  }

  async function list(): Promise<void> {
    if (state !== "running") {
      status.textContent = `The sandbox is ${state}; its files are reached through its agent, which needs it running.`;
      table.replaceChildren();
      return;
    }
    status.textContent = "Reading…";
    try {
      const l = await getJSON<Listing>(sandboxPath(id, "/files/list"), { path: dir, depth: 1 });
      const items = l.items.sort((a, b) => (a.type === "dir" ? 0 : 1) - (b.type === "dir" ? 0 : 1) || a.name.localeCompare(b.name));
      status.textContent = `${items.length} entr${items.length === 1 ? "y" : "ies"} in ${dir}${l.truncated ? " (truncated)" : ""}`;
      replace(table, items.length === 0 ? h("p", { class: "empty" }, "Empty directory.") :
        h("table", { class: "list files" },
          h("thead", null, h("tr", null, ["Name", "Size", "Mode", "Modified", ""].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, items.map(row))));
    } catch (e) {
      status.textContent = `Could not list ${dir}: ${describe(e)}`;
      table.replaceChildren();
    }
  }

  function row(f: FileInfo): HTMLElement {
    const name = f.type === "dir"
      ? h("button", { type: "button", class: "link", onclick: () => go(f.path) }, `${f.name}/`)
      : h("span", null, f.name, f.type === "symlink" && f.linkTarget ? h("span", { class: "muted" }, ` → ${f.linkTarget}`) : null);
    return h("tr", { "data-file": f.name },
      h("td", { "data-label": "Name" }, name),
      h("td", { "data-label": "Size" }, f.type === "dir" ? "–" : bytes(f.size)),
      h("td", { "data-label": "Mode", class: "mono" }, f.mode),
      h("td", { "data-label": "Modified", title: f.modifiedAt }, ago(f.modifiedAt)),
      h("td", { "data-label": "Actions" }, h("div", { class: "actions" },
        f.type === "file" ? h("button", { type: "button", class: "small", "data-download": f.name, "aria-label": `Download ${f.name}`, onclick: (e: Event) => void download(f, e.currentTarget as HTMLButtonElement) }, "Download") : null,
        h("button", { type: "button", class: "small danger", "data-delete": f.name, "aria-label": `Delete ${f.name}`, onclick: (e: Event) => void remove(f, e.currentTarget as HTMLButtonElement) }, "Delete"))));
  }

  async function download(f: FileInfo, btn: HTMLButtonElement): Promise<void> {
    try {
      const r = await busy(btn, () => call("GET", sandboxPath(id, "/files"), { query: { path: f.path } }));
      const url = URL.createObjectURL(await r.blob());
      const a = h("a", { href: url, download: f.name, hidden: true });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      notify(`Downloaded ${f.path} (${bytes(f.size)})`);
    } catch (e) {
      notifyError(`Download of ${f.path}`, e);
    }
  }

  async function remove(f: FileInfo, btn: HTMLButtonElement): Promise<void> {
    const what = f.type === "dir" ? `the directory ${f.path} and everything in it` : f.path;
    if (!(await confirmDialog(`Delete ${f.name}?`, `Delete ${what}?`, "Delete"))) return;
    try {
      await busy(btn, () => call("DELETE", sandboxPath(id, "/files"), { query: { path: f.path, recursive: f.type === "dir" } }));
      notify(`Deleted ${f.path}`);
      void list();
    } catch (e) {
      notifyError(`Delete of ${f.path}`, e);
    }
  }

  async function put(files: ArrayLike<File>): Promise<void> {
    for (const file of Array.from(files)) {
      const path = join(dir, file.name);
      try {
        status.textContent = `Uploading ${file.name} (${bytes(file.size)})…`;
        const r = await call("PUT", sandboxPath(id, "/files"), { query: { path }, body: file, headers: { "Content-Type": "application/octet-stream" } });
        const info = (await r.json()) as FileInfo;
        notify(`Uploaded ${info.path} (${bytes(info.size)})`);
      } catch (e) {
        notifyError(`Upload of ${file.name}`, e);
      }
    }
    void list();
  }

  async function mkdir(): Promise<void> {
    const name = h("input", { id: "mkdir-name", autocomplete: "off", required: true });
    const r = await modal<FileInfo>(`New folder in ${dir}`, field("Name", name), () =>
      sendJSON<FileInfo>("POST", sandboxPath(id, "/files/mkdir"), { path: join(dir, name.value.trim()) }), "Create");
    if (r) {
      notify(`Made ${r.path}`);
      void list();
    }
  }

  upload.addEventListener("change", () => {
    if (upload.files?.length) void put(upload.files).then(() => (upload.value = ""));
  });
  el.addEventListener("dragover", (e) => { e.preventDefault(); el.classList.add("over"); });
  el.addEventListener("dragleave", () => el.classList.remove("over"));
  el.addEventListener("drop", (e) => {
    e.preventDefault();
    el.classList.remove("over");
    if (e.dataTransfer?.files.length) void put(e.dataTransfer.files);
  });

  return {
    el,
    // show lists the directory the first time and whenever the sandbox's
    // state has changed since the last listing.
    show(sb: Sandbox) {
      if (sb.state === state && table.firstChild) return;
      state = sb.state;
      void list();
    },
  };
}
