// Hash router: #/<view>?<params>. Each view module exports render(root, params, ctx) and may
// return a cleanup function (views that refresh stop with it). Nobody sees a page but the
// sign-in page until signed in; the menu shows what the person's role may use.

import { ApiError, onSessionEnd, session, signOut } from "./api.js";
import { h, notice, replace } from "./dom.js";
import * as cameras from "./views/cameras.js";
import * as course from "./views/course.js";
import * as courses from "./views/courses.js";
import * as glossary from "./views/glossary.js";
import * as home from "./views/home.js";
import * as imports from "./views/imports.js";
import * as live from "./views/live.js";
import * as receipt from "./views/receipt.js";
import * as register from "./views/register.js";
import * as rooms from "./views/rooms.js";
import * as signin from "./views/signin.js";
import * as student from "./views/student.js";
import * as students from "./views/students.js";
import * as teachers from "./views/teachers.js";
import * as timetable from "./views/timetable.js";

const VIEWS = { signin, home, register, course, courses, student, students, live, timetable, glossary, rooms, teachers, imports, cameras, receipt };
const ADMIN_ONLY = new Set(["rooms", "teachers", "imports", "cameras", "receipt"]);

const MENU = [
  ["home", "Today"],
  ["courses", "Courses"],
  ["students", "Students"],
  ["timetable", "Timetable"],
  ["live", "Live room"],
  ["rooms", "Rooms", "admin"],
  ["teachers", "Teachers", "admin"],
  ["imports", "Import", "admin"],
  ["cameras", "Cameras", "admin"],
  ["glossary", "Glossary"],
];

let cleanup = null;
let endedMessage = "";

function parseHash() {
  const [path, search] = location.hash.replace(/^#\/?/, "").split("?");
  return { name: path || "home", params: new URLSearchParams(search || "") };
}

function renderChrome(me, current) {
  const nav = document.getElementById("main-nav");
  const account = document.getElementById("account");
  const menuButton = document.getElementById("menu-button");
  if (!me) {
    replace(nav);
    replace(account);
    menuButton.hidden = true;
    return;
  }
  menuButton.hidden = false;
  replace(
    nav,
    h(
      "ul",
      {},
      MENU.filter(([, , role]) => !role || me.role === "admin").map(([view, label]) =>
        h("li", {}, h("a", { href: `#/${view}`, "aria-current": view === current ? "page" : null, class: view === current ? "active" : null }, label)),
      ),
    ),
  );
  replace(
    account,
    h("span", { class: "whoami" }, me.name, h("span", { class: "role" }, me.role === "admin" ? "Admin" : "Teacher")),
    h(
      "button",
      {
        type: "button",
        class: "secondary small on-dark",
        onclick: async () => {
          await signOut();
          endedMessage = "You have signed out.";
          location.hash = "#/signin";
          route();
        },
      },
      "Sign out",
    ),
  );
}

async function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  let { name, params } = parseHash();
  const current = session();
  const me = current ? { name: current.name, role: current.role } : null;
  if (!me) name = "signin";
  else if (name === "signin" || !VIEWS[name]) name = "home";
  if (me && ADMIN_ONLY.has(name) && me.role !== "admin") name = "home";
  document.body.classList.toggle("nav-open", false);
  document.getElementById("menu-button").setAttribute("aria-expanded", "false");
  renderChrome(me, name);
  const root = document.getElementById("view");
  replace(root, h("p", { class: "loading" }, "Loading…"));
  const ctx = { me, isAdmin: me && me.role === "admin", endedMessage };
  endedMessage = "";
  try {
    const result = await VIEWS[name].render(root, params, ctx);
    if (typeof result === "function") cleanup = result;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // the session ended: onSessionEnd routes
    replace(root, h("h1", {}, "This page could not be loaded"), notice(e.message || "Something went wrong."), h("p", {}, h("a", { href: "#/home" }, "Back to today")));
  }
  // Focus the page's heading, so that keyboard and screen reader users start at the new page.
  const heading = root.querySelector("h1");
  if (heading && !root.contains(document.activeElement)) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
  document.title = heading ? `${heading.textContent} · ClassSight` : "ClassSight";
}

onSessionEnd(() => {
  endedMessage = "Your session has ended. Please sign in again.";
  location.hash = "#/signin";
  route();
});

document.getElementById("menu-button").addEventListener("click", () => {
  const open = !document.body.classList.contains("nav-open");
  document.body.classList.toggle("nav-open", open);
  document.getElementById("menu-button").setAttribute("aria-expanded", String(open));
});

window.addEventListener("hashchange", route);
route();
