// Today's classes per room (room-local time), with their state and attendance so far.

import { api } from "../api.js";
import { badge, field, h, hhmm, replace } from "../dom.js";

const STATE_LABEL = { upcoming: "upcoming", in_session: "in session", ended: "ended" };

export async function render(root, params) {
  const on = params.get("on") || "";
  const classes = await api("/classes/today", { query: { on } });
  const dateInput = h("input", { type: "date", name: "on", value: on });
  const byRoom = new Map();
  for (const c of classes) {
    if (!byRoom.has(c.room_id)) byRoom.set(c.room_id, []);
    byRoom.get(c.room_id).push(c);
  }
  const rooms = [...byRoom.entries()].map(([roomId, list]) =>
    h(
      "section",
      { class: "card room-card" },
      h("h2", {}, list[0].room_name, " ", h("span", { class: "muted small" }, `${roomId} · ${list[0].timezone}`)),
      h(
        "ul",
        { class: "class-list" },
        list.map((c) =>
          h(
            "li",
            { class: `class-item state-${c.state}` },
            h("div", { class: "class-time" }, `${hhmm(c.start_time)}–${hhmm(c.end_time)}`),
            h(
              "div",
              { class: "class-main" },
              h("strong", {}, c.course_code),
              " ",
              c.course_title,
              h("div", { class: "muted small" }, `${c.attendance_count} recorded · ${c.class_date}`),
            ),
            badge(STATE_LABEL[c.state], c.state),
            h(
              "div",
              { class: "class-links" },
              h("a", { href: `#/attendance?course=${encodeURIComponent(c.course_code)}&date=${c.class_date}` }, "Attendance"),
              h("a", { href: `#/live?room=${encodeURIComponent(c.room_id)}` }, "Live"),
            ),
          ),
        ),
      ),
    ),
  );
  replace(
    root,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, on ? `Classes on ${on}` : "Today's classes"),
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (e) => {
            e.preventDefault();
            location.hash = dateInput.value ? `#/today?on=${dateInput.value}` : "#/today";
          },
        },
        field("Date", dateInput),
        h("button", { type: "submit" }, "Show"),
      ),
    ),
    rooms.length ? h("div", { class: "grid" }, rooms) : h("p", { class: "empty" }, "No classes are timetabled for this day."),
  );
}
