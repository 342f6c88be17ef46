// One student's attendance over time.

import { api, seg } from "../api.js";
import { STATUSES, badge, field, formatDateTime, h, replace, table } from "../dom.js";

export async function render(root, params) {
  const usn = params.get("usn") || "";
  const from = params.get("from") || "";
  const to = params.get("to") || "";
  const usnInput = h("input", { name: "usn", required: true, maxlength: 32, value: usn, placeholder: "USN" });
  const fromInput = h("input", { type: "date", name: "from", value: from });
  const toInput = h("input", { type: "date", name: "to", value: to });
  const result = h("div", {});
  replace(
    root,
    h("h1", {}, "Student history"),
    h(
      "form",
      {
        class: "card inline-form",
        onsubmit: (e) => {
          e.preventDefault();
          const q = new URLSearchParams({ usn: usnInput.value.trim(), from: fromInput.value, to: toInput.value });
          location.hash = `#/history?${q}`;
        },
      },
      field("USN", usnInput),
      field("From", fromInput),
      field("To", toInput),
      h("button", { type: "submit" }, "Show"),
    ),
    result,
  );
  if (!usn) return;
  const history = await api(`/students/${seg(usn)}/attendance`, { query: { date_from: from, date_to: to } });
  replace(
    result,
    h("h2", {}, `${history.name} (${history.usn})`),
    h(
      "div",
      { class: "chips" },
      h("span", { class: "chip" }, `${history.rows.length} classes`),
      STATUSES.map((s) => h("span", { class: `chip chip-${s}` }, `${s}: ${history.counts[s] ?? 0}`)),
    ),
    table(
      [
        { label: "Date", cell: (r) => r.class_date },
        {
          label: "Course",
          cell: (r) =>
            h("a", { href: `#/attendance?course=${encodeURIComponent(r.course_code)}&date=${r.class_date}` }, r.course_code),
        },
        { label: "Room", cell: (r) => r.room_id },
        { label: "Status", cell: (r) => badge(r.status) },
        { label: "Source", cell: (r) => r.source },
        { label: "First seen", cell: (r) => formatDateTime(r.first_seen_at) },
        { label: "Confirmed", cell: (r) => formatDateTime(r.confirmed_at) },
      ],
      history.rows,
      { empty: "No attendance recorded." },
    ),
  );
}
