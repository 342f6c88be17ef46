// A course over the term: each student's attendance percentage with a chart, the shortage list
// highlighted, and attendance per class day as a chart. Each chart has its table.

import { percentBars, sessionLine } from "../charts.js";
import { api } from "../api.js";
import { MIN_ATTENDANCE_PCT, courseRoom, courseStats, courseTermStats, courses as listCourses, termOn } from "../data.js";
import { badge, download, h, longDate, notice, coursePicker, replace, table, toast, todayIn } from "../dom.js";

function pct(value) {
  return value === null ? "—" : `${Math.round(value)}%`;
}

export async function render(root, params) {
  const allCourses = await listCourses();
  const code = params.get("code") || "";
  const course = allCourses.find((c) => c.course_code === code);
  const courseChooser = coursePicker(allCourses, course, (item) => (location.hash = `#/course?code=${encodeURIComponent(item.value)}`));
  if (!course) {
    replace(root, h("h1", {}, "Course attendance"), h("div", { class: "card toolbar" }, courseChooser), code ? notice("You do not teach this course, or it does not exist.", "info") : h("p", { class: "muted" }, "Find a course by its code or title."));
    return;
  }
  const { room, timeZone } = await courseRoom(code, null);
  const today = todayIn(timeZone);
  const term = await termOn(today);
  // Over a term: the API's reports (sessions held, the course's minimum); without one, the
  // marks recorded so far.
  const stats = term ? await courseTermStats(term, code).catch(() => null) : null;
  const figures = stats || (await courseStats(code));
  const threshold = stats ? stats.minPct : MIN_ATTENDANCE_PCT;
  const students = [...figures.students].sort((a, b) => (a.pct ?? 101) - (b.pct ?? 101) || a.name.localeCompare(b.name));
  const shortage = students.filter((s) => (s.short !== undefined ? s.short : s.pct !== null && s.pct < threshold));
  const exportFile = async (suffix, label) => {
    try {
      const response = await api(`${stats.exportBase}/${suffix}`, { raw: true });
      await download(response, `register_${code}_${term.name.replace(/[^A-Za-z0-9]+/g, "_")}.${suffix.split(".").pop()}`);
    } catch (e) {
      toast(`The ${label} could not be made: ${e.message}`);
    }
  };
  const scope = stats
    ? `${term.name} · ${stats.held} class${stats.held === 1 ? "" : "es"} held, ${stats.remaining} to come`
    : `${figures.held} class day${figures.held === 1 ? "" : "s"} with a register so far`;

  replace(
    root,
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, `${course.course_code} ${course.title}`), h("p", { class: "muted" }, `${room ? room.name : "No room timetabled"} · ${scope} · minimum ${threshold}%`)),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button", href: `#/register?course=${encodeURIComponent(code)}&date=${today}` }, "Open today's register"),
        stats ? h("button", { type: "button", class: "secondary", onclick: () => exportFile("register.xlsx", "spreadsheet") }, "Term register (XLSX)") : null,
        stats ? h("button", { type: "button", class: "secondary", onclick: () => exportFile("register.csv", "CSV") }, "Term register (CSV)") : null,
        stats ? h("button", { type: "button", class: "secondary", onclick: () => exportFile("register.html", "printable register") }, "Printable term register") : null,
      ),
    ),
    h("div", { class: "card toolbar" }, courseChooser),
    h(
      "section",
      { class: `card ${shortage.length ? "shortage" : ""}`, "aria-labelledby": "shortage-h" },
      h("h2", { id: "shortage-h" }, shortage.length ? `Shortage: ${shortage.length} student${shortage.length === 1 ? "" : "s"} under ${threshold}%` : `Nobody is under ${threshold}%`),
      shortage.length
        ? h(
            "ul",
            { class: "shortage-list" },
            shortage.map((s) => h("li", {}, h("a", { href: `#/student?usn=${encodeURIComponent(s.usn)}` }, s.name), ` (${s.usn}) — ${pct(s.pct)}, ${s.attended} of ${s.held}`)),
          )
        : null,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "pct-h" },
      h("h2", { id: "pct-h" }, "Attendance per student"),
      students.length
        ? percentBars(
            students.map((s) => s.name),
            students.map((s) => (s.pct === null ? null : Math.round(s.pct))),
            { threshold, label: `Bar chart of each student's attendance in ${code}; the table below lists the same figures.` },
          )
        : null,
      table(
        [
          { label: "Student", cell: (s) => h("a", { href: `#/student?usn=${encodeURIComponent(s.usn)}` }, s.name) },
          { label: "USN", cell: (s) => s.usn },
          { label: "Attended", class: "num", cell: (s) => `${s.attended} of ${s.held}` },
          { label: "Attendance", class: "num", cell: (s) => (s.pct !== null && s.pct < threshold ? badge(`${pct(s.pct)} · shortage`, "absent") : pct(s.pct)) },
        ],
        students,
        { empty: "No students are on this course's roster.", caption: `Attendance per student in ${code}` },
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "sessions-h" },
      h("h2", { id: "sessions-h" }, "Attendance per class day"),
      figures.sessions.length
        ? sessionLine(
            figures.sessions.map((s) => longDate(s.day)),
            figures.sessions.map((s) => (s.pct === null ? null : Math.round(s.pct))),
            { threshold, label: `Line chart of the share of students attending each class day of ${code}; the table below lists the same figures.` },
          )
        : null,
      table(
        [
          { label: "Day", cell: (s) => h("a", { href: `#/register?course=${encodeURIComponent(code)}&date=${s.day}`, "aria-label": `Register of ${longDate(s.day)}` }, longDate(s.day)) },
          { label: "Attending", class: "num", cell: (s) => `${s.attended} of ${s.expected}` },
          { label: "Share", class: "num", cell: (s) => pct(s.pct) },
        ],
        [...figures.sessions].reverse(),
        { empty: "No class day has a register yet.", caption: `Attendance per class day in ${code}` },
      ),
    ),
  );
}
