// A terminal in the sandbox: xterm.js over the agent's PTY WebSocket. A
// browser's WebSocket cannot send the API key, so the page first asks for
// a single-use ticket with the key (POST .../terminal-ticket, which also
// says at once why a sandbox cannot have a terminal now) and opens the
// socket with the ticket. Binary messages carry the terminal's bytes both
// ways; text messages are control: resize from here, exit from the agent.

import "@xterm/xterm/css/xterm.css";
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { describe, sendJSON } from "../api";
import { busy, h, replace } from "../dom";
import type { Sandbox, TerminalTicket } from "../types";
import type { Panel } from "./sandbox";

function theme(): Record<string, string> {
  const css = getComputedStyle(document.documentElement);
  const v = (n: string) => css.getPropertyValue(n).trim();
  return { background: v("--term-bg"), foreground: v("--term-fg"), cursor: v("--accent"), selectionBackground: v("--term-sel") };
}

export function terminalPanel(id: string): Panel {
  const status = h("span", { id: "terminal-status", role: "status" }, "not connected");
  const connectBtn = h("button", { type: "button", class: "small", id: "terminal-connect" }, "Connect");
  const closeBtn = h("button", { type: "button", class: "small", id: "terminal-close", disabled: true }, "Disconnect");
  const host = h("div", { class: "terminal", id: "terminal" });
  const el = h("section", { id: "panel-terminal", role: "tabpanel", "aria-labelledby": "tab-terminal" },
    h("div", { class: "term-bar" }, status, connectBtn, closeBtn), host,
    h("p", { class: "hint" }, "A login shell in the sandbox, as ", h("code", null, "hutch shell"), " opens. Tab and Escape go to the terminal while it has the focus; press Ctrl+Shift+F6 (or click outside) to leave it."));

  let term: Terminal | null = null;
  let fit: FitAddon | null = null;
  let ws: WebSocket | null = null;
  let state = "";
  const enc = new TextEncoder();
  const resize = new ResizeObserver(() => {
    if (!fit || el.hidden) return;
    try { fit.fit(); } catch { /* not laid out yet */ }
  });

  function setStatus(text: string, kind = ""): void {
    status.textContent = text;
    status.className = kind;
  }

  function ensureTerm(): Terminal {
    if (term) return term;
    term = new Terminal({ cursorBlink: true, fontSize: 14, lineHeight: 1.15, scrollback: 5000, theme: theme(),
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace" });
    fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host);
    // Ctrl+Shift+F6 leaves the terminal for the page's own keyboard use.
    term.attachCustomKeyEventHandler((e) => {
      if (e.type === "keydown" && e.key === "F6" && e.ctrlKey && e.shiftKey) {
        connectBtn.focus();
        return false;
      }
      return true;
    });
    term.onData((d) => { if (ws?.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); });
    term.onBinary((d) => {
      if (ws?.readyState !== WebSocket.OPEN) return;
      const b = new Uint8Array(d.length);
      for (let i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 0xff;
      ws.send(b);
    });
    term.onResize(({ cols, rows }) => { if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols, rows })); });
    resize.observe(host);
    try { fit.fit(); } catch { /* not laid out yet */ }
    return term;
  }

  async function connect(): Promise<void> {
    if (ws) return;
    const t = ensureTerm();
    setStatus("connecting…");
    let ticket: TerminalTicket;
    try {
      ticket = await busy(connectBtn, () => sendJSON<TerminalTicket>("POST", `/ui/api/sandboxes/${encodeURIComponent(id)}/terminal-ticket`));
    } catch (e) {
      setStatus(`cannot open a terminal: ${describe(e)}`, "form-error");
      return;
    }
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams({ ticket: ticket.ticket, cols: String(t.cols), rows: String(t.rows) });
    const sock = new WebSocket(`${proto}//${location.host}/ui/api/terminal?${q}`);
    sock.binaryType = "arraybuffer";
    ws = sock;
    connectBtn.disabled = true;
    let opened = false;
    let exit: number | null = null;
    sock.onopen = () => {
      opened = true;
      closeBtn.disabled = false;
      setStatus("connected", "ok");
      t.focus();
    };
    sock.onmessage = (m) => {
      if (typeof m.data === "string") {
        try {
          const msg = JSON.parse(m.data) as { type: string; exitCode?: number };
          if (msg.type === "exit") exit = msg.exitCode ?? 0;
        } catch { /* not a control message */ }
        return;
      }
      t.write(new Uint8Array(m.data as ArrayBuffer));
    };
    sock.onclose = (c) => {
      ws = null;
      connectBtn.disabled = false;
      closeBtn.disabled = true;
      connectBtn.textContent = "Reconnect";
      if (exit !== null) setStatus(`the shell exited with status ${exit}`);
      else if (!opened) setStatus(`the terminal could not be opened (WebSocket closed with ${c.code}${c.reason ? `: ${c.reason}` : ""})`, "form-error");
      else setStatus(`disconnected${c.reason ? `: ${c.reason}` : ""}${state && state !== "running" ? ` (the sandbox is ${state})` : ""}`);
    };
  }

  connectBtn.addEventListener("click", () => void connect());
  closeBtn.addEventListener("click", () => ws?.close(1000, "closed by the user"));

  return {
    el,
    show(sb: Sandbox) {
      state = sb.state;
      ensureTerm();
      try { fit?.fit(); } catch { /* not laid out yet */ }
      if (sb.state === "running" && !ws && connectBtn.textContent === "Connect") void connect();
      else if (sb.state !== "running" && !ws) setStatus(`the sandbox is ${sb.state}; a terminal needs it running`);
      term?.focus();
    },
    update(sb: Sandbox) {
      state = sb.state;
    },
    close() {
      ws?.close(1000, "left the page");
      resize.disconnect();
      term?.dispose();
      replace(host);
    },
  };
}
