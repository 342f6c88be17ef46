// Students: find one by name or USN. Admins also add students, record consent, see each pose's
// enrollment photo as a thumbnail, upload several photos at once (drag and drop or choose), and
// delete a student's face data, which ends on the deletion receipt page.

import { api, seg } from "../api.js";
import { clearErrors, dateTimeIn, field, formError, h, notice, replace, showErrors, table, toast } from "../dom.js";
import { ENROLLMENT_WORDS } from "../words.js";
import { studentPicker } from "./student.js";

const POSES = ["frontal", "left", "right", "up", "down"];
const POSE_WORDS = { frontal: "Front", left: "Left", right: "Right", up: "Up", down: "Down" };
const ADMIN_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

async function uploadPhoto(usn, pose, file) {
  const upload = await api(`/students/${seg(usn)}/enrollment/${seg(pose)}/upload`, { method: "POST" });
  if (file.size > upload.max_bytes) throw new Error(`larger than ${Math.floor(upload.max_bytes / 1_000_000)} MB`);
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append("file", file);
  let response;
  try {
    response = await fetch(upload.url, { method: "POST", body: form, credentials: "omit" });
  } catch {
    throw new Error("the photo store could not be reached");
  }
  if (!response.ok) throw new Error("the photo store refused it");
}

/** The pose a file is for: named in its file name (front/frontal, left, ...), else the next free one. */
function guessPose(name, taken) {
  const lower = name.toLowerCase();
  const named = POSES.find((p) => lower.includes(p) || (p === "frontal" && lower.includes("front")));
  if (named && !taken.has(named)) return named;
  return POSES.find((p) => !taken.has(p)) || null;
}

function consentForm(student, reload) {
  const givenBy = h("input", { name: "given_by", required: true, maxlength: 200 });
  const form = h(
    "form",
    {
      class: "inline-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clearErrors(form);
        if (!givenBy.value.trim()) {
          showErrors(form, { fields: [{ field: "given_by", message: "Say who gave consent, or where it is written (for example: signed form #12)." }] });
          return;
        }
        try {
          await api(`/students/${seg(student.usn)}/consent`, { method: "PUT", body: { given_by: givenBy.value.trim() } });
          toast(`Consent recorded for ${student.name}.`);
          await reload();
        } catch (e) {
          showErrors(form, e);
        }
      },
    },
    formError(),
    field(`Consent of ${student.name} given by`, givenBy, { hint: "Who gave it, or where it is written (signed form #12)." }),
    h("button", { type: "submit" }, "Record consent"),
  );
  return form;
}

