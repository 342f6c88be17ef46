// The weekly timetable per room; admins add and delete slots.

import { api, seg } from "../api.js";
import { WEEKDAYS, field, h, hhmm, replace, select, table, toast } from "../dom.js";

function addForm(rooms, courses, reload) {
  const course = select("course_code", courses.map((c) => [c.course_code, `${c.course_code} · ${c.title}`]));
  const room = select("room_id", rooms.map((r) => [r.room_id, `${r.room_id} · ${r.name}`]));
  const weekday = select("weekday", WEEKDAYS.map((d, i) => [String(i), d]), "0");
  const start = h("input", { type: "time", name: "start_time", required: true, value: "09:00" });
  const end = h("input", { type: "time", name: "end_time", required: true, value: "10:00" });
  const validFrom = h("input", { type: "date", name: "valid_from" });
  const validTo = h("input", { type: "date", name: "valid_to" });
  return h(
    "form",
    {
      class: "card form-grid",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await api("/timetable", {
            method: "POST",
            body: {
              course_code: course.value,
              room_id: room.value,
              weekday: Number(weekday.value),
              start_time: start.value,
              end_time: end.value,
              valid_from: validFrom.value || null,
              valid_to: validTo.value || null,
            },
          });
          toast("Slot added.");
          await reload();
        } catch (e) {
          toast(e.message, { error: true });
        }
      },
    },
    h("h2", { class: "span-all" }, "Add a slot"),
    field("Course", course),
    field("Room", room),
    field("Weekday", weekday),
    field("Start (room time)", start),
    field("End (room time)", end),
    field("Valid from", validFrom),
    field("Valid to", validTo),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add")),
  );
}

export async function render(root, _params, ctx) {
  const isAdmin = ctx.me && ctx.me.role === "admin";
  const [rooms, courses] = await Promise.all([api("/rooms"), api("/courses")]);
  const titles = new Map(courses.map((c) => [c.course_code, c.title]));
  const list = h("div", {});

  async function load() {
    const entries = await api("/timetable");
    replace(
      list,
      rooms.map((room) => {
        const mine = entries.filter((e) => e.room_id === room.room_id);
        return h(
          "section",
          { class: "card" },
          h("h2", {}, room.name, " ", h("span", { class: "muted small" }, `${room.room_id} · ${room.timezone}`)),
          table(
            [
              { label: "Day", cell: (e) => WEEKDAYS[e.weekday] },
              { label: "Time", cell: (e) => `${hhmm(e.start_time)}–${hhmm(e.end_time)}` },
              { label: "Course", cell: (e) => h("span", {}, h("strong", {}, e.course_code), " ", titles.get(e.course_code) ?? "") },
              {
                label: "Valid",
                cell: (e) => (e.valid_from || e.valid_to ? `${e.valid_from ?? "…"} → ${e.valid_to ?? "…"}` : "always"),
              },
              ...(isAdmin
                ? [
                    {
                      label: "",
                      cell: (e) =>
                        h(
                          "button",
                          {
                            type: "button",
                            class: "small danger",
                            onclick: async () => {
                              if (!confirm(`Delete ${e.course_code} on ${WEEKDAYS[e.weekday]} ${hhmm(e.start_time)}?`)) return;
                              try {
                                await api(`/timetable/${seg(e.id)}`, { method: "DELETE" });
                                toast("Slot deleted.");
                                await load();
                              } catch (err) {
                                toast(err.message, { error: true });
                              }
                            },
                          },
                          "Delete",
                        ),
                    },
                  ]
                : []),
            ],
            mine,
            { empty: "No slots in this room." },
          ),
        );
      }),
    );
  }

  replace(root, h("h1", {}, "Timetable"), isAdmin ? addForm(rooms, courses, load) : null, list);
  await load();
}
