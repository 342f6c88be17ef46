// Cameras: each room's door camera (cam1) and room camera (cam2), when each was last heard
// from, in the room's time; a room camera quiet during a class stands out.

import { api } from "../api.js";
import { dateTimeIn, h, replace, zoneAbbr } from "../dom.js";

const STATE_WORDS = { recent: "Working", quiet: "Quiet", never: "Never heard from", not_set: "Not set up" };
const ROLE_WORDS = { door: "Door camera", room: "Room camera" };

export async function render(root) {
  const rooms = await api("/cameras");
  replace(
    root,
    h("h1", {}, "Cameras"),
    h("p", { class: "muted" }, "When each camera last sent something. A door camera is quiet when nobody comes in; a room camera sends every few seconds while it runs."),
    rooms.length
      ? h(
          "ul",
          { class: "grid camera-grid" },
          rooms.map((room) =>
            h(
              "li",
              { class: "card" },
              h("h2", {}, room.name, " ", h("span", { class: "muted small" }, `${room.room_id} · ${zoneAbbr(room.timezone)} (${room.timezone})`)),
              room.in_session ? h("p", { class: "small" }, "A class is on now.") : null,
              h(
                "ul",
                { class: "camera-list" },
                room.cameras.map((c) => {
                  const alarming = c.state === "never" || (c.state === "quiet" && room.in_session && c.role === "room");
                  return h(
                    "li",
                    { class: alarming ? "camera alarm" : "camera" },
                    h("strong", {}, ROLE_WORDS[c.role]),
                    h("span", { class: `badge badge-cam-${c.state}` }, STATE_WORDS[c.state]),
                    h("span", { class: "small" }, c.camera_id ? `Name: ${c.camera_id}` : "No camera name set for this room"),
                    h("span", { class: "small" }, c.last_seen_at ? `Last heard from: ${dateTimeIn(c.last_seen_at, room.timezone)}` : "Nothing received yet"),
                  );
                }),
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, "No rooms yet."),
  );
}
