// Live room view: the room's classes today and its newest recognition events, polled.

import { api, seg } from "../api.js";
import { badge, field, formatDateTime, h, hhmm, replace, select, table } from "../dom.js";

const POLL_MS = 5000;

export async function render(root, params) {
  const rooms = await api("/rooms");
  const roomId = params.get("room") || (rooms[0] && rooms[0].room_id) || "";
  const room = rooms.find((r) => r.room_id === roomId);
  const roomSelect = select("room", rooms.map((r) => [r.room_id, `${r.room_id} · ${r.name}`]), roomId);
  roomSelect.addEventListener("change", () => (location.hash = `#/live?room=${encodeURIComponent(roomSelect.value)}`));
  const now = h("div", { class: "card" });
  const events = h("div", { id: "live-events" });
  const updated = h("span", { class: "muted small", "aria-live": "polite" });
  replace(
    root,
    h("div", { class: "page-head" }, h("h1", {}, "Live room"), h("div", { class: "inline-form" }, field("Room", roomSelect))),
    now,
    h("div", { class: "page-head" }, h("h2", {}, "Recognitions"), updated),
    events,
  );
  if (!room) {
    replace(events, h("p", { class: "empty" }, "No rooms yet."));
    return undefined;
  }

  async function poll() {
    try {
      const [classes, page] = await Promise.all([
        api("/classes/today", { query: { room_id: roomId } }),
        api(`/rooms/${seg(roomId)}/events`, { query: { limit: 25 } }),
      ]);
      const running = classes.filter((c) => c.state === "in_session");
      replace(
        now,
        running.length
          ? running.map((c) =>
              h(
                "p",
                {},
                badge("in session", "in_session"),
                " ",
                h("strong", {}, c.course_code),
                ` ${c.course_title} · ${hhmm(c.start_time)}–${hhmm(c.end_time)} · ${c.attendance_count} recorded`,
              ),
            )
          : h("p", { class: "muted" }, "No class in session in this room now."),
      );
      replace(
        events,
        table(
          [
            { label: "Captured (room time)", class: "nowrap", cell: (e) => formatDateTime(e.captured_at || e.created_at, room.timezone) },
            { label: "Camera", cell: (e) => e.camera_id ?? "—" },
            { label: "Outcome", cell: (e) => badge(e.outcome) },
            {
              label: "Student",
              cell: (e) => (e.usn ? h("a", { href: `#/history?usn=${encodeURIComponent(e.usn)}` }, e.usn) : "—"),
            },
            { label: "Similarity", class: "num", cell: (e) => (e.similarity == null ? "—" : e.similarity.toFixed(3)) },
            { label: "Detail", class: "wrap", cell: (e) => e.detail ?? "" },
          ],
          page.items,
          { empty: "No recognitions in this room yet." },
        ),
      );
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      updated.textContent = `Update failed: ${e.message}`;
    }
  }

  await poll();
  const timer = setInterval(poll, POLL_MS);
  return () => clearInterval(timer);
}
