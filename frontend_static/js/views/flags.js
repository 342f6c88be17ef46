// Flags: what the cameras found suspicious, for a teacher (their courses) or an admin (all) to
// judge. Each says in plain words what happened and why it was raised; the door photo of a
// suspected photo-or-screen is fetched only when asked for (each viewing is audited); resolving
// asks for the reason inline and is kept with who and when.

import { api, seg } from "../api.js";
import { rooms as listRooms, technicalDetail } from "../data.js";
import { clearErrors, dateTimeIn, field, formError, h, longDate, replace, select, showErrors, timeIn, toast } from "../dom.js";

const KIND_WORDS = {
  spoof_suspected: "Photo or screen held up at the door?",
  not_confirmed: "Recognised at the door, never walked in",
  one_body_two_faces: "One person showed two faces at the door",
  two_rooms: "Seen in two rooms at once",
};

const RESOLUTION_WORDS = { genuine: "It was really them", proxy: "It was a proxy" };

/** Why the flag was raised, in a sentence, from its evidence (no scores unless asked for). */
function why(flag, timeZone) {
  const e = flag.evidence || {};
  switch (flag.kind) {
    case "spoof_suspected":
      return `The door camera${e.mode === "record_only" ? " (in trial mode, so attendance was still given)" : ""} judged the face it saw to look like a photo or a screen, so no attendance was given.`;
    case "not_confirmed": {
      const at = e.seen_at ? ` at ${timeIn(e.seen_at, timeZone)}` : "";
      return `Recognised at the door${at}, but the room camera saw nobody walk in with that name within ${Math.round(Number(e.entry_window_s) || 30)} seconds.`;
    }
    case "one_body_two_faces":
      return "The room camera saw one person take two names from the door within a few seconds: one person may have shown two faces.";
    case "two_rooms":
      return `The same student was seen in ${(e.rooms || []).join(" and ") || "two rooms"} at overlapping times.`;
    default:
      return "";
  }
}

function technical(flag) {
  const e = { ...(flag.evidence || {}) };
  return h("details", { class: "technical" }, h("summary", {}, "Technical detail"), h("pre", {}, JSON.stringify(e, null, 2)));
}

export async function render(root, params) {
  const status = params.get("status") === "resolved" ? "resolved" : "open";
  const kind = KIND_WORDS[params.get("kind")] ? params.get("kind") : "";
  const statusSelect = select("status", [["open", "To judge"], ["resolved", "Judged"]], status);
  const kindSelect = select("kind", [["", "Every kind"], ...Object.entries(KIND_WORDS)], kind);
  const go = () => {
    const query = new URLSearchParams({ status: statusSelect.value });
    if (kindSelect.value) query.set("kind", kindSelect.value);
    location.hash = `#/flags?${query}`;
  };
  statusSelect.addEventListener("change", go);
  kindSelect.addEventListener("change", go);
  const list = h("div", { id: "flag-list" });
  replace(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Flags"), h("div", { class: "inline-form" }, field("Show", statusSelect), field("Kind", kindSelect))),
    h("p", { class: "muted" }, "What the cameras found suspicious. Judge each one: the student was really there, or it was a proxy. Your reason is kept."),
    list,
  );
  const query = { status, limit: 200 };
  if (kind) query.kind = kind;
  const [flags, rooms] = await Promise.all([api("/flags", { query }), listRooms()]);
  const zoneOf = new Map(rooms.map((r) => [r.room_id, r.timezone]));
  const roomName = new Map(rooms.map((r) => [r.room_id, r.name]));
  const names = new Map();
  await Promise.all(
    [...new Set(flags.map((f) => f.usn).filter(Boolean))].map((usn) =>
      api(`/students/${seg(usn)}`)
        .then((s) => names.set(usn, s.name))
        .catch(() => names.set(usn, usn)),
    ),
  );
  if (!flags.length) {
    replace(list, h("p", { class: "empty" }, status === "open" ? "Nothing to judge. Flags appear here when a camera finds something suspicious." : "No judged flags yet."));
    return undefined;
  }
  replace(
    list,
    h(
      "ul",
      { class: "flag-cards" },
      flags.map((flag) => card(flag, names.get(flag.usn) || flag.usn || "Unknown student", zoneOf.get(flag.room_id) || "UTC", roomName.get(flag.room_id) || flag.room_id)),
    ),
  );
  return undefined;
}

