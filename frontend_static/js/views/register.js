// The class register: one course on one day. Every student on the roster with one-tap
// Present / Late / Absent / Excused, "mark all remaining", the reason asked inline when a mark
// changes, the evidence behind each mark in plain words, CSV export and a printable register.

import { api, seg } from "../api.js";
import { courseRoom, courses as listCourses, setTechnicalDetail, technicalDetail } from "../data.js";
import { badge, dateTimeIn, download, formError, h, longDate, notice, coursePicker, replace, showErrors, timeIn, toast, todayIn, zoneAbbr } from "../dom.js";
import { MARKS, SOURCE_WORDS, STATUS_WORDS, confidenceWord, markWord } from "../words.js";

const REASON_FIRST_MARK = "marked in the register";

function shiftDate(isoDate, days) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + days));
  return next.toISOString().slice(0, 10);
}

/** The evidence of one mark, as short plain sentences (oldest first), and its corrections. */
function evidence(row, timeZone, showTechnical) {
  if (!row) return ["No mark yet"];
  const lines = [];
  const items = row.evidence && row.evidence.length ? row.evidence : legacyEvidence(row);
  for (const e of items) {
    if (e.kind === "door_sighting") {
      const confidence = confidenceWord(e.similarity);
      lines.push(`Arrived (door camera) ${timeIn(e.at, timeZone)}${confidence ? ` · Match confidence: ${confidence}` : ""}`);
    } else if (e.kind === "room_confirmation") lines.push(`Confirmed in room ${timeIn(e.at, timeZone)}`);
    else if (e.kind === "body_reid") lines.push(`Recognised by the room camera ${timeIn(e.at, timeZone)}`);
    else if (e.kind === "sweep") lines.push(`No arrival by the end of class: marked absent ${timeIn(e.at, timeZone)}`);
    else if (e.kind === "manual" && !(row.corrections && row.corrections.length)) lines.push(`Marked by ${e.by || "a teacher"} ${timeIn(e.at, timeZone)}`);
  }
  for (const c of row.corrections || []) {
    const before = c.old_status ? STATUS_WORDS[c.old_status] || c.old_status : "no mark";
    lines.push(`Corrected by ${c.corrected_by} ${timeIn(c.corrected_at, timeZone)}: ${before} → ${STATUS_WORDS[c.new_status] || c.new_status}, because “${c.reason}”`);
  }
  if (showTechnical) {
    lines.push(`Technical: source ${row.source}${row.similarity == null ? "" : `, similarity ${row.similarity.toFixed(3)}`}, room ${row.room_id}`);
  }
  return lines.length ? lines : [SOURCE_WORDS[row.source] || "Marked"];
}

/** Evidence from the row's own columns, for an API that does not list it. */
function legacyEvidence(row) {
  const items = [];
  if (row.first_seen_at) items.push({ kind: "door_sighting", at: row.first_seen_at, similarity: row.source === "manual" ? null : row.similarity });
  if (row.confirmed_at) items.push({ kind: row.source === "body" ? "body_reid" : "room_confirmation", at: row.confirmed_at });
  if (row.source === "manual") items.push({ kind: "manual", at: row.updated_at });
  if (row.source === "sweep") items.push({ kind: "sweep", at: row.updated_at });
  return items;
}

