// Terms and holidays: a term's first and last day and its days off. The class sessions follow
// from the timetable; a day off cancels the sessions it falls on.

import { api, seg } from "../api.js";
import { clearErrors, field, formError, h, longDate, replace, showErrors, table, toast } from "../dom.js";

function termForm(reload) {
  const name = h("input", { name: "name", required: true, maxlength: 64 });
  const start = h("input", { name: "start_date", type: "date", required: true });
  const end = h("input", { name: "end_date", type: "date", required: true });
  const form = h(
    "form",
    {
      class: "form-grid",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clearErrors(form);
        const missing = [];
        if (!name.value.trim()) missing.push({ field: "name", message: "Give the term a name, for example 2026 Odd Semester." });
        if (!start.value) missing.push({ field: "start_date", message: "Enter the term's first day." });
        if (!end.value) missing.push({ field: "end_date", message: "Enter the term's last day." });
        if (missing.length) return showErrors(form, { fields: missing });
        try {
          const term = await api("/terms", { method: "POST", body: { name: name.value.trim(), start_date: start.value, end_date: end.value } });
          toast(`${term.name} added with ${term.generated ? term.generated.planned : 0} classes from the timetable.`);
          form.reset();
          await reload();
        } catch (e) {
          if (e.status === 409) showErrors(form, { fields: [{ field: "start_date", message: "These dates overlap another term, or a term has this name already." }] });
          else showErrors(form, e);
        }
      },
    },
    formError(),
    field("Name", name, { hint: "For example 2026 Odd Semester." }),
    field("First day", start),
    field("Last day", end),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Add term")),
  );
  return h("details", { class: "card", open: true }, h("summary", {}, "Add a term"), form);
}

function dayOffForm(term, reload) {
  const day = h("input", { name: "day", type: "date", required: true, min: term.start_date, max: term.end_date });
  const reason = h("input", { name: "reason", required: true, maxlength: 200 });
  const form = h(
    "form",
    {
      class: "inline-form",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        clearErrors(form);
        const missing = [];
        if (!day.value) missing.push({ field: "day", message: "Pick the day." });
        if (!reason.value.trim()) missing.push({ field: "reason", message: "Say why there is no class, for example Diwali." });
        if (missing.length) return showErrors(form, { fields: missing });
        if (day.value < term.start_date || day.value > term.end_date) {
          return showErrors(form, { fields: [{ field: "day", message: "This day is outside the term's dates." }] });
        }
        try {
          await api(`/terms/${seg(term.term_id)}/days-off/${seg(day.value)}`, { method: "PUT", body: { reason: reason.value.trim() } });
          toast(`${longDate(day.value)} is a day off in ${term.name}.`);
          await reload();
        } catch (e) {
          showErrors(form, e);
        }
      },
    },
    formError(),
    field(`Day off in ${term.name}`, day),
    field(`Why (${term.name})`, reason, { hint: "For example Diwali." }),
    h("button", { type: "submit", "aria-label": `Add day off to ${term.name}` }, "Add day off"),
  );
  return form;
}

export async function render(root) {
  const list = h("div", { id: "term-list" });
  async function reload() {
    const terms = await api("/terms");
    replace(
      list,
      terms.length
        ? terms.map((term) =>
            h(
              "section",
              { class: "card" },
              h("h2", {}, term.name),
              h("p", { class: "muted" }, `${longDate(term.start_date)} to ${longDate(term.end_date)} · ${term.sessions.scheduled || 0} classes planned, ${term.sessions.cancelled || 0} cancelled`),
              h("h3", {}, "Days off"),
              table(
                [
                  { label: "Day", cell: (d) => longDate(d.day) },
                  { label: "Why", cell: (d) => d.reason },
                  {
                    label: "Remove",
                    cell: (d) =>
                      h(
                        "button",
                        {
                          type: "button",
                          class: "small danger",
                          "aria-label": `Remove day off ${longDate(d.day)}`,
                          onclick: async () => {
                            await api(`/terms/${seg(term.term_id)}/days-off/${seg(d.day)}`, { method: "DELETE" });
                            toast(`${longDate(d.day)} is a teaching day again.`);
                            await reload();
                          },
                        },
                        "Remove",
                      ),
                  },
                ],
                term.days_off,
                { empty: "No days off yet.", caption: `Days off in ${term.name}` },
              ),
              dayOffForm(term, reload),
            ),
          )
        : h("p", { class: "empty" }, "No terms yet. Add the first one above."),
    );
  }
  replace(root, h("h1", {}, "Terms and holidays"), h("p", { class: "muted" }, "Classes come from the timetable for every teaching day of a term; a day off cancels that day's classes."), termForm(reload), list);
  await reload();
}