function card(flag, name, timeZone, room) {
  const item = h("li", { class: "card flag-card", id: `flag-${flag.id}` });
  const heading = h("h2", { tabindex: "-1" }, `${KIND_WORDS[flag.kind] || flag.kind}: ${name}`);
  const where = [flag.course_code, flag.class_date ? longDate(flag.class_date) : null, room ? `in ${room}` : null].filter(Boolean).join(" · ");
  const parts = [
    heading,
    h("p", { class: "muted" }, where, ` · raised ${dateTimeIn(flag.created_at, timeZone)}`),
    h("p", {}, why(flag, timeZone)),
  ];
  if (flag.usn) parts.push(h("p", {}, h("a", { href: `#/student?usn=${encodeURIComponent(flag.usn)}` }, `Open ${name}'s attendance`)));
  if (flag.kind === "spoof_suspected" && flag.capture_id) parts.push(doorPhoto(flag, name));
  if (technicalDetail()) parts.push(technical(flag));
  if (flag.status === "resolved") {
    parts.push(
      h("p", { class: "resolution" }, `Judged by ${flag.resolved_by} ${dateTimeIn(flag.resolved_at, timeZone)}: ${RESOLUTION_WORDS[flag.resolution] || flag.resolution}, because “${flag.resolved_reason}”`),
    );
  } else {
    parts.push(resolveForm(flag, name, item));
  }
  return replace(item, ...parts);
}

/** The door camera's photo behind a suspected spoof, fetched only when asked for. */
function doorPhoto(flag, name) {
  const box = h("div", { class: "door-photo" });
  const show = h(
    "button",
    {
      type: "button",
      class: "small secondary",
      "aria-label": `Show the door photo: ${name}`,
      onclick: async () => {
        try {
          const link = await api(`/flags/${flag.id}/photo`);
          const hide = h("button", { type: "button", class: "small secondary", "aria-label": `Hide the door photo: ${name}`, onclick: () => (replace(box, show), show.focus()) }, "Hide photo");
          replace(box, h("img", { src: link.url, alt: `What the door camera saw as ${name}`, class: "door-img" }), hide);
          hide.focus();
        } catch (e) {
          replace(box, show, h("p", { class: "row-error", role: "alert" }, e.status === 404 ? "The door photo is no longer stored." : e.message));
        }
      },
    },
    "Show the door photo",
  );
  return replace(box, show);
}

function resolveForm(flag, name, item) {
  const choice = (value) => {
    const input = h("input", { type: "radio", name: `resolution-${flag.id}`, value, required: true });
    return h("label", { class: "choice" }, input, ` ${RESOLUTION_WORDS[value]}`);
  };
  const reasonId = `flag-${flag.id}-reason`;
  const reason = h("input", { id: reasonId, name: "reason", maxlength: 500, required: true, "aria-describedby": `${reasonId}-error`, placeholder: "What you checked" });
  const form = h(
    "form",
    { class: "resolve-form", novalidate: true, "aria-label": `Judge the flag: ${name}` },
    formError(),
    h("fieldset", {}, h("legend", {}, `Was it really ${name}?`), choice("genuine"), choice("proxy")),
    h("label", { for: reasonId }, `Why (kept with your judgement)`),
    reason,
    h("span", { class: "field-error", id: `${reasonId}-error`, hidden: true }),
    h("button", { type: "submit", "aria-label": `Save the judgement: ${name}` }, "Save"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const picked = form.querySelector(`input[name="resolution-${flag.id}"]:checked`);
    if (!picked) {
      showErrors(form, { status: 0, message: `Choose whether it was really ${name} or a proxy.` });
      return;
    }
    if (!reason.value.trim()) {
      showErrors(form, { fields: [{ field: "reason", message: "Say what you checked; it is kept with the judgement." }] });
      return;
    }
    try {
      const result = await api(`/flags/${flag.id}/resolve`, { method: "POST", body: { resolution: picked.value, reason: reason.value.trim() } });
      const rooms = await listRooms();
      const room = rooms.find((r) => r.room_id === result.flag.room_id);
      const fresh = card(result.flag, name, (room && room.timezone) || "UTC", (room && room.name) || result.flag.room_id);
      item.replaceWith(fresh);
      fresh.querySelector("h2").focus();
      toast(result.attendance_status ? `Judged. ${name}'s attendance is now recorded.` : "Judged.");
    } catch (e) {
      showErrors(form, e, { 409: "Someone judged this flag already; reload the page to see their judgement." });
    }
  });
  return form;
}

