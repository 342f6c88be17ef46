// One class (course + date): who was recorded, counts per status, manual correction, CSV export.

import { api, seg } from "../api.js";
import { STATUSES, badge, field, formatTime, h, replace, select, table, toast, todayIso } from "../dom.js";

function correctionForm(report, row, reload) {
  const status = select("status", STATUSES.map((s) => [s, s]), row ? row.status : "present");
  const reason = h("input", { name: "reason", required: true, maxlength: 255, placeholder: "Reason (audited)" });
  const usn = row ? null : h("input", { name: "usn", required: true, maxlength: 32, placeholder: "USN" });
  return h(
    "form",
    {
      class: "inline-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const target = row ? row.usn : usn.value.trim();
        try {
          await api(`/attendance/${seg(report.course_code)}/${seg(report.class_date)}/${seg(target)}`, {
            method: "PUT",
            body: { status: status.value, reason: reason.value },
          });
          toast(`${target}: ${status.value}`);
          await reload();
        } catch (e) {
          toast(e.message, { error: true });
        }
      },
    },
    usn,
    status,
    reason,
    h("button", { type: "submit", class: "small" }, row ? "Correct" : "Add"),
  );
}

async function downloadCsv(courseCode, classDate) {
  try {
    const response = await api(`/attendance/${seg(courseCode)}/${seg(classDate)}/export.csv`, { raw: true });
    const blob = await response.blob();
    const link = h("a", { download: `attendance_${courseCode}_${classDate}.csv` });
    link.href = URL.createObjectURL(blob);
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (e) {
    toast(e.message, { error: true });
  }
}

export async function render(root, params) {
  const courses = await api("/courses");
  const course = params.get("course") || (courses[0] && courses[0].course_code) || "";
  const date = params.get("date") || todayIso();
  const courseSelect = select(
    "course",
    courses.map((c) => [c.course_code, `${c.course_code} · ${c.title}`]),
    course,
  );
  const dateInput = h("input", { type: "date", name: "date", value: date, required: true });
  const result = h("div", { id: "attendance-report" });

  async function load() {
    if (!course) {
      replace(result, h("p", { class: "empty" }, "No courses yet."));
      return;
    }
    const report = await api(`/attendance/${seg(course)}/${seg(date)}`);
    replace(
      result,
      h(
        "div",
        { class: "page-head" },
        h("h2", {}, `${report.course_code} · ${report.course_title} — ${report.class_date}`),
        h("button", { type: "button", class: "secondary", onclick: () => downloadCsv(course, date) }, "Export CSV"),
      ),
      h(
        "div",
        { class: "chips" },
        h("span", { class: "chip" }, `${report.total} recorded`),
        STATUSES.map((s) => h("span", { class: `chip chip-${s}` }, `${s}: ${report.counts[s] ?? 0}`)),
      ),
      table(
        [
          { label: "USN", class: "nowrap", cell: (r) => h("a", { href: `#/history?usn=${encodeURIComponent(r.usn)}` }, r.usn) },
          { label: "Name", class: "wrap", cell: (r) => r.name ?? "—" },
          { label: "Status", cell: (r) => badge(r.status) },
          { label: "Source", cell: (r) => r.source },
          { label: "First seen", class: "nowrap", cell: (r) => formatTime(r.first_seen_at) },
          { label: "Confirmed", class: "nowrap", cell: (r) => formatTime(r.confirmed_at) },
          { label: "Similarity", class: "num", cell: (r) => (r.similarity == null ? "—" : r.similarity.toFixed(3)) },
          { label: "Correct", class: "nowrap", cell: (r) => correctionForm(report, r, load) },
        ],
        report.rows,
        { empty: "Nobody recorded for this class yet." },
      ),
      report.not_seen.length
        ? [
            h("h3", {}, "Not seen (recorded for this course on nearby days)"),
            table(
              [
                { label: "USN", class: "nowrap", cell: (s) => h("a", { href: `#/history?usn=${encodeURIComponent(s.usn)}` }, s.usn) },
                { label: "Name", class: "wrap", cell: (s) => s.name },
                { label: "Record", class: "nowrap", cell: (s) => correctionForm(report, { usn: s.usn, status: "absent" }, load) },
              ],
              report.not_seen,
            ),
          ]
        : null,
      h("h3", {}, "Record another student"),
      correctionForm(report, null, load),
    );
  }

  replace(
    root,
    h("h1", {}, "Attendance"),
    h(
      "form",
      {
        class: "card inline-form",
        onsubmit: (e) => {
          e.preventDefault();
          location.hash = `#/attendance?course=${encodeURIComponent(courseSelect.value)}&date=${dateInput.value}`;
        },
      },
      field("Course", courseSelect),
      field("Date", dateInput),
      h("button", { type: "submit" }, "Show"),
    ),
    result,
  );
  await load();
}
