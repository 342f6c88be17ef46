// Sign in with a name and password. The API's address comes from config.json; nothing else is asked.

import { signIn } from "../api.js";
import { clearErrors, field, formError, h, notice, replace, showErrors } from "../dom.js";

export async function render(root, _params, ctx) {
  const username = h("input", { name: "username", autocomplete: "username", required: true, maxlength: 128, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: 256 });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    {
      class: "card signin-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clearErrors(form);
        const missing = [];
        if (!username.value.trim()) missing.push({ field: "username", message: "Enter your name as you sign in (your username)." });
        if (!password.value) missing.push({ field: "password", message: "Enter your password." });
        if (missing.length) {
          showErrors(form, { fields: missing });
          return;
        }
        submit.disabled = true;
        submit.textContent = "Signing in…";
        try {
          await signIn(username.value.trim(), password.value);
          password.value = "";
          location.hash = "#/home";
        } catch (e) {
          showErrors(form, e);
          password.value = "";
        } finally {
          submit.disabled = false;
          submit.textContent = "Sign in";
        }
      },
    },
    formError(),
    field("Name", username, { hint: "The name you sign in with, for example tom." }),
    field("Password", password),
    h("div", { class: "actions" }, submit),
  );
  replace(
    root,
    h(
      "div",
      { class: "signin" },
      h("h1", {}, "Sign in to ClassSight"),
      ctx.endedMessage ? notice(ctx.endedMessage, "info") : null,
      form,
      h("p", { class: "muted small" }, "Forgot your password? Ask your ClassSight administrator to reset it."),
    ),
  );
  username.focus();
}
