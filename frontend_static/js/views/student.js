// One student: attendance per course (with a chart) and the history, oldest last. A teacher
// sees the courses they teach; admins all. Times are each class room's, labelled.

import { api, seg } from "../api.js";
import { percentBars } from "../charts.js";
import { ATTENDED, MIN_ATTENDANCE_PCT, rooms } from "../data.js";
import { badge, h, longDate, notice, picker, replace, table, timeIn } from "../dom.js";
import { SOURCE_WORDS, markWord } from "../words.js";

export function studentPicker(onPick, initial = "") {
  return picker({
    label: "Student",
    name: "student",
    placeholder: "Name or USN",
    initial,
    search: async (text) => {
      const page = await api("/students", { query: { q: text, limit: 15 } });
      return page.items.map((s) => ({ value: s.usn, label: `${s.name} (${s.usn})`, detail: s.section ? `Section ${s.section}` : "" }));
    },
    onPick,
  });
}

export async function render(root, params) {
  const usn = params.get("usn") || "";
  const chooser = studentPicker((item) => (location.hash = `#/student?usn=${encodeURIComponent(item.value)}`));
  if (!usn) {
    replace(root, h("h1", {}, "Student"), h("div", { class: "card toolbar" }, chooser));
    return;
  }
  const [history, allRooms] = await Promise.all([api(`/students/${seg(usn)}/attendance`), rooms()]);
  const zones = new Map(allRooms.map((r) => [r.room_id, r.timezone]));
  const perCourse = new Map();
  for (const row of history.rows) {
    const entry = perCourse.get(row.course_code) || { course: row.course_code, attended: 0, held: 0 };
    if (row.status !== "excused") {
      entry.held += 1;
      if (ATTENDED.has(row.status)) entry.attended += 1;
    }
    perCourse.set(row.course_code, entry);
  }
  const courses = [...perCourse.values()].map((c) => ({ ...c, pct: c.held ? (100 * c.attended) / c.held : null }));
  const rows = [...history.rows].reverse();
  replace(
    root,
    h("h1", {}, `${history.name}`),
    h("p", { class: "muted" }, `USN ${history.usn}`),
    h("div", { class: "card toolbar" }, chooser),
    h(
      "section",
      { class: "card", "aria-labelledby": "per-course-h" },
      h("h2", { id: "per-course-h" }, "Attendance per course"),
      courses.length
        ? percentBars(
            courses.map((c) => c.course),
            courses.map((c) => (c.pct === null ? null : Math.round(c.pct))),
            { threshold: MIN_ATTENDANCE_PCT, label: `Bar chart of ${history.name}'s attendance per course; the table below lists the same figures.` },
          )
        : null,
      table(
        [
          { label: "Course", cell: (c) => h("a", { href: `#/course?code=${encodeURIComponent(c.course)}` }, c.course) },
          { label: "Attended", class: "num", cell: (c) => `${c.attended} of ${c.held}` },
          {
            label: "Attendance",
            class: "num",
            cell: (c) => (c.pct === null ? "—" : c.pct < MIN_ATTENDANCE_PCT ? badge(`${Math.round(c.pct)}% · shortage`, "absent") : `${Math.round(c.pct)}%`),
          },
        ],
        courses,
        { empty: "No attendance recorded yet in the courses you can see.", caption: "Attendance per course" },
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "history-h" },
      h("h2", { id: "history-h" }, "History"),
      table(
        [
          { label: "Day", cell: (r) => h("a", { href: `#/register?course=${encodeURIComponent(r.course_code)}&date=${r.class_date}`, "aria-label": `Register of ${r.course_code} on ${longDate(r.class_date)}` }, longDate(r.class_date)) },
          { label: "Course", cell: (r) => r.course_code },
          { label: "Mark", cell: (r) => badge(markWord(r).word, markWord(r).kind) },
          { label: "Arrived (door camera)", cell: (r) => timeIn(r.first_seen_at, zones.get(r.room_id) || "UTC") },
          { label: "Confirmed in room", cell: (r) => timeIn(r.confirmed_at, zones.get(r.room_id) || "UTC") },
          { label: "How", cell: (r) => SOURCE_WORDS[r.source] || r.source },
        ],
        rows,
        { empty: "No attendance recorded yet.", caption: `Attendance history of ${history.name}` },
      ),
    ),
    history.rows.length ? null : notice("Nothing recorded for this student in the courses you can see.", "info"),
  );
}
