// Today: my classes today, each with its register counts (refreshed while a class is on), and
// the next class. Times are each room's own, labelled.

import { api } from "../api.js";
import { classCounts, countsLine } from "../data.js";
import { badge, h, hhmm, longDate, notice, replace, zoneAbbr } from "../dom.js";
import { CLASS_STATE_WORDS } from "../words.js";

const REFRESH_MS = 30_000;

export async function render(root, _params, ctx) {
  const list = h("div", { id: "todays-classes" });
  const next = h("div", { id: "next-class" });
  const updated = h("p", { class: "muted small", "aria-live": "polite" });

  async function load() {
    const classes = await api("/classes/today");
    classes.sort((a, b) => a.starts_at.localeCompare(b.starts_at));
    const counts = await Promise.all(classes.map((c) => classCounts(c.course_code, c.class_date).catch(() => null)));
    const upcoming = classes.find((c) => c.state === "upcoming");
    const now = classes.find((c) => c.state === "in_session");
    replace(
      next,
      now
        ? h("p", { class: "lead" }, "In class now: ", h("strong", {}, `${now.course_code} ${now.course_title}`), ` in ${now.room_name}, until ${hhmm(now.end_time)} ${zoneAbbr(now.timezone)}.`)
        : null,
      upcoming
        ? h("p", { class: "lead" }, "Next class: ", h("strong", {}, `${upcoming.course_code} ${upcoming.course_title}`), ` at ${hhmm(upcoming.start_time)} ${zoneAbbr(upcoming.timezone)} in ${upcoming.room_name}.`)
        : h("p", { class: "lead" }, classes.length ? "No more classes today." : "No classes today."),
    );
    replace(
      list,
      classes.length
        ? h(
            "ul",
            { class: "class-list" },
            classes.map((c, i) =>
              h(
                "li",
                { class: `card class-item state-${c.state}` },
                h("div", { class: "class-time" }, `${hhmm(c.start_time)}–${hhmm(c.end_time)}`, h("span", { class: "zone" }, `${zoneAbbr(c.timezone)} · ${c.timezone}`)),
                h(
                  "div",
                  { class: "class-main" },
                  h("h2", {}, h("a", { href: `#/register?course=${encodeURIComponent(c.course_code)}&date=${c.class_date}` }, `${c.course_code} ${c.course_title}`)),
                  h("p", { class: "muted" }, `${c.room_name} · ${longDate(c.class_date)}`),
                  h("p", { class: "counts" }, counts[i] ? countsLine(counts[i]) : "Counts unavailable"),
                ),
                badge(CLASS_STATE_WORDS[c.state], c.state),
                h(
                  "div",
                  { class: "class-links" },
                  h("a", { href: `#/register?course=${encodeURIComponent(c.course_code)}&date=${c.class_date}`, "aria-label": `Open register: ${c.course_code} ${c.course_title}` }, "Open register"),
                  h("a", { href: `#/course?code=${encodeURIComponent(c.course_code)}`, "aria-label": `Course attendance: ${c.course_code}` }, "Course attendance"),
                  h("a", { href: `#/live?room=${encodeURIComponent(c.room_id)}`, "aria-label": `Live room: ${c.room_name}` }, "Live room"),
                ),
              ),
            ),
          )
        : h("p", { class: "empty" }, ctx.isAdmin ? "No classes are timetabled today in any room." : "You have no classes timetabled today."),
    );
    updated.textContent = classes.some((c) => c.state === "in_session") ? "Counts refresh every 30 seconds while a class is on." : "";
    return classes.some((c) => c.state === "in_session");
  }

  replace(root, h("h1", {}, ctx.isAdmin ? "Today across the campus" : "My classes today"), next, list, updated);
  let live = await load();
  const timer = setInterval(async () => {
    if (!live) return;
    try {
      live = await load();
    } catch (e) {
      updated.replaceChildren(notice(`Could not refresh: ${e.message}`));
    }
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
