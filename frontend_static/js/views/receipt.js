// The receipt of a biometric deletion: what was deleted, verified, and a fresh check that
// nothing is left. It stays on screen (and can be printed) instead of flashing by.

import { api, seg } from "../api.js";
import { dateTimeIn, h, notice, replace } from "../dom.js";

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

export async function render(root, params) {
  const usn = params.get("usn") || "";
  const stored = JSON.parse(sessionStorage.getItem(`classsight.receipt.${usn}`) || "null");
  const check = await api(`/students/${seg(usn)}/biometrics`);
  const rows = stored
    ? [
        ["Face prints deleted", stored.faceprints_deleted],
        ["Room-camera body prints deleted", stored.body_prints_deleted],
        ["Enrollment records deleted", stored.enrollments_deleted],
        ["Photos deleted from storage", stored.objects_deleted],
        ["Door pictures deleted", stored.captures_deleted],
        ["Corrected door faces (\u201cnot this student\u201d) deleted", stored.negatives_deleted ?? 0],
        ["Consent withdrawn", stored.consent_withdrawn ? "Yes" : "No"],
        ["Checked gone after deleting", stored.verified ? "Yes" : "No"],
      ]
    : [];
  replace(
    root,
    h("h1", {}, "Face data deletion receipt"),
    h(
      "section",
      { class: "card receipt" },
      h("p", {}, "Student: ", h("strong", {}, stored ? `${stored.name} (${usn})` : usn)),
      stored ? h("p", {}, `Deleted: ${dateTimeIn(stored.deleted_at, ZONE)}`) : notice("This receipt was opened without a deletion in this tab; the check below is current.", "info"),
      rows.length ? h("dl", { class: "receipt-list" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])) : null,
      h("h2", {}, "Checked again now"),
      h("p", {}, `At ${dateTimeIn(check.checked_at, ZONE)}: ${check.faceprints} face prints, ${check.body_prints} body prints, ${check.photos} photos, ${check.captures} door pictures, ${check.negatives ?? 0} corrected door faces.`),
      check.none_left ? h("p", { class: "ok-line" }, "Nothing of this student's face data is left.") : notice("Some face data is still stored. Delete again or contact support."),
      h("p", { class: "muted small" }, "Attendance records are kept; they hold no face data."),
      h("div", { class: "actions no-print" }, h("button", { type: "button", onclick: () => window.print() }, "Print receipt"), h("a", { href: `#/students?usn=${encodeURIComponent(usn)}` }, "Back to the student")),
    ),
  );
}
