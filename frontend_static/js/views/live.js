// Live room: the class on now and the newest door-camera recognitions, refreshed every 5 s.
// No face pictures are shown here; names, times (room time) and match confidence are. Where the
// portal's config names the room camera's stream, the annotated room view (boxes, track numbers,
// the names handed over from the door) is shown beside them.

import { api, config, seg } from "../api.js";
import { rooms as listRooms } from "../data.js";
import { field, h, hhmm, replace, select, table, timeIn, zoneAbbr } from "../dom.js";
import { OUTCOME_WORDS, confidenceWord } from "../words.js";

const POLL_MS = 5000;

export async function render(root, params) {
  const [rooms, settings] = await Promise.all([listRooms(), config()]);
  const roomId = params.get("room") || (rooms[0] && rooms[0].room_id) || "";
  const room = rooms.find((r) => r.room_id === roomId);
  const roomSelect = select("room", rooms.map((r) => [r.room_id, r.name]), roomId);
  roomSelect.addEventListener("change", () => (location.hash = `#/live?room=${encodeURIComponent(roomSelect.value)}`));
  const now = h("div", { class: "card" });
  const events = h("div", { id: "live-events" });
  const updated = h("span", { class: "muted small" });
  replace(
    root,
    h("div", { class: "page-head" }, h("h1", {}, room ? `Live: ${room.name}` : "Live room"), h("div", { class: "inline-form" }, field("Room", roomSelect))),
    room ? h("p", { class: "muted" }, `Times in ${zoneAbbr(room.timezone)} (${room.timezone})`) : null,
    now,
    streamOf(room, settings.roomStreams),
    h("div", { class: "page-head" }, h("h2", {}, "At the door"), updated),
    events,
  );
  if (!room) {
    replace(events, h("p", { class: "empty" }, "No rooms yet."));
    return undefined;
  }
  const names = new Map();

  async function poll() {
    try {
      const [classes, page] = await Promise.all([
        api("/classes/today", { query: { room_id: roomId } }),
        api(`/rooms/${seg(roomId)}/events`, { query: { limit: 25, camera: "door" } }),
      ]);
      const unknown = [...new Set(page.items.map((e) => e.usn).filter((u) => u && !names.has(u)))];
      await Promise.all(unknown.map((u) => api(`/students/${seg(u)}`).then((s) => names.set(u, s.name)).catch(() => names.set(u, u))));
      const running = classes.filter((c) => c.state === "in_session");
      replace(
        now,
        running.length
          ? running.map((c) => h("p", {}, "In class now: ", h("strong", {}, `${c.course_code} ${c.course_title}`), ` · ${hhmm(c.start_time)}–${hhmm(c.end_time)} ${zoneAbbr(room.timezone)} · `, h("a", { href: `#/register?course=${encodeURIComponent(c.course_code)}&date=${c.class_date}` }, "Open register")))
          : h("p", { class: "muted" }, "No class in this room now."),
      );
      replace(
        events,
        table(
          [
            { label: "Time", cell: (e) => timeIn(e.captured_at || e.created_at, room.timezone) },
            { label: "What happened", cell: (e) => OUTCOME_WORDS[e.outcome] || e.outcome.replaceAll("_", " ") },
            { label: "Student", cell: (e) => (e.usn ? h("a", { href: `#/student?usn=${encodeURIComponent(e.usn)}` }, names.get(e.usn) || e.usn) : "—") },
            { label: "Match confidence", cell: (e) => confidenceWord(e.similarity) || "—" },
          ],
          page.items,
          { empty: "Nobody at the door yet today.", caption: "Newest door-camera events" },
        ),
      );
      updated.textContent = "Refreshes every 5 seconds.";
    } catch (e) {
      updated.textContent = `Could not refresh: ${e.message}`;
    }
  }

  await poll();
  const timer = setInterval(poll, POLL_MS);
  return () => clearInterval(timer);
}

/** The room camera's live view, where the portal's config names its stream; else nothing. */
function streamOf(room, streams) {
  const url = room && typeof streams[room.room_id] === "string" ? streams[room.room_id] : "";
  if (!/^https?:\/\//.test(url)) return null;
  const note = h("p", { class: "muted small" }, "People in the room with their track number; a name appears once the door camera has recognised them.");
  const image = h("img", {
    src: url,
    class: "room-stream",
    alt: `Room camera of ${room.name}, live: each person boxed with their track number and, once known, their name`,
  });
  image.addEventListener("error", () => {
    note.textContent = "The room camera's view is not available now (the camera may be off).";
    image.remove();
  });
  return h("figure", { class: "card" }, h("h2", {}, "Room camera"), image, note);
}