function dropZone(student, reload) {
  const chosen = h("ul", { class: "drop-list" });
  const result = h("div", { "aria-live": "polite" });
  const input = h("input", { type: "file", accept: "image/jpeg", multiple: true, id: `photos-${student.usn}`, class: "visually-hidden" });
  let files = [];

  const drawChosen = () => {
    replace(
      chosen,
      files.map((entry, i) => {
        const poseSelect = h(
          "select",
          { "aria-label": `Pose of ${entry.file.name} for ${student.name}` },
          POSES.map((p) => h("option", { value: p, selected: p === entry.pose }, POSE_WORDS[p])),
        );
        poseSelect.addEventListener("change", () => (entry.pose = poseSelect.value));
        return h(
          "li",
          {},
          h("img", { src: entry.preview, alt: `Chosen photo ${entry.file.name}`, class: "thumb" }),
          h("span", { class: "file-name" }, entry.file.name),
          poseSelect,
          h("button", { type: "button", class: "small secondary", "aria-label": `Remove ${entry.file.name}`, onclick: () => (files.splice(i, 1), drawChosen()) }, "Remove"),
        );
      }),
    );
    uploadButton.disabled = !files.length;
  };

  const add = (list) => {
    const taken = new Set(files.map((f) => f.pose));
    for (const file of list) {
      if (!/jpe?g$/i.test(file.name) && file.type !== "image/jpeg") {
        replace(result, notice(`${file.name} is not a JPEG photo; it was left out.`));
        continue;
      }
      const pose = guessPose(file.name, taken) || "frontal";
      taken.add(pose);
      files.push({ file, pose, preview: URL.createObjectURL(file) });
    }
    drawChosen();
  };

  input.addEventListener("change", () => add([...input.files]));
  const zone = h(
    "div",
    {
      class: "drop-zone",
      ondragover: (e) => (e.preventDefault(), zone.classList.add("drag")),
      ondragleave: () => zone.classList.remove("drag"),
      ondrop: (e) => {
        e.preventDefault();
        zone.classList.remove("drag");
        add([...e.dataTransfer.files]);
      },
    },
    h("p", {}, "Drop photos here, or "),
    h("label", { for: input.id, class: "button secondary" }, `Choose photos of ${student.name}`),
    input,
    h("p", { class: "hint" }, "JPEG photos; a file named …front…, …left…, …right…, …up… or …down… goes to that pose."),
  );
  const uploadButton = h(
    "button",
    {
      type: "button",
      disabled: true,
      onclick: async () => {
        uploadButton.disabled = true;
        const outcome = [];
        for (const entry of files) {
          try {
            await uploadPhoto(student.usn, entry.pose, entry.file);
            outcome.push({ ok: true, text: `${POSE_WORDS[entry.pose]}: uploaded` });
          } catch (e) {
            outcome.push({ ok: false, text: `${POSE_WORDS[entry.pose]} (${entry.file.name}): not uploaded — ${e.message}` });
          }
        }
        files = [];
        drawChosen();
        replace(result, h("ul", { class: "upload-result" }, outcome.map((o) => h("li", { class: o.ok ? "ok" : "bad" }, o.text))), h("p", { class: "muted small" }, "Each photo is checked in the background; the poses above update in a few seconds."));
        toast(`${outcome.filter((o) => o.ok).length} photo(s) uploaded for ${student.name}.`);
        setTimeout(reload, 3000);
      },
    },
    "Upload photos",
  );
  return h("div", { class: "uploader" }, zone, chosen, h("div", { class: "actions" }, uploadButton), result);
}

function poseCards(student, enrollment, isAdmin) {
  return h(
    "ul",
    { class: "poses" },
    enrollment.poses.map((p) => {
      const img = h("div", { class: "thumb-box" }, h("span", { class: "muted small" }, "No photo"));
      const state = h("span", { class: `badge badge-${p.status}` }, ENROLLMENT_WORDS[p.status] || p.status);
      // The photo may be in the store before the background check has looked at it: ask anyway.
      if (isAdmin && student.consent_given_at) {
        api(`/students/${seg(student.usn)}/enrollment/${seg(p.pose)}/photo`)
          .then((link) => {
            replace(img, h("img", { src: link.url, alt: `${POSE_WORDS[p.pose] || p.pose} photo of ${student.name}`, class: "thumb" }));
            if (p.status === "missing") state.textContent = "Uploaded, waiting to be checked";
          })
          .catch(() => replace(img, h("span", { class: "muted small" }, "No photo")));
      }
      return h(
        "li",
        { class: `pose pose-${p.status}` },
        img,
        h("strong", {}, POSE_WORDS[p.pose] || p.pose),
        state,
        p.reason ? h("span", { class: "small" }, p.reason) : null,
      );
    }),
  );
}

function deleteControl(student) {
  const wrap = h("div", { class: "danger-zone" });
  const start = () => {
    const confirmRow = h(
      "div",
      { class: "confirm", role: "group", "aria-label": `Confirm deleting the face data of ${student.name}` },
      h("p", {}, `Delete every photo of ${student.name} (${student.usn}) and everything learnt from them, and withdraw consent? Attendance is kept. This cannot be undone.`),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: async (event) => {
            event.target.disabled = true;
            try {
              const result = await api(`/students/${seg(student.usn)}/biometrics`, { method: "DELETE" });
              sessionStorage.setItem(`classsight.receipt.${student.usn}`, JSON.stringify({ ...result, name: student.name, deleted_at: new Date().toISOString() }));
              location.hash = `#/receipt?usn=${encodeURIComponent(student.usn)}`;
            } catch (e) {
              replace(wrap, notice(`The face data of ${student.name} was not deleted: ${e.message}`), h("button", { type: "button", class: "danger", onclick: start }, "Try again"));
            }
          },
        },
        `Yes, delete the face data of ${student.name}`,
      ),
      h("button", { type: "button", class: "secondary", onclick: () => (draw(), wrap.querySelector("button").focus()) }, "Cancel"),
    );
    replace(wrap, confirmRow);
    confirmRow.querySelector("button").focus();
  };
  const draw = () => replace(wrap, h("button", { type: "button", class: "danger", onclick: start }, `Delete face data of ${student.name}`));
  draw();
  return wrap;
}

