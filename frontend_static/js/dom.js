// DOM helpers. Data is only ever placed with text nodes, textContent or setAttribute on
// non-URL attributes: nothing from the API is parsed as HTML.

import { plainFieldError } from "./words.js";

/**
 * Create an element. `attrs`: class, on<event> handlers, dataset, other attributes;
 * children: nodes or values (values become text nodes).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append values as text and nodes as nodes. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A page-unique id with a readable prefix. */
export function newId(prefix = "id") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * A table from column definitions [{label, cell(row) -> value|Node, class?}] and rows. Each cell
 * carries its column's label, so that on a phone (CSS) every row becomes a card of label: value.
 */
export function table(columns, rows, { empty = "Nothing to show.", caption, id, rowAttrs } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    { class: "list-table", id },
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
    h(
      "tbody",
      {},
      rows.map((row) =>
        h(
          "tr",
          rowAttrs ? rowAttrs(row) : {},
          columns.map((c) => h("td", { class: c.class, dataset: { label: c.label } }, c.cell(row))),
        ),
      ),
    ),
  );
}

/** A coloured badge for a word; `kind` picks the colour. */
export function badge(text, kind) {
  return h("span", { class: `badge badge-${String(kind || text).replace(/[^a-z_]/g, "")}` }, text);
}

/**
 * A labelled form field with a place for its error (announced, and tied to the input with
 * aria-describedby). `hint` is shown under the label.
 */
export function field(label, input, { hint } = {}) {
  if (!input.id) input.id = newId(input.name || "field");
  const errorId = `${input.id}-error`;
  const hintId = hint ? `${input.id}-hint` : null;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ");
  input.setAttribute("aria-describedby", describedBy);
  return h(
    "div",
    { class: "field", dataset: { field: input.name || "" } },
    h("label", { for: input.id }, label),
    hint ? h("span", { class: "hint", id: hintId }, hint) : null,
    input,
    h("span", { class: "field-error", id: errorId, hidden: true }),
  );
}

/** Clear a form's field errors and its form-level message. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.textContent = "";
    el.hidden = true;
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const box = form.querySelector(".form-error");
  if (box) {
    box.textContent = "";
    box.hidden = true;
  }
}

/**
 * Show an ApiError on a form: each validation entry next to its field (focus goes to the first),
 * anything else in the form's message box. `messages` words statuses for this form
 * ({409: "A room with this id already exists."}); unknown fields fall back to the box.
 */
export function showErrors(form, error, messages = {}) {
  clearErrors(form);
  const leftover = [];
  let first = null;
  let entries = null;
  if (error.fields && error.fields.length) entries = error.fields;
  else if (error.status === 422 && Array.isArray(error.raw)) entries = error.raw.map(plainFieldError);
  if (entries) {
    for (const { field: name, message } of entries) {
      if (placeFieldError(form, name, message, leftover) && !first) first = form.querySelector(`[name="${name}"]`);
    }
  } else {
    leftover.push(messages[error.status] || error.message);
  }
  const box = form.querySelector(".form-error");
  if (leftover.length && box) {
    box.textContent = [...new Set(leftover)].join(" ");
    box.hidden = false;
  }
  if (first) first.focus();
  else if (box && leftover.length) box.focus();
}

function placeFieldError(form, name, message, leftover) {
  const input = name ? form.querySelector(`[name="${name}"]`) : null;
  const slot = input ? form.querySelector(`#${CSS.escape(input.id)}-error`) : null;
  if (!input || !slot) {
    leftover.push(message);
    return false;
  }
  slot.textContent = message;
  slot.hidden = false;
  input.setAttribute("aria-invalid", "true");
  return true;
}

/** The form-level message box (role=alert); put it first in a form. */
export function formError() {
  return h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true });
}

/** A `<select>` of [value, label] pairs. */
export function select(name, options, selected) {
  return h("select", { name }, options.map(([value, label]) => h("option", { value, selected: value === selected }, label)));
}

let toastTimer = null;
/** A short confirmation at the bottom of the page (errors go next to their field instead). */
export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 4000);
}

/** A page-level problem that does not replace the page: shown above its content. */
export function notice(message, kind = "error") {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
}

// --- dates and times, always in a room's zone and labelled with it ----------------------------

/** "IST" or "GMT+5:30" for a zone at a moment. */
export function zoneAbbr(timeZone, at = new Date()) {
  try {
    const part = new Intl.DateTimeFormat(undefined, { timeZone, timeZoneName: "short" })
      .formatToParts(at)
      .find((p) => p.type === "timeZoneName");
    return part ? part.value : timeZone;
  } catch {
    return timeZone;
  }
}

