// DOM helpers. Data is only ever placed with text nodes, textContent or setAttribute on
// non-URL attributes: nothing from the API is parsed as HTML.

/**
 * Create an element. `attrs`: class, on<event> handlers, dataset, other attributes;
 * children: nodes or values (values become text nodes).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
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

/** A table from column definitions [{label, cell(row) -> value|Node, class?}] and rows. */
export function table(columns, rows, { empty = "Nothing to show." } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class }, c.cell(row)))))),
    ),
  );
}

/** A coloured badge for a status word. */
export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${String(kind).replace(/[^a-z_]/g, "")}` }, text);
}

/** A labelled form field. */
export function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

/** `<select>` of [value, label] pairs. */
export function select(name, options, selected) {
  return h(
    "select",
    { name },
    options.map(([value, label]) => h("option", { value, selected: value === selected }, label)),
  );
}

let toastTimer = null;

/** A short message at the bottom of the page; errors stay longer. */
export function toast(message, { error = false } = {}) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.classList.toggle("toast-error", error);
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), error ? 8000 : 3000);
}

/** A date in the browser's locale, or an em dash. */
export function formatDateTime(iso, timeZone) {
  if (!iso) return "—";
  const options = { dateStyle: "medium", timeStyle: "medium" };
  if (timeZone) options.timeZone = timeZone;
  return new Date(iso).toLocaleString(undefined, options);
}

/** The time of day of an ISO timestamp (in `timeZone`, default the browser's), or an em dash. */
export function formatTime(iso, timeZone) {
  if (!iso) return "—";
  const options = { timeStyle: "short" };
  if (timeZone) options.timeZone = timeZone;
  return new Date(iso).toLocaleTimeString(undefined, options);
}

/** HH:MM of a "HH:MM:SS" time. */
export function hhmm(time) {
  return time ? time.slice(0, 5) : "—";
}

/** Today's date as YYYY-MM-DD in the browser's zone. */
export function todayIso() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
export const STATUSES = ["entered", "late", "present", "absent", "excused"];
