// Sign-in: an API key, tried against the server before it is kept, and
// then kept in this tab's sessionStorage only (gone when the tab closes;
// never in a URL, a cookie or localStorage).

import { ApiError, describe } from "../api";
import { busy, h } from "../dom";

export function signInPage(message: string, signIn: (key: string) => Promise<void>): HTMLElement {
  const input = h("input", { id: "signin-key", name: "key", type: "password", autocomplete: "off", spellcheck: "false",
    required: true, placeholder: "hk_…", "aria-describedby": "signin-hint" });
  const error = h("p", { id: "signin-error", class: "form-error", role: "alert", hidden: !message }, message);
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "signin", method: "post", action: "#" },
    h("h1", null, h("img", { src: "/ui/icon.svg", alt: "", width: 32, height: 32 }), "Hutch"),
    h("label", { for: "signin-key" }, "API key"),
    input,
    h("p", { id: "signin-hint", class: "hint" },
      "The server printed its first admin key when it started; it is also in ",
      h("code", null, "<data-dir>/api-key"), ". The key stays in this browser tab until you sign out or close it."),
    error,
    submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    const key = input.value.trim();
    try {
      await busy(submit, () => signIn(key));
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401
        ? `That API key was refused. ${describe(err)}`
        : `Could not sign in. ${describe(err)}`;
      error.hidden = false;
      input.select();
    }
  });
  return h("main", { id: "main", class: "signin-page" }, form);
}