async function renderDetail(panel, usn, isAdmin) {
  const [student, enrollment] = await Promise.all([api(`/students/${seg(usn)}`), api(`/students/${seg(usn)}/enrollment`)]);
  const reload = () => renderDetail(panel, usn, isAdmin);
  replace(
    panel,
    h("h2", {}, `${student.name}`),
    h("p", { class: "muted" }, `USN ${student.usn} · Section ${student.section ?? "—"} · ${student.email ?? "no email"} · `, h("a", { href: `#/student?usn=${encodeURIComponent(student.usn)}` }, "attendance")),
    student.consent_given_at
      ? h("p", {}, h("span", { class: "badge badge-accepted" }, "Consent recorded"), ` ${dateTimeIn(student.consent_given_at, ADMIN_ZONE)} · ${student.consent_given_by ?? ""}`)
      : h("div", {}, h("p", {}, h("span", { class: "badge badge-rejected" }, "No consent"), " Photos can be taken only after consent is recorded."), isAdmin ? consentForm(student, reload) : null),
    h("h3", {}, "Face photo set"),
    poseCards(student, enrollment, isAdmin),
    isAdmin && student.consent_given_at ? dropZone(student, reload) : null,
    isAdmin ? h("h3", {}, "Face data") : null,
    isAdmin ? deleteControl(student) : null,
  );
}

function addStudentForm() {
  const usn = h("input", { name: "usn", required: true, maxlength: 32, autocapitalize: "characters" });
  const name = h("input", { name: "name", required: true, maxlength: 200 });
  const email = h("input", { name: "email", type: "email", maxlength: 254 });
  const section = h("input", { name: "section", maxlength: 32 });
  const form = h(
    "form",
    {
      class: "form-grid",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clearErrors(form);
        try {
          const created = await api("/students", {
            method: "POST",
            body: { usn: usn.value.trim(), name: name.value.trim(), email: email.value.trim() || null, section: section.value.trim() || null },
          });
          toast(`${created.name} added.`);
          location.hash = `#/students?usn=${encodeURIComponent(created.usn)}`;
        } catch (e) {
          showErrors(form, e, { 409: "A student with this USN already exists." });
        }
      },
    },
    formError(),
    field("USN", usn, { hint: "For example 1MS21CS001." }),
    field("Name", name),
    field("Email (optional)", email),
    field("Section (optional)", section),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add student")),
  );
  return h("details", { class: "card" }, h("summary", {}, "Add a student"), form);
}

export async function render(root, params, ctx) {
  const selected = params.get("usn") || "";
  const q = params.get("q") || "";
  const detail = h("section", { class: "card detail", id: "student-detail", "aria-label": "Selected student" });
  const list = h("div", { id: "student-list" });
  const chooser = studentPicker((item) => (location.hash = `#/students?usn=${encodeURIComponent(item.value)}`));
  replace(
    root,
    h("h1", {}, "Students"),
    h("div", { class: "card toolbar" }, chooser),
    ctx.isAdmin ? addStudentForm() : null,
    h("div", { class: "split" }, list, detail),
  );
  const page = await api("/students", { query: { q, limit: 25 } });
  replace(
    list,
    table(
      [
        { label: "Student", cell: (s) => h("a", { href: `#/students?usn=${encodeURIComponent(s.usn)}` }, s.name) },
        { label: "USN", cell: (s) => s.usn },
        { label: "Consent", cell: (s) => (s.consent_given_at ? "Recorded" : "Not yet") },
      ],
      page.items,
      { empty: "No students yet.", caption: "Students" },
    ),
    page.total > page.items.length ? h("p", { class: "muted small" }, `Showing ${page.items.length} of ${page.total}; search to find others.`) : null,
  );
  if (selected) await renderDetail(detail, selected, ctx.isAdmin);
  else replace(detail, h("p", { class: "muted" }, "Find or pick a student to see their consent and face photo set."));
}
