// The weekly timetable per room (room time); admins add slots and delete them.

import { api, seg } from "../api.js";
import { courses as listCourses, rooms as listRooms } from "../data.js";
import { WEEKDAYS, clearErrors, field, formError, h, hhmm, longDate, replace, select, showErrors, table, toast, zoneAbbr } from "../dom.js";

function addForm(rooms, courses, reload) {
  const course = select("course_code", courses.map((c) => [c.course_code, `${c.course_code} ${c.title}`]));
  const room = select("room_id", rooms.map((r) => [r.room_id, `${r.name} (${zoneAbbr(r.timezone)})`]));
  const weekday = select("weekday", WEEKDAYS.map((d, i) => [String(i), d]), "0");
  const start = h("input", { type: "time", name: "start_time", required: true, value: "09:00" });
  const end = h("input", { type: "time", name: "end_time", required: true, value: "10:00" });
  const validFrom = h("input", { type: "date", name: "valid_from" });
  const validTo = h("input", { type: "date", name: "valid_to" });
  const form = h(
    "form",
    {
      class: "form-grid",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clearErrors(form);
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
          toast("Class added to the timetable.");
          await reload();
        } catch (e) {
          if (e.status === 409) {
            showErrors(form, { fields: [{ field: "start_time", message: "Another class is in this room at this time on that day. Pick another time or room." }] });
          } else showErrors(form, e, { 404: "That course or room no longer exists." });
        }
      },
    },
    formError(),
    field("Course", course),
    field("Room", room),
    field("Day", weekday),
    field("Starts (room time)", start),
    field("Ends (room time)", end),
    field("First day (optional)", validFrom),
    field("Last day (optional)", validTo),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add to timetable")),
  );
  return h("details", { class: "card" }, h("summary", {}, "Add a weekly class"), form);
}

export async function render(root, _params, ctx) {
  const [rooms, courses] = await Promise.all([listRooms(), listCourses()]);
  const titles = new Map(courses.map((c) => [c.course_code, c.title]));
  const list = h("div", {});

  function deleteButton(entry, reload) {
    const wrap = h("div", {});
    const label = `${entry.course_code} on ${WEEKDAYS[entry.weekday]} at ${hhmm(entry.start_time)}`;
    const draw = () => replace(wrap, h("button", { type: "button", class: "small danger", "aria-label": `Remove ${label}`, onclick: ask }, "Remove"));
    const ask = () => {
      replace(
        wrap,
        h("span", { class: "small" }, `Remove ${label}? `),
        h(
          "button",
          {
            type: "button",
            class: "small danger",
            onclick: async () => {
              try {
                await api(`/timetable/${seg(entry.id)}`, { method: "DELETE" });
                toast(`${label} removed.`);
                await reload();
              } catch (e) {
                replace(wrap, h("span", { class: "row-error", role: "alert" }, e.message));
              }
            },
          },
          `Yes, remove ${label}`,
        ),
        h("button", { type: "button", class: "small secondary", onclick: () => (draw(), wrap.querySelector("button").focus()) }, "Cancel"),
      );
      wrap.querySelector("button").focus();
    };
    draw();
    return wrap;
  }

  async function load() {
    const entries = await api("/timetable");
    replace(
      list,
      rooms.map((room) =>
        h(
          "section",
          { class: "card" },
          h("h2", {}, room.name, " ", h("span", { class: "muted small" }, `times in ${zoneAbbr(room.timezone)} (${room.timezone})`)),
          table(
            [
              { label: "Day", cell: (e) => WEEKDAYS[e.weekday] },
              { label: "Time", cell: (e) => `${hhmm(e.start_time)}–${hhmm(e.end_time)}` },
              { label: "Course", cell: (e) => `${e.course_code} ${titles.get(e.course_code) ?? ""}` },
              { label: "Runs", cell: (e) => (e.valid_from || e.valid_to ? `${e.valid_from ? longDate(e.valid_from) : "…"} to ${e.valid_to ? longDate(e.valid_to) : "…"}` : "Every week") },
              ...(ctx.isAdmin ? [{ label: "Remove", cell: (e) => deleteButton(e, load) }] : []),
            ],
            entries.filter((e) => e.room_id === room.room_id),
            { empty: "No classes in this room.", caption: `Timetable of ${room.name}` },
          ),
        ),
      ),
    );
  }

  replace(root, h("h1", {}, "Timetable"), ctx.isAdmin ? addForm(rooms, courses, load) : null, list);
  await load();
}