/** "09:02 IST": the time of an ISO moment in `timeZone`, labelled; an em dash for none. */
export function timeIn(iso, timeZone) {
  if (!iso) return "—";
  const at = new Date(iso);
  const text = at.toLocaleTimeString("en-GB", { timeZone, hour: "2-digit", minute: "2-digit" });
  return `${text} ${zoneAbbr(timeZone, at)}`;
}

/** "24 Nov 2026, 09:02 IST". */
export function dateTimeIn(iso, timeZone) {
  if (!iso) return "—";
  const at = new Date(iso);
  const text = at.toLocaleString("en-GB", { timeZone, day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
  return `${text} ${zoneAbbr(timeZone, at)}`;
}

/** "Tue 24 Nov 2026" for a YYYY-MM-DD date (a calendar day: no zone shift). */
export function longDate(isoDate) {
  if (!isoDate) return "—";
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString("en-GB", { timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric" });
}

/** Today's date (YYYY-MM-DD) in `timeZone`. */
export function todayIn(timeZone) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
  return parts;
}

/** HH:MM of a "HH:MM:SS" room-local time. */
export function hhmm(time) {
  return time ? time.slice(0, 5) : "—";
}

export const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/**
 * A search box that finds one item by typing part of its name or code. `search(text)` resolves
 * to [{value, label, detail?}]; `onPick(item)` gets the choice. Keyboard: arrows move through the
 * results, Enter picks, Escape closes.
 */
export function picker({ label, name, placeholder, search, onPick, initial = "" }) {
  const listId = newId(`${name}-results`);
  const input = h("input", {
    type: "search",
    name,
    value: initial,
    placeholder,
    autocomplete: "off",
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": listId,
  });
  const list = h("ul", { class: "picker-results", id: listId, role: "listbox", "aria-label": `${label}: results`, hidden: true });
  const status = h("span", { class: "visually-hidden", "aria-live": "polite" });
  let items = [];
  let active = -1;
  let timer = null;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const choose = (item) => {
    close();
    input.value = item.label;
    onPick(item);
  };
  const highlight = (index) => {
    active = index;
    for (const [i, li] of [...list.children].entries()) li.setAttribute("aria-selected", String(i === index));
    const li = list.children[index];
    if (li) input.setAttribute("aria-activedescendant", li.id);
  };
  const run = async () => {
    const text = input.value.trim();
    try {
      items = await search(text);
    } catch {
      items = [];
    }
    replace(
      list,
      items.map((item, i) =>
        h(
          "li",
          { id: `${listId}-${i}`, role: "option", "aria-selected": "false", onmousedown: (e) => (e.preventDefault(), choose(item)) },
          h("span", { class: "picker-label" }, item.label),
          item.detail ? h("span", { class: "picker-detail" }, item.detail) : null,
        ),
      ),
    );
    list.hidden = !items.length;
    input.setAttribute("aria-expanded", String(Boolean(items.length)));
    status.textContent = items.length ? `${items.length} result${items.length === 1 ? "" : "s"}` : "No match";
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 150);
  });
  input.addEventListener("focus", () => input.value === "" && run());
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      if (list.hidden) run();
      else highlight(Math.min(items.length - 1, active + 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      highlight(Math.max(0, active - 1));
    } else if (e.key === "Enter") {
      e.preventDefault();
      const item = items[active >= 0 ? active : 0];
      if (item && !list.hidden) choose(item);
      else run();
    } else if (e.key === "Escape") close();
  });
  return h("div", { class: "picker" }, field(label, input), list, status);
}

/** Download a Response's body as a file. */
/** A course picker over ``courses`` (searched by code or title), showing ``current`` if any. */
export function coursePicker(courses, current, onPick) {
  const label = (c) => `${c.course_code} · ${c.title}`;
  return picker({
    label: "Course",
    name: "course",
    placeholder: "Course code or title",
    initial: current ? label(current) : "",
    search: async (text) => {
      const t = text.toLowerCase();
      return courses
        .filter((c) => !t || c.course_code.toLowerCase().includes(t) || c.title.toLowerCase().includes(t))
        .slice(0, 20)
        .map((c) => ({ value: c.course_code, label: label(c) }));
    },
    onPick,
  });
}

export async function download(response, filename) {
  const blob = await response.blob();
  const link = h("a", { download: filename, class: "visually-hidden" });
  link.href = URL.createObjectURL(blob);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
