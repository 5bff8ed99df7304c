// The sandbox's open ports, with a preview and signed share links. Which
// ports listen is read from the sandbox's own /proc/net/tcp and tcp6
// (through the files API: the agent runs in the sandbox's network
// namespace); the native API has no list of ports. Links are signed by
// POST .../ports/{port}/url and open the port's own origin, so the
// sandbox's page never runs on the dashboard's.

import { call, describe, sandboxPath, sendJSON } from "../api";
import { busy, copyButton, field, h, modal, notify, notifyError, replace } from "../dom";
import { when } from "../format";
import type { PortURL, Sandbox } from "../types";
import type { Panel } from "./sandbox";

interface Listener { port: number; address: string }

// listening parses /proc/net/tcp or tcp6: the sockets in state 0A (LISTEN).
export function listening(text: string, v6: boolean): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== "0A") continue;
    const [hexAddr, hexPort] = f[1].split(":");
    out.push({ port: parseInt(hexPort, 16), address: v6 ? addr6(hexAddr) : addr4(hexAddr) });
  }
  return out;
}

function addr4(hex: string): string {
  // little-endian on the machines Hutch runs on (x86-64, arm64)
  const b = hex.match(/../g)!.map((x) => parseInt(x, 16)).reverse();
  return b.join(".");
}

function addr6(hex: string): string {
  if (/^0+$/.test(hex)) return "::";
  if (hex === "00000000000000000000000001000000") return "::1";
  if (hex.startsWith("0000000000000000FFFF0000")) return addr4(hex.slice(24));
  return "IPv6";
}

async function procNet(id: string, file: string): Promise<string> {
  try {
    const r = await call("GET", sandboxPath(id, "/files"), { query: { path: `/proc/net/${file}` } });
    return await r.text();
  } catch (e) {
    if (file === "tcp6") return ""; // no IPv6 in the sandbox
    throw e;
  }
}

