// Students: search, add (admin), consent, enrollment status per pose, photo upload through a
// presigned POST straight to the bucket, and deletion of biometric data.

import { api, seg } from "../api.js";
import { badge, field, formatDateTime, h, replace, table, toast } from "../dom.js";

const PAGE = 25;

async function uploadPhoto(usn, pose, file) {
  const upload = await api(`/students/${seg(usn)}/enrollment/${seg(pose)}/upload`, { method: "POST" });
  if (file.size > upload.max_bytes) throw new Error(`The photo is larger than ${upload.max_bytes} bytes.`);
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append("file", file);
  const response = await fetch(upload.url, { method: "POST", body: form, credentials: "omit" });
  if (!response.ok) throw new Error(`The bucket refused the upload (${response.status}).`);
}

function consentForm(student, isAdmin, reload) {
  if (!isAdmin) return null;
  const givenBy = h("input", { name: "given_by", required: true, maxlength: 200, placeholder: "Who gave it (e.g. signed form #12)" });
  const givenAt = h("input", { type: "datetime-local", name: "given_at" });
  return h(
    "form",
    {
      class: "inline-form",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await api(`/students/${seg(student.usn)}/consent`, {
            method: "PUT",
            body: { given_by: givenBy.value, given_at: givenAt.value ? new Date(givenAt.value).toISOString() : null },
          });
          toast("Consent recorded.");
          await reload();
        } catch (e) {
          toast(e.message, { error: true });
        }
      },
    },
    field("Consent given by", givenBy),
    field("When (default now)", givenAt),
    h("button", { type: "submit" }, "Record consent"),
  );
}

async function renderDetail(panel, usn, isAdmin, reloadList) {
  const [student, enrollment] = await Promise.all([
    api(`/students/${seg(usn)}`),
    api(`/students/${seg(usn)}/enrollment`),
  ]);
  const reload = () => renderDetail(panel, usn, isAdmin, reloadList);
  const consent = student.consent_given_at
    ? h("p", {}, badge("consent recorded", "accepted"), ` ${formatDateTime(student.consent_given_at)} · ${student.consent_given_by ?? ""}`)
    : h("p", {}, badge("no consent", "rejected"), " Photos cannot be uploaded until consent is recorded.");
  const poseColumns = [
    { label: "Pose", cell: (p) => p.pose },
    { label: "Photo", cell: (p) => badge(p.status) },
    { label: "Faceprint", cell: (p) => (p.has_faceprint ? "yes" : "no") },
    { label: "Reason", class: "wrap", cell: (p) => p.reason ?? "" },
    { label: "Updated", cell: (p) => formatDateTime(p.updated_at) },
  ];
  if (isAdmin && student.consent_given_at) {
    poseColumns.push({
      label: "Upload",
      cell: (p) =>
        h("input", {
          type: "file",
          accept: "image/jpeg",
          "aria-label": `Photo for pose ${p.pose}`,
          onchange: async (event) => {
            const file = event.target.files[0];
            if (!file) return;
            try {
              await uploadPhoto(usn, p.pose, file);
              toast(`Uploaded ${p.pose}; enrollment runs in the background.`);
              setTimeout(reload, 3000);
            } catch (e) {
              toast(e.message, { error: true });
            }
          },
        }),
    });
  }
  replace(
    panel,
    h("h2", {}, `${student.name} (${student.usn})`),
    h(
      "p",
      { class: "muted" },
      `Section ${student.section ?? "—"} · ${student.email ?? "no email"} · `,
      h("a", { href: `#/history?usn=${encodeURIComponent(student.usn)}` }, "attendance history"),
    ),
    consent,
    student.consent_given_at && isAdmin
      ? h("details", {}, h("summary", { class: "muted small" }, "Record consent again"), consentForm(student, isAdmin, reload))
      : consentForm(student, isAdmin, reload),
    h("h3", {}, "Enrollment photos"),
    table(poseColumns, enrollment.poses),
    isAdmin
      ? h(
          "div",
          { class: "actions" },
          h(
            "button",
            {
              type: "button",
              class: "danger",
              onclick: async () => {
                if (!confirm(`Delete every faceprint, body print, enrollment photo and crop of ${student.usn} and withdraw consent?`)) return;
                try {
                  const result = await api(`/students/${seg(usn)}/biometrics`, { method: "DELETE" });
                  toast(
                    `Deleted ${result.faceprints_deleted} faceprints, ${result.body_prints_deleted} body prints, ${result.objects_deleted} photos and ${result.captures_deleted} crops (verified).`,
                  );
                  await reload();
                  await reloadList();
                } catch (e) {
                  toast(e.message, { error: true });
                }
              },
            },
            "Delete biometric data",
          ),
        )
      : null,
  );
}