export async function render(root, params, ctx) {
  const allCourses = await listCourses();
  const courseCode = params.get("course") || (allCourses[0] && allCourses[0].course_code) || "";
  const course = allCourses.find((c) => c.course_code === courseCode);
  const showTechnical = ctx.isAdmin && technicalDetail();
  const courseChooser = coursePicker(allCourses, course, (item) => (location.hash = `#/register?course=${encodeURIComponent(item.value)}`));
  if (!course) {
    replace(root, h("h1", {}, "Register"), courseChooser, notice(courseCode ? "You do not teach this course, or it does not exist." : "No courses yet.", "info"));
    return undefined;
  }
  const place = await courseRoom(courseCode, params.get("date"));
  const timeZone = place.timeZone;
  const classDate = params.get("date") || todayIn(timeZone);
  const dayPlace = params.get("date") ? place : await courseRoom(courseCode, classDate);
  const zoneLabel = `${zoneAbbr(timeZone)} (${timeZone})`;

  const status = h("p", { class: "visually-hidden", "aria-live": "polite" });
  const body = h("div", { id: "register" });
  const chips = h("p", { class: "chips", id: "register-counts" });
  const bulk = h("div", { class: "bulk" });
  const filterInput = h("input", { type: "search", name: "filter", placeholder: "Name or USN", autocomplete: "off", id: "register-filter" });
  let state = { rows: new Map(), students: [] };
  let session = null;
  let filter = "";

  async function load() {
    const [report, roster] = await Promise.all([
      api(`/attendance/${seg(courseCode)}/${seg(classDate)}`),
      api(`/courses/${seg(courseCode)}/roster`, { query: { on: classDate } }),
    ]);
    session = await api("/sessions", { query: { course_code: courseCode, date_from: classDate, date_to: classDate } })
      .then((list) => list.find((x) => x.status === "scheduled") || null)
      .catch(() => null);
    const rows = new Map(report.rows.map((r) => [r.usn, r]));
    const people = new Map(roster.students.map((s) => [s.usn, { usn: s.usn, name: s.name }]));
    for (const r of report.rows) if (!people.has(r.usn)) people.set(r.usn, { usn: r.usn, name: r.name || r.usn });
    if (!roster.students.length) for (const s of report.not_seen) if (!people.has(s.usn)) people.set(s.usn, s);
    state = { rows, students: [...people.values()].sort((a, b) => a.name.localeCompare(b.name)) };
  }

  function countsText() {
    const counts = { present: 0, late: 0, absent: 0, excused: 0, entered: 0 };
    let unmarked = 0;
    for (const s of state.students) {
      const row = state.rows.get(s.usn);
      if (row) counts[row.status] = (counts[row.status] || 0) + 1;
      else unmarked += 1;
    }
    return { counts, unmarked, total: state.students.length };
  }

  async function mark(student, newStatus, reason, wrongPerson = false) {
    const saved = await api(`/attendance/${seg(courseCode)}/${seg(classDate)}/${seg(student.usn)}`, {
      method: "PUT",
      body: {
        status: newStatus,
        reason,
        room_id: state.rows.get(student.usn) ? undefined : (dayPlace.room && dayPlace.room.room_id) || undefined,
        wrong_person: wrongPerson || undefined,
      },
    });
    state.rows.set(student.usn, saved);
    return saved;
  }

  function focusAfter(index) {
    const rowsEls = [...body.querySelectorAll("tbody tr")];
    const next = rowsEls[index + 1] || rowsEls[index];
    const target = next && next.querySelector(".marks button");
    if (target) target.focus();
  }

  function reasonPanel(student, newStatus, index, cell, opener) {
    const label = `Reason for marking ${student.name} ${STATUS_WORDS[newStatus].toLowerCase()}`;
    const input = h("input", { name: "reason", maxlength: 255, "aria-label": label, placeholder: "Reason (kept with the change)", required: true });
    // A door recognition marked as absent may have been someone else: saying so teaches the
    // matcher (that face is never again taken for this student).
    const current = state.rows.get(student.usn);
    const fromDoor = current && (current.evidence && current.evidence.length ? current.evidence : legacyEvidence(current)).some((e) => e.kind === "door_sighting");
    const wrongPerson = fromDoor && newStatus === "absent" ? h("input", { type: "checkbox", name: "wrong_person", id: `wrong-person-${student.usn}` }) : null;
    const form = h(
      "form",
      {
        class: "reason-form",
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          if (!input.value.trim()) {
            showErrors(form, { fields: [{ field: "reason", message: "Say why the mark changes; it is kept with the change." }] });
            return;
          }
          try {
            await mark(student, newStatus, input.value.trim(), Boolean(wrongPerson && wrongPerson.checked));
            status.textContent = `${student.name}: ${STATUS_WORDS[newStatus]}`;
            toast(`${student.name} marked ${STATUS_WORDS[newStatus].toLowerCase()}.`);
            draw();
            focusAfter(index);
          } catch (e) {
            showErrors(form, e, { 404: "This student or class was not found.", 403: "You can correct only the courses you teach." });
          }
        },
      },
      formError(),
      h("label", { class: "reason-label", for: `reason-${student.usn}` }, `Why is ${student.name} now ${STATUS_WORDS[newStatus].toLowerCase()}?`),
      input,
      h("span", { class: "field-error", id: `reason-${student.usn}-error`, hidden: true }),
      wrongPerson
        ? h("label", { class: "check", for: `wrong-person-${student.usn}` }, wrongPerson, ` The door camera took someone else for ${student.name}`)
        : null,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "small", "aria-label": `Save: ${student.name} ${STATUS_WORDS[newStatus].toLowerCase()}` }, "Save"),
        h(
          "button",
          {
            type: "button",
            class: "small secondary",
            "aria-label": `Cancel the change for ${student.name}`,
            onclick: () => {
              form.remove();
              opener.focus();
            },
          },
          "Cancel",
        ),
      ),
    );
    input.id = `reason-${student.usn}`;
    input.setAttribute("aria-describedby", `reason-${student.usn}-error`);
    for (const old of cell.querySelectorAll(".reason-form")) old.remove();
    cell.append(form);
    input.focus();
  }

  function markButtons(student, row, index) {
    const group = h("div", { class: "marks", role: "group", "aria-label": `Mark for ${student.name}` });
    for (const s of MARKS) {
      const pressed = row && (row.status === s || (s === "present" && row.status === "entered"));
      const button = h(
        "button",
        {
          type: "button",
          class: `mark mark-${s}`,
          "aria-pressed": String(Boolean(pressed)),
          "aria-label": `${STATUS_WORDS[s]}: ${student.name}`,
          id: `mark-${student.usn}-${s}`,
          onclick: async () => {
            const current = state.rows.get(student.usn);
            if (current && current.status === s) return;
            if (current) {
              reasonPanel(student, s, index, group.parentElement, button);
              return;
            }
            try {
              await mark(student, s, REASON_FIRST_MARK);
              status.textContent = `${student.name}: ${STATUS_WORDS[s]}`;
              draw();
              focusAfter(index);
            } catch (e) {
              const cell = group.parentElement;
              for (const old of cell.querySelectorAll(".row-error")) old.remove();
              cell.append(h("p", { class: "row-error", role: "alert" }, `${student.name}: ${e.message}`));
            }
          },
        },
        STATUS_WORDS[s],
      );
      group.append(button);
    }
    return group;
  }

  /** The door camera's photo of the mark, fetched only when asked for (each viewing is audited). */
  function doorPhoto(student) {
    const box = h("div", { class: "door-photo no-print" });
    const show = h(
      "button",
      {
        type: "button",
        class: "small secondary",
        "aria-label": `Door photo: ${student.name}`,
        onclick: async () => {
          try {
            const link = await api(`/attendance/${seg(courseCode)}/${seg(classDate)}/${seg(student.usn)}/door-photo`);
            const hide = h("button", { type: "button", class: "small secondary", "aria-label": `Hide door photo: ${student.name}`, onclick: () => (replace(box, show), show.focus()) }, "Hide");
            replace(box, h("img", { src: link.url, alt: `Door camera photo of ${student.name}`, class: "door-img" }), hide);
            hide.focus();
          } catch (e) {
            replace(box, show, h("p", { class: "row-error", role: "alert" }, e.status === 404 ? `The door photo of ${student.name} is no longer stored.` : e.message));
          }
        },
      },
      "Door photo",
    );
    box.append(show);
    return box;
  }

  function drawBulk() {
    const { unmarked } = countsText();
    if (!unmarked) {
      replace(bulk, h("p", { class: "muted small" }, "Every student has a mark."));
      return;
    }
    const ask = (target) => {
      const confirmRow = h(
        "div",
        { class: "confirm", role: "group", "aria-label": "Confirm marking all remaining" },
        h("span", {}, `Mark the ${unmarked} student${unmarked === 1 ? "" : "s"} without a mark ${STATUS_WORDS[target].toLowerCase()}?`),
        h(
          "button",
          {
            type: "button",
            class: "small",
            onclick: async () => {
              const remaining = state.students.filter((s) => !state.rows.has(s.usn));
              const reason = `marked all remaining ${target} in the register`;
              let done = 0;
              const failed = [];
              if (session) {
                // One call for the class session: the server marks whoever is still unmarked.
                try {
                  const result = await api(`/sessions/${seg(session.session_id)}/mark-remaining`, { method: "POST", body: { status: target, reason } });
                  done = result.marked.length;
                } catch (e) {
                  failed.push(e.message);
                }
                await load();
              } else {
                for (const s of remaining) {
                  try {
                    await mark(s, target, reason);
                    done += 1;
                  } catch {
                    failed.push(s.name);
                  }
                }
              }
              draw();
              const message = `${done} marked ${STATUS_WORDS[target].toLowerCase()}.` + (failed.length ? ` Not saved: ${failed.join(", ")}.` : "");
              status.textContent = message;
              toast(message);
              chips.focus();
            },
          },
          `Yes, mark ${unmarked} ${STATUS_WORDS[target].toLowerCase()}`,
        ),
        h("button", { type: "button", class: "small secondary", onclick: () => (drawBulk(), bulk.querySelector("button").focus()) }, "Cancel"),
      );
      replace(bulk, confirmRow);
      confirmRow.querySelector("button").focus();
    };
    replace(
      bulk,
      h("button", { type: "button", class: "secondary", onclick: () => ask("present") }, "Mark all remaining present"),
      h("button", { type: "button", class: "secondary", onclick: () => ask("absent") }, "Mark all remaining absent"),
    );
  }

  function draw() {
    const { counts, unmarked, total } = countsText();
    replace(
      chips,
      h("span", { class: "chip chip-present" }, `${counts.present + counts.entered} present`),
      h("span", { class: "chip chip-late" }, `${counts.late} late`),
      h("span", { class: "chip chip-absent" }, `${counts.absent} absent`),
      h("span", { class: "chip chip-excused" }, `${counts.excused} excused`),
      unmarked ? h("span", { class: "chip" }, `${unmarked} not marked`) : null,
      h("span", { class: "chip chip-total" }, `of ${total}`),
    );
    drawBulk();
    const visible = state.students.filter((s) => !filter || s.name.toLowerCase().includes(filter) || s.usn.toLowerCase().includes(filter));
    if (!state.students.length) {
      replace(body, h("p", { class: "empty" }, "No students are on this course's roster for this day."));
      return;
    }
    replace(
      body,
      h(
        "table",
        { class: "list-table register-table" },
        h("caption", { class: "visually-hidden" }, `Register of ${courseCode} on ${longDate(classDate)}`),
        h("thead", {}, h("tr", {}, ["Student", "Mark", "Evidence", "Change"].map((t) => h("th", { scope: "col", class: t === "Change" ? "no-print" : null }, t)))),
        h(
          "tbody",
          {},
          visible.map((student, index) => {
            const row = state.rows.get(student.usn);
            const shown = markWord(row);
            return h(
              "tr",
              { dataset: { usn: student.usn } },
              h(
                "td",
                { dataset: { label: "Student" } },
                h("a", { href: `#/student?usn=${encodeURIComponent(student.usn)}` }, student.name),
                h("span", { class: "usn" }, student.usn),
              ),
              h("td", { dataset: { label: "Mark" } }, badge(shown.word, shown.kind)),
              h(
                "td",
                { dataset: { label: "Evidence" }, class: "evidence" },
                h("ul", {}, evidence(row, timeZone, showTechnical).map((line) => h("li", {}, line))),
                row && (row.first_seen_at || (row.evidence || []).some((e) => e.kind === "door_sighting")) ? doorPhoto(student) : null,
              ),
              h("td", { dataset: { label: "Change" }, class: "no-print" }, markButtons(student, row, index)),
            );
          }),
        ),
      ),
      visible.length ? null : h("p", { class: "empty" }, "No student matches."),
    );
  }

  filterInput.addEventListener("input", () => {
    filter = filterInput.value.trim().toLowerCase();
    draw();
  });

  const exportCsv = async () => {
    try {
      const response = await api(`/attendance/${seg(courseCode)}/${seg(classDate)}/export.csv`, { raw: true });
      await download(response, `register_${courseCode}_${classDate}.csv`);
    } catch (e) {
      toast(`The CSV could not be made: ${e.message}`);
    }
  };

  const go = (day) => (location.hash = `#/register?course=${encodeURIComponent(courseCode)}&date=${day}`);
  const dateInput = h("input", { type: "date", name: "date", value: classDate, id: "register-date" });
  dateInput.addEventListener("change", () => dateInput.value && go(dateInput.value));

  replace(
    root,
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", {}, `Register · ${course.course_code} ${course.title}`), h("p", { class: "muted" }, `${longDate(classDate)} · ${dayPlace.room ? dayPlace.room.name : "no room"} · times in ${zoneLabel}`)),
      h(
        "div",
        { class: "actions no-print" },
        h("button", { type: "button", class: "secondary", onclick: exportCsv }, "Export CSV"),
        h("button", { type: "button", class: "secondary", onclick: () => window.print() }, "Print register"),
      ),
    ),
    h(
      "div",
      { class: "card toolbar no-print" },
      courseChooser,
      h(
        "div",
        { class: "field" },
        h("label", { for: "register-date" }, `Day (${zoneAbbr(timeZone)})`),
        h(
          "div",
          { class: "date-nav" },
          h("button", { type: "button", class: "secondary small", onclick: () => go(shiftDate(classDate, -1)) }, "Previous day"),
          dateInput,
          h("button", { type: "button", class: "secondary small", onclick: () => go(shiftDate(classDate, 1)) }, "Next day"),
        ),
      ),
      h("div", { class: "field" }, h("label", { for: "register-filter" }, "Find a student"), filterInput),
      ctx.isAdmin
        ? h(
            "label",
            { class: "check" },
            h("input", {
              type: "checkbox",
              name: "technical",
              checked: showTechnical,
              onchange: (e) => {
                setTechnicalDetail(e.target.checked);
                window.dispatchEvent(new HashChangeEvent("hashchange"));
              },
            }),
            " Show technical detail (admins)",
          )
        : null,
    ),
    h("p", { class: "print-only" }, `Printed ${dateTimeIn(new Date().toISOString(), timeZone)} (${timeZone}) · signature: ____________________`),
    h("div", { tabindex: "-1", id: "register-counts-wrap" }, chips),
    h("div", { class: "bulk-wrap no-print" }, bulk),
    status,
    body,
  );
  chips.setAttribute("tabindex", "-1");
  await load();
  draw();
  return undefined;
}