export function portsPanel(id: string): Panel {
  let sb: Sandbox | null = null;
  let readState = "";
  const status = h("p", { class: "muted", role: "status", id: "ports-status" });
  const table = h("div", { class: "table-wrap", id: "ports-list" });
  const other = h("input", { id: "port-other", type: "number", min: "1", max: "65535", placeholder: "8000", "aria-label": "Another port" });
  const preview = h("div", { class: "preview", id: "port-preview" });
  const el = h("section", { id: "panel-ports", role: "tabpanel", "aria-labelledby": "tab-ports" },
    h("div", { class: "filters" }, h("button", { type: "button", class: "small", onclick: () => void load() }, "Refresh"),
      h("form", { class: "inline", onsubmit: (e: Event) => { e.preventDefault(); const p = Number(other.value); if (p > 0) void open(p, null); } },
        other, h("button", { type: "submit", class: "small" }, "Open another port"))),
    status, table, preview,
    h("p", { class: "hint" }, "Ports listening inside the sandbox, read from its /proc/net/tcp. Open and Preview use a link signed for 15 minutes; a public port needs no link."));

  async function load(): Promise<void> {
    if (!sb || sb.state !== "running") {
      status.textContent = `The sandbox is ${sb?.state ?? "…"}; open ports are read from inside it, which needs it running.`;
      table.replaceChildren();
      return;
    }
    status.textContent = "Reading…";
    try {
      const [t4, t6] = await Promise.all([procNet(id, "tcp"), procNet(id, "tcp6")]);
      const seen = new Map<number, string[]>();
      for (const l of [...listening(t4, false), ...listening(t6, true)]) seen.set(l.port, [...(seen.get(l.port) ?? []), l.address]);
      const ports = [...seen.entries()].sort((a, b) => a[0] - b[0]);
      status.textContent = ports.length ? `${ports.length} port${ports.length === 1 ? "" : "s"} listening` : "Nothing listens on a TCP port in this sandbox.";
      replace(table, ports.length === 0 ? null : h("table", { class: "list" },
        h("thead", null, h("tr", null, ["Port", "Bound to", "Access", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, ports.map(([port, addrs]) => row(port, addrs)))));
    } catch (e) {
      status.textContent = `Could not read the open ports: ${describe(e)}`;
    }
  }

  function row(port: number, addrs: string[]): HTMLElement {
    const pub = sb?.network.publicPorts.includes(port) ?? false;
    return h("tr", { "data-port": port },
      h("td", { "data-label": "Port" }, h("strong", null, String(port))),
      h("td", { "data-label": "Bound to", class: "mono" }, addrs.join(", ")),
      h("td", { "data-label": "Access" }, pub ? "public" : "API key or signed link"),
      h("td", { "data-label": "Actions" }, h("div", { class: "actions" },
        h("button", { type: "button", class: "small", onclick: (e: Event) => void open(port, e.currentTarget as HTMLButtonElement) }, "Open"),
        h("button", { type: "button", class: "small", onclick: (e: Event) => void show(port, e.currentTarget as HTMLButtonElement) }, "Preview"),
        h("button", { type: "button", class: "small", onclick: () => void share(port) }, "Share link…"),
        h("button", { type: "button", class: "small", onclick: (e: Event) => void setPublic(port, !pub, e.currentTarget as HTMLButtonElement) }, pub ? "Make private" : "Make public"))));
  }

  function sign(port: number, seconds: number): Promise<PortURL> {
    return sendJSON<PortURL>("POST", sandboxPath(id, `/ports/${port}/url`), { expiresInSeconds: seconds });
  }

  async function open(port: number, btn: HTMLButtonElement | null): Promise<void> {
    // Opened before the await, so the browser counts it as the click's.
    const w = window.open("about:blank", "_blank");
    try {
      const u = await busy(btn, () => sign(port, 900));
      if (w) {
        w.opener = null;
        w.location.href = u.url;
      } else {
        notify(`Port ${port}: ${u.url}`);
      }
    } catch (e) {
      w?.close();
      notifyError(`Open port ${port}`, e);
    }
  }

  async function show(port: number, btn: HTMLButtonElement): Promise<void> {
    try {
      const u = await busy(btn, () => sign(port, 900));
      replace(preview,
        h("div", { class: "term-bar" }, h("strong", null, `Port ${port}`), h("a", { href: u.url, target: "_blank", rel: "noopener noreferrer" }, "Open in a new tab"),
          h("button", { type: "button", class: "small", onclick: () => preview.replaceChildren() }, "Close preview")),
        h("iframe", { src: u.url, title: `Preview of port ${port}`, referrerpolicy: "no-referrer",
          sandbox: "allow-scripts allow-forms allow-same-origin allow-popups" }));
    } catch (e) {
      notifyError(`Preview of port ${port}`, e);
    }
  }

  async function share(port: number): Promise<void> {
    const expiry = h("select", { id: "share-expiry" },
      [["15 minutes", 900], ["1 hour", 3600], ["1 day", 86400], ["7 days", 604800]].map(([l, s]) => h("option", { value: s, selected: s === 3600 }, String(l))));
    const out = h("div");
    await modal<boolean>(`Share port ${port}`, h("div", null,
      h("p", null, "Anyone with the link reaches this port, without an API key, until it expires."),
      field("Valid for", expiry), out), async () => {
      const u = await sign(port, Number(expiry.value));
      replace(out, h("div", { class: "once" },
        h("p", null, `Expires ${when(u.expiresAt)}`),
        h("div", { class: "row" }, h("code", { class: "secret", id: "share-url" }, u.url), copyButton(() => u.url))));
      return undefined; // keep the dialog open to copy the link
    }, "Make link");
  }

  async function setPublic(port: number, pub: boolean, btn: HTMLButtonElement): Promise<void> {
    try {
      sb = await busy(btn, () => sendJSON<Sandbox>("PUT", sandboxPath(id, `/ports/${port}/public`), { public: pub }));
      notify(`Port ${port} is now ${pub ? "public" : "private"}`);
      void load();
    } catch (e) {
      notifyError(`Making port ${port} ${pub ? "public" : "private"}`, e);
    }
  }

  return {
    el,
    // show reads the ports the first time and whenever the sandbox's
    // state has changed since the last reading.
    show(next: Sandbox) {
      sb = next;
      if (next.state === readState && table.firstChild) return;
      readState = next.state;
      void load();
    },
    update(next: Sandbox) {
      sb = next;
    },
  };
}
