// Rooms: add a room with its door and room cameras and its time zone; change them.

import { api, seg } from "../api.js";
import { rooms as listRooms } from "../data.js";
import { clearErrors, field, formError, h, replace, showErrors, table, toast } from "../dom.js";

function zones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC", "Asia/Kolkata"];
  }
}

function zoneSelect(selected) {
  const list = zones();
  if (!list.includes("UTC")) list.unshift("UTC");
  return h("select", { name: "timezone" }, list.map((z) => h("option", { value: z, selected: z === selected }, z)));
}

function roomForm(room, onDone) {
  const isNew = !room;
  const roomId = isNew ? h("input", { name: "room_id", required: true, maxlength: 32 }) : null;
  const name = h("input", { name: "name", required: true, maxlength: 200, value: room ? room.name : "" });
  const cam1 = h("input", { name: "cam1_id", maxlength: 64, value: room ? room.cam1_id || "" : "" });
  const cam2 = h("input", { name: "cam2_id", maxlength: 64, value: room ? room.cam2_id || "" : "" });
  const tz = zoneSelect(room ? room.timezone : Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const label = room ? ` of ${room.name}` : "";
  const form = h(
    "form",
    {
      class: "form-grid",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clearErrors(form);
        const body = { name: name.value.trim(), cam1_id: cam1.value.trim() || null, cam2_id: cam2.value.trim() || null, timezone: tz.value };
        try {
          if (isNew) await api("/rooms", { method: "POST", body: { room_id: roomId.value.trim(), ...body } });
          else await api(`/rooms/${seg(room.room_id)}`, { method: "PATCH", body });
          toast(isNew ? `Room ${roomId.value.trim()} added.` : `${room.name} saved.`);
          if (isNew) form.reset();
          await onDone();
        } catch (e) {
          showErrors(form, e, { 409: isNew ? "A room with this id, or a camera with one of these names, already exists." : "One of these camera names is already used by another room." });
        }
      },
    },
    formError(),
    roomId ? field("Room id", roomId, { hint: "Short, no spaces: R101." }) : null,
    field(`Name${label}`, name, { hint: isNew ? "As people say it: Room 101." : null }),
    field(`Door camera${label}`, cam1, { hint: "The door camera's name (cam1), e.g. R101-door." }),
    field(`Room camera${label}`, cam2, { hint: "The room camera's name (cam2), e.g. R101-room." }),
    field(`Time zone${label}`, tz, { hint: "Every time of this room is shown in it." }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, isNew ? "Add room" : `Save ${room.name}`)),
  );
  return form;
}

export async function render(root) {
  const list = h("div", {});
  async function reload() {
    const all = await listRooms(true);
    replace(
      list,
      table(
        [
          { label: "Room", cell: (r) => h("span", {}, h("strong", {}, r.name), h("span", { class: "usn" }, r.room_id)) },
          { label: "Time zone", cell: (r) => r.timezone },
          { label: "Door camera", cell: (r) => r.cam1_id || "Not set" },
          { label: "Room camera", cell: (r) => r.cam2_id || "Not set" },
          { label: "Change", cell: (r) => h("details", {}, h("summary", {}, `Change ${r.name}`), roomForm(r, reload)) },
        ],
        all,
        { empty: "No rooms yet. Add the first one above.", caption: "Rooms" },
      ),
    );
  }
  replace(root, h("h1", {}, "Rooms"), h("details", { class: "card", open: true }, h("summary", {}, "Add a room"), roomForm(null, reload)), list);
  await reload();
}
