// Teachers: add a teacher (and their sign-in), choose the courses they teach.

import { api, seg } from "../api.js";
import { courses as listCourses } from "../data.js";
import { clearErrors, field, formError, h, replace, showErrors, table, toast } from "../dom.js";

function addTeacherForm(courses, reload) {
  const username = h("input", { name: "username", required: true, maxlength: 128, autocapitalize: "none", spellcheck: "false" });
  const name = h("input", { name: "name", required: true, maxlength: 200 });
  const email = h("input", { name: "email", type: "email", maxlength: 254 });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", maxlength: 64 });
  const boxes = courses.map((c) => ({ code: c.course_code, box: h("input", { type: "checkbox", name: "course", value: c.course_code, id: `teach-${c.course_code}` }) }));
  const form = h(
    "form",
    {
      class: "form-grid",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clearErrors(form);
        const login = username.value.trim().toLowerCase();
        try {
          await api("/teachers", { method: "POST", body: { username: login, name: name.value.trim(), email: email.value.trim() || null } });
        } catch (e) {
          showErrors(form, e, { 409: "A teacher with this sign-in name already exists." });
          return;
        }
        const problems = [];
        for (const { code, box } of boxes) {
          if (!box.checked) continue;
          try {
            await api(`/courses/${seg(code)}/teachers/${seg(login)}`, { method: "PUT", body: {} });
          } catch {
            problems.push(code);
          }
        }
        if (password.value) {
          try {
            await api("/accounts", { method: "POST", body: { username: login, role: "teacher", password: password.value } });
          } catch (e) {
            const message =
              e.status === 503
                ? "The teacher was added, but sign-ins cannot be created on this server (no account service)."
                : e.status === 409
                  ? "The teacher was added; a sign-in with this name already exists."
                  : "The teacher was added, but the password was not accepted: 12 to 64 characters, not starting or ending with a space.";
            showErrors(form, { fields: [{ field: "password", message }] });
            await reload();
            return;
          }
        }
        toast(`${name.value.trim()} added${problems.length ? `; not linked to ${problems.join(", ")}` : ""}.`);
        form.reset();
        await reload();
      },
    },
    formError(),
    field("Sign-in name", username, { hint: "What they type to sign in, e.g. tom." }),
    field("Full name", name),
    field("Email (optional)", email),
    field("Password (optional)", password, { hint: "Creates their sign-in now: 12 to 64 characters." }),
    h(
      "fieldset",
      { class: "span-all" },
      h("legend", {}, "Courses they teach"),
      boxes.length ? boxes.map(({ code, box }) => h("label", { class: "check", for: box.id }, box, ` ${code}`)) : h("p", { class: "muted" }, "No courses yet."),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add teacher")),
  );
  return h("details", { class: "card", open: true }, h("summary", {}, "Add a teacher"), form);
}

export async function render(root) {
  const list = h("div", {});
  const courses = await listCourses();
  async function reload() {
    const teachers = await api("/teachers");
    replace(
      list,
      table(
        [
          { label: "Teacher", cell: (t) => h("span", {}, h("strong", {}, t.name), h("span", { class: "usn" }, t.username)) },
          { label: "Email", cell: (t) => t.email || "—" },
          { label: "Courses", cell: (t) => t.courses.join(", ") || "None yet" },
        ],
        teachers,
        { empty: "No teachers yet.", caption: "Teachers" },
      ),
    );
  }
  replace(root, h("h1", {}, "Teachers"), addTeacherForm(courses, reload), list);
  await reload();
}
