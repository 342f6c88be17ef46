// Connection: the API base URL and a bearer token, kept in this tab's sessionStorage only.

import { api, connection, forgetToken, saveConnection } from "../api.js";
import { field, h, replace, toast } from "../dom.js";

export async function render(root, _params, ctx) {
  const current = connection();
  const base = h("input", {
    name: "base",
    type: "url",
    required: true,
    placeholder: "http://127.0.0.1:3000",
    value: current.base || `${location.protocol}//${location.hostname}:3000`,
    autocomplete: "url",
  });
  const token = h("input", { name: "token", type: "password", required: true, autocomplete: "off", value: current.token });
  const status = h("p", { class: "muted" });

  async function check() {
    try {
      const health = await api("/health");
      const me = await ctx.refreshMe();
      status.textContent = me
        ? `Connected: database ${health.database}; signed in as ${me.name} (${me.role}).`
        : `API reachable (database ${health.database}), but the token was refused.`;
    } catch (e) {
      status.textContent = e.message;
    }
  }

  const form = h(
    "form",
    {
      class: "card form-grid",
      onsubmit: async (event) => {
        event.preventDefault();
        saveConnection(base.value, token.value);
        await check();
        toast("Connection saved for this tab.");
      },
    },
    field("API URL", base),
    field("Token", token),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, "Save and test"),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: async () => {
            forgetToken();
            token.value = "";
            await ctx.refreshMe();
            status.textContent = "Token forgotten.";
          },
        },
        "Forget token",
      ),
    ),
  );
  replace(
    root,
    h("h1", {}, "Connection"),
    h(
      "p",
      { class: "muted" },
      "The portal talks only to the ClassSight API. The token stays in this browser tab and is sent as a bearer token.",
    ),
    form,
    status,
  );
  if (current.base && current.token) await check();
}
