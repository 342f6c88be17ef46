// Courses: find one by code or title; admins add courses and choose their teachers.

import { api, seg } from "../api.js";
import { courses as listCourses } from "../data.js";
import { clearErrors, field, formError, h, replace, select, showErrors, table, toast } from "../dom.js";

function addCourseForm(reload) {
  const code = h("input", { name: "course_code", required: true, maxlength: 32, autocapitalize: "characters" });
  const title = h("input", { name: "title", required: true, maxlength: 200 });
  const form = h(
    "form",
    {
      class: "form-grid",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clearErrors(form);
        try {
          const created = await api("/courses", { method: "POST", body: { course_code: code.value.trim(), title: title.value.trim() } });
          toast(`Course ${created.course_code} added.`);
          form.reset();
          await reload(created.course_code);
        } catch (e) {
          showErrors(form, e, { 409: "A course with this code already exists." });
        }
      },
    },
    formError(),
    field("Course code", code, { hint: "For example CS501." }),
    field("Title", title, { hint: "For example Computer Vision." }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add course")),
  );
  return h("details", { class: "card" }, h("summary", {}, "Add a course"), form);
}

function teacherForm(course, teachers, reload) {
  const teacher = select("username", [["", "Choose a teacher"], ...teachers.map((t) => [t.username, `${t.name} (${t.username})`])], "");
  teacher.setAttribute("aria-label", `Teacher to add to ${course.course_code}`);
  const form = h(
    "form",
    {
      class: "inline-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        if (!teacher.value) {
          showErrors(form, { fields: [{ field: "username", message: "Choose a teacher." }] });
          return;
        }
        try {
          await api(`/courses/${seg(course.course_code)}/teachers/${seg(teacher.value)}`, { method: "PUT", body: {} });
          toast(`${teacher.value} now teaches ${course.course_code}.`);
          await reload(course.course_code);
        } catch (e) {
          showErrors(form, e);
        }
      },
    },
    formError(),
    field(`Add a teacher to ${course.course_code}`, teacher),
    h("button", { type: "submit", class: "small", "aria-label": `Add teacher to ${course.course_code}` }, "Add teacher"),
  );
  return form;
}

export async function render(root, params, ctx) {
  const list = h("div", { id: "course-list" });
  const filter = h("input", { type: "search", name: "q", placeholder: "Code or title", value: params.get("q") || "", id: "course-filter" });
  let all = [];
  let teachers = [];

  async function reload() {
    all = await listCourses();
    if (ctx.isAdmin) teachers = await api("/teachers");
    draw();
  }

  function draw() {
    const t = filter.value.trim().toLowerCase();
    const shown = all.filter((c) => !t || c.course_code.toLowerCase().includes(t) || c.title.toLowerCase().includes(t));
    const teaching = (code) => teachers.filter((x) => x.courses.includes(code)).map((x) => x.name);
    replace(
      list,
      table(
        [
          { label: "Course", cell: (c) => h("a", { href: `#/course?code=${encodeURIComponent(c.course_code)}` }, `${c.course_code} ${c.title}`) },
          { label: "Register", cell: (c) => h("a", { href: `#/register?course=${encodeURIComponent(c.course_code)}`, "aria-label": `Today's register of ${c.course_code}` }, "Today's register") },
          ...(ctx.isAdmin
            ? [
                { label: "Teachers", cell: (c) => teaching(c.course_code).join(", ") || "No teacher yet" },
                { label: "Add teacher", cell: (c) => teacherForm(c, teachers, reload) },
              ]
            : []),
        ],
        shown,
        { empty: t ? "No course matches." : ctx.isAdmin ? "No courses yet. Add the first one above." : "You teach no courses yet." },
      ),
    );
  }

  filter.addEventListener("input", draw);
  replace(
    root,
    h("h1", {}, ctx.isAdmin ? "Courses" : "My courses"),
    ctx.isAdmin ? addCourseForm(reload) : null,
    h("div", { class: "card toolbar" }, h("div", { class: "field" }, h("label", { for: "course-filter" }, "Find a course"), filter)),
    list,
  );
  await reload();
}
