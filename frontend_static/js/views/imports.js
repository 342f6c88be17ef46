// Import students, rosters or teachers from a CSV or XLSX file: a preview first (nothing is
// written), with every problem listed by row and column; then the import itself.

import { api } from "../api.js";
import { clearErrors, field, formError, h, notice, replace, select, showErrors, table } from "../dom.js";
import { importProblems } from "../words.js";

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const KINDS = [
  ["students", "Students", "usn, name, and optionally email, section"],
  ["rosters", "Course rosters", "usn, course_code, and optionally section, valid_from, valid_to (YYYY-MM-DD)"],
  ["teachers", "Teachers", "username, name, and optionally email, courses (CS501;CS502/B)"],
];

export async function render(root) {
  const kind = select("kind", KINDS.map(([value, label]) => [value, label]), "rosters");
  const columns = h("p", { class: "hint", id: "import-columns" });
  const fileInput = h("input", { type: "file", name: "file", accept: ".csv,.xlsx,text/csv," + XLSX });
  const result = h("section", { id: "import-result", "aria-live": "polite" });
  const importButton = h("button", { type: "button", disabled: true }, "Import");
  const showColumns = () => (columns.textContent = `Columns (first row): ${KINDS.find(([k]) => k === kind.value)[2]}.`);
  showColumns();
  let file = null;

  const send = async (dryRun) => {
    clearErrors(form);
    if (!file) {
      showErrors(form, { fields: [{ field: "file", message: "Choose a CSV or XLSX file." }] });
      return null;
    }
    const isXlsx = /\.xlsx$/i.test(file.name);
    try {
      return await api(`/imports/${kind.value}`, { method: "POST", query: { dry_run: dryRun ? "true" : "false" }, body: file, contentType: isXlsx ? XLSX : "text/csv" });
    } catch (e) {
      if (e.status === 422 && Array.isArray(e.raw) && e.raw.some((d) => Array.isArray(d.loc) && typeof d.loc[1] === "number")) {
        const problems = importProblems(e.raw);
        replace(
          result,
          h("h2", {}, `${problems.length} problem${problems.length === 1 ? "" : "s"} in ${file.name}: nothing was imported`),
          h("p", {}, "Fix these rows in the file and preview it again. Row 1 is the header."),
          table(
            [
              { label: "Row", class: "num", cell: (p) => (p.row ? String(p.row) : "Whole file") },
              { label: "Column", cell: (p) => p.column || "—" },
              { label: "Problem", cell: (p) => p.reason },
            ],
            problems,
            { id: "import-problems", caption: "Problems found in the file" },
          ),
        );
        importButton.disabled = true;
        result.querySelector("h2").setAttribute("tabindex", "-1");
        result.querySelector("h2").focus();
        return null;
      }
      showErrors(form, e, { 413: "The file is too large (at most 5 MB)." });
      return null;
    }
  };

  const form = h(
    "form",
    {
      class: "card form-grid",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        replace(result);
        const report = await send(true);
        if (!report) return;
        replace(
          result,
          h("h2", {}, `Preview of ${file.name}: no problems`),
          h("p", {}, `${report.rows} rows: ${report.created} new, ${report.updated} changed, ${report.unchanged} unchanged. Nothing is written until you import.`),
        );
        importButton.disabled = false;
        importButton.focus();
      },
    },
    formError(),
    field("What the file holds", kind),
    h("div", { class: "field", dataset: { field: "file" } }, h("label", { for: "import-file" }, "File (CSV UTF-8 or XLSX)"), fileInput, h("span", { class: "field-error", id: "import-file-error", hidden: true })),
    h("div", { class: "span-all" }, columns),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Preview"), importButton),
  );
  fileInput.id = "import-file";
  fileInput.setAttribute("aria-describedby", "import-columns import-file-error");
  kind.addEventListener("change", () => {
    showColumns();
    importButton.disabled = true;
  });
  fileInput.addEventListener("change", () => {
    file = fileInput.files[0] || null;
    importButton.disabled = true;
    replace(result);
  });
  importButton.addEventListener("click", async () => {
    importButton.disabled = true;
    const report = await send(false);
    if (!report) return;
    replace(result, h("h2", {}, `Imported ${file.name}`), h("p", {}, `${report.rows} rows: ${report.created} new, ${report.updated} changed, ${report.unchanged} unchanged.`));
    result.querySelector("h2").setAttribute("tabindex", "-1");
    result.querySelector("h2").focus();
  });
  replace(root, h("h1", {}, "Import from a spreadsheet"), form, result, notice("A file with any problem imports nothing; a clean file imports whole. Importing the same file again changes nothing.", "info"));
}
