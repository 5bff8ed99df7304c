// A few helpers to build the page from code. Text always goes in as text
// (textContent), never as HTML, so nothing a sandbox or an API answer
// holds can become markup.

import { describe } from "./api";

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | ((e: any) => void);
export type Attrs = Record<string, AttrValue>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (typeof v === "function") {
        el.addEventListener(k.slice(2).toLowerCase(), v);
      } else if (k === "class") {
        el.className = String(v);
      } else if (k === "value" && "value" in el) {
        (el as unknown as HTMLInputElement).value = String(v);
      } else if (k === "checked" && "checked" in el) {
        (el as unknown as HTMLInputElement).checked = Boolean(v);
      } else {
        el.setAttribute(k, v === true ? "" : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

// Toasts: the result of every action, in a live region a screen reader
// announces. Errors stay until dismissed.
let toasts: HTMLElement | null = null;

export function toastRegion(): HTMLElement {
  toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
  return toasts;
}

export function notify(text: string, kind: "ok" | "error" = "ok"): void {
  if (!toasts) return;
  const t = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : null },
    h("span", null, text),
    h("button", { class: "icon", "aria-label": "Dismiss", title: "Dismiss", onclick: () => t.remove() }, "×"));
  toasts.appendChild(t);
  if (kind === "ok") setTimeout(() => t.remove(), 6000);
  while (toasts.children.length > 5) toasts.firstElementChild?.remove();
}

export function notifyError(what: string, e: unknown): void {
  notify(`${what} failed: ${describe(e)}`, "error");
}

// busy disables a button while f runs, so an action is not sent twice.
export async function busy<T>(btn: HTMLButtonElement | null, f: () => Promise<T>): Promise<T> {
  if (btn) {
    btn.disabled = true;
    btn.setAttribute("aria-busy", "true");
  }
  try {
    return await f();
  } finally {
    if (btn) {
      btn.disabled = false;
      btn.removeAttribute("aria-busy");
    }
  }
}

// modal shows a <dialog> (focus kept inside, Escape closes) and resolves
// with what its form returned, or null when cancelled.
export function modal<T>(title: string, body: Child, onSubmit: (form: HTMLFormElement) => Promise<T | undefined> | T | undefined,
  submitLabel = "OK", danger = false): Promise<T | null> {
  return new Promise((resolve) => {
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: danger ? "danger" : "primary" }, submitLabel);
    const form = h("form", { method: "dialog", class: "dialog-form" },
      h("h2", null, title), body, error,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"), submit));
    const dlg = h("dialog", { "aria-label": title }, form);
    let result: T | null = null;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.hidden = true;
      try {
        const r = await busy(submit, async () => onSubmit(form));
        if (r === undefined) return; // the form said why itself
        result = r;
        dlg.close();
      } catch (err) {
        error.textContent = describe(err);
        error.hidden = false;
      }
    });
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve(result);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
  });
}

export function confirmDialog(title: string, text: string, label: string): Promise<boolean> {
  return modal(title, h("p", null, text), () => true, label, true).then((r) => r === true);
}

// field is a labelled input.
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const hintEl = hint ? h("small", { id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

export function copyButton(text: () => string, label = "Copy"): HTMLButtonElement {
  const b = h("button", { type: "button", class: "small" }, label);
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      b.textContent = "Copied";
    } catch {
      // no clipboard (plain http on another host): select the text instead
      b.textContent = "Select and copy";
    }
    setTimeout(() => (b.textContent = label), 2000);
  });
  return b;
}

// secretBox shows a secret the API shows only once.
export function secretBox(what: string, secret: string): HTMLElement {
  const code = h("code", { class: "secret", tabindex: 0 }, secret);
  return h("div", { class: "once", role: "alert" },
    h("p", null, h("strong", null, `${what}, shown once: `), "copy it now; the server keeps only its hash."),
    h("div", { class: "row" }, code, copyButton(() => secret)));
}

export function stateBadge(state: string): HTMLElement {
  return h("span", { class: `badge state-${state}` }, state);
}