function addStudentForm(reload) {
  const usn = h("input", { name: "usn", required: true, maxlength: 32, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,31}" });
  const name = h("input", { name: "name", required: true, maxlength: 200 });
  const email = h("input", { name: "email", type: "email", maxlength: 254 });
  const section = h("input", { name: "section", maxlength: 32 });
  return h(
    "details",
    { class: "card" },
    h("summary", {}, "Add a student"),
    h(
      "form",
      {
        class: "form-grid",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            await api("/students", {
              method: "POST",
              body: { usn: usn.value.trim(), name: name.value, email: email.value || null, section: section.value || null },
            });
            toast("Student added.");
            location.hash = `#/students?usn=${encodeURIComponent(usn.value.trim())}`;
            await reload();
          } catch (e) {
            toast(e.message, { error: true });
          }
        },
      },
      field("USN", usn),
      field("Name", name),
      field("Email", email),
      field("Section", section),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Add")),
    ),
  );
}

export async function render(root, params, ctx) {
  const isAdmin = ctx.me && ctx.me.role === "admin";
  const q = params.get("q") || "";
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const selected = params.get("usn") || "";
  const search = h("input", { type: "search", name: "q", value: q, maxlength: 100, placeholder: "USN or name" });
  const list = h("div", {});
  const detail = h("section", { class: "card detail", id: "student-detail" });

  const go = (changes) => {
    const next = new URLSearchParams({ q, offset: String(offset), usn: selected, ...changes });
    for (const [key, value] of [...next.entries()]) if (!value || value === "0") next.delete(key);
    location.hash = `#/students?${next}`;
  };

  async function loadList() {
    const page = await api("/students", { query: { q, limit: PAGE, offset } });
    replace(
      list,
      table(
        [
          { label: "USN", class: "nowrap", cell: (s) => h("a", { href: "#", onclick: (e) => (e.preventDefault(), go({ usn: s.usn })) }, s.usn) },
          { label: "Name", class: "wrap", cell: (s) => s.name },
          { label: "Section", cell: (s) => s.section ?? "—" },
          { label: "Consent", cell: (s) => (s.consent_given_at ? badge("yes", "accepted") : badge("no", "rejected")) },
        ],
        page.items,
        { empty: q ? "No student matches." : "No students yet." },
      ),
      h(
        "div",
        { class: "pager" },
        h("button", { type: "button", class: "secondary small", disabled: offset === 0, onclick: () => go({ offset: String(Math.max(0, offset - PAGE)) }) }, "Previous"),
        h("span", { class: "muted small" }, `${page.total ? offset + 1 : 0}–${offset + page.items.length} of ${page.total}`),
        h("button", { type: "button", class: "secondary small", disabled: offset + PAGE >= page.total, onclick: () => go({ offset: String(offset + PAGE) }) }, "Next"),
      ),
    );
  }

  replace(
    root,
    h("h1", {}, "Students"),
    h(
      "form",
      { class: "card inline-form", onsubmit: (e) => (e.preventDefault(), go({ q: search.value.trim(), offset: "0", usn: "" })) },
      field("Search", search),
      h("button", { type: "submit" }, "Search"),
    ),
    isAdmin ? addStudentForm(loadList) : null,
    h("div", { class: "split" }, h("div", {}, list), detail),
  );
  await loadList();
  if (selected) await renderDetail(detail, selected, isAdmin, loadList);
  else replace(detail, h("p", { class: "muted" }, "Pick a student to see consent and enrollment status."));
}
