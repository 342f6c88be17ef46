// Hash router: #/<view>?<params>. Each view module exports render(root, params, ctx) and may
// return a cleanup function (the live view stops polling with it).

import { api, isConfigured } from "./api.js";
import { h, replace, toast } from "./dom.js";
import * as attendance from "./views/attendance.js";
import * as history from "./views/history.js";
import * as live from "./views/live.js";
import * as settings from "./views/settings.js";
import * as students from "./views/students.js";
import * as timetable from "./views/timetable.js";
import * as today from "./views/today.js";

const VIEWS = { today, attendance, history, live, timetable, students, settings };

let cleanup = null;
let me = null;

/** The caller ({name, role}) or null; cached until the connection changes. */
export async function whoAmI(refresh = false) {
  if (refresh) me = null;
  if (me || !isConfigured()) return me;
  try {
    me = await api("/me");
  } catch {
    me = null;
  }
  const el = document.getElementById("whoami");
  el.textContent = me ? `${me.name} · ${me.role}` : "";
  return me;
}

function parseHash() {
  const [path, search] = location.hash.replace(/^#\/?/, "").split("?");
  const name = path || "today";
  return { name, params: new URLSearchParams(search || "") };
}

async function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  let { name, params } = parseHash();
  if (!VIEWS[name]) name = "today";
  if (!isConfigured() && name !== "settings") name = "settings";
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === name);
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const root = document.getElementById("view");
  replace(root, h("p", { class: "loading" }, "Loading…"));
  const ctx = { me: await whoAmI(), refreshMe: () => whoAmI(true) };
  try {
    const result = await VIEWS[name].render(root, params, ctx);
    if (typeof result === "function") cleanup = result;
  } catch (e) {
    replace(root, h("div", { class: "error-box" }, h("strong", {}, "Could not load this page. "), e.message));
    if (e.status === 401) toast("The token was refused; check Connection.", { error: true });
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);
