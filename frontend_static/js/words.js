// The portal's words: one glossary the whole UI follows (the Glossary page shows it), and the
// translation of the API's codes and validation answers into plain sentences.

/** Attendance statuses as a teacher says them. */
export const STATUS_WORDS = {
  present: "Present",
  late: "Late",
  absent: "Absent",
  excused: "Excused",
  entered: "Arrived, not yet confirmed",
};

/** A mark's word and colour: an arrival the room camera confirmed is Present. */
export function markWord(row) {
  if (!row) return { word: "Not marked", kind: "missing" };
  if (row.status === "entered" && row.confirmed_at) return { word: STATUS_WORDS.present, kind: "present" };
  return { word: STATUS_WORDS[row.status] || row.status, kind: row.status };
}

/** The four marks a teacher gives in the register, in button order. */
export const MARKS = ["present", "late", "absent", "excused"];

/** How a mark was made. */
export const SOURCE_WORDS = {
  face: "Door camera",
  body: "Room camera",
  manual: "Marked by a teacher",
  sweep: "No arrival recorded by the end of class",
};

/** What happened to a door capture. */
export const OUTCOME_WORDS = {
  recognised: "Recognised",
  unknown_person: "Not recognised",
  no_face: "No face in the picture",
  spoof_suspected: "Looked like a photo or screen",
  body_recognised: "Recognised by the room camera",
  body_unknown: "Not recognised by the room camera",
  gallery_stored: "Kept for today's room matching",
  no_class: "No class in the room then",
  not_enrolled: "Not on the course",
  duplicate: "Already recorded",
};

export const CLASS_STATE_WORDS = { upcoming: "Later today", in_session: "In class now", ended: "Finished" };

export const ENROLLMENT_WORDS = {
  missing: "No photo yet",
  pending: "Being checked",
  accepted: "Accepted",
  rejected: "Not usable",
};

/** "Match confidence: high" rather than a similarity number. */
export function confidenceWord(similarity) {
  if (similarity === null || similarity === undefined) return null;
  if (similarity >= 0.6) return "high";
  if (similarity >= 0.45) return "medium";
  return "low";
}

/** The glossary: each term the portal uses, and what it means. */
export const GLOSSARY = [
  ["Arrived (door camera)", "The door camera recognised the student's face as they came in. The time is when they stood at the door."],
  ["Confirmed in room", "The room camera kept seeing the student in the room long enough to count them as attending."],
  ["Arrived, not yet confirmed", "Seen at the door, but the room camera has not yet seen them stay. Usually becomes Present within a few minutes."],
  ["Present", "Attended the class."],
  ["Late", "Attended, but arrived after the class's grace period."],
  ["Absent", "Did not attend. Students on the course with no arrival by the end of class are marked Absent."],
  ["Excused", "Did not attend, with a reason the teacher accepted (for example a doctor's note)."],
  ["Marked by a teacher", "The mark was set or corrected by a person in the register; the reason is kept."],
  ["Match confidence", "How sure the door camera was that the face is this student's: high, medium or low."],
  ["Face photo set", "The five photos of a student (front, left, right, up, down) the door camera learns the face from. Also called the enrollment photos."],
  ["Face data", "What ClassSight keeps to recognise a student: the face photo set, what was learnt from it, and the day's pictures from the room camera. Deleting it never deletes attendance."],
  ["Consent", "The student's agreement to face recognition, recorded before any photo is taken."],
  ["Door camera", "The camera at the classroom door that recognises faces (cam1)."],
  ["Room camera", "The camera inside the classroom that follows people and confirms they stayed (cam2)."],
  ["Shortage", "A student whose attendance is below the course's minimum (commonly 75%)."],
  ["Room time", "Every date and time is shown in the classroom's own time zone, labelled with it."],
];

const FIELD_HINTS = {
  usn: "Use letters and digits only, no spaces (for example 1MS21CS001).",
  course_code: "Use letters, digits, - or _ only, no spaces (for example CS501).",
  room_id: "Use letters, digits, - or _ only, no spaces (for example R101).",
  cam1_id: "Use letters, digits, . - or _ only, no spaces.",
  cam2_id: "Use letters, digits, . - or _ only, no spaces.",
  email: "Enter an email address like name@college.edu.",
  username: "Use letters, digits, spaces, . _ @ or - only.",
  password: "12 to 64 characters, on one line, not starting or ending with a space.",
};

// Rules the API states in a sentence, reworded and put on the field they concern.
const SENTENCES = [
  [/start_time must be before end_time/, "end_time", "The end time must be after the start time."],
  [/valid_from must not be after valid_to/, "valid_to", "The last day must not be before the first day."],
  [/cam1_id and cam2_id must differ/, "cam2_id", "The door camera and the room camera need different names."],
  [/not an IANA time zone/, "timezone", "Pick a time zone from the list."],
  [/expected a date/, null, "Enter a date."],
  [/timetabled in \d+ rooms/, "room_id", "This course meets in more than one room that day; pick the room."],
];

function fieldOf(loc) {
  const names = (loc || []).filter((p) => typeof p === "string" && !["body", "path", "query", "header"].includes(p));
  return names.length ? names[names.length - 1] : null;
}

/** One API validation entry ({loc, msg, type}) as {field, message} in plain words. */
export function plainFieldError(entry) {
  let field = fieldOf(entry.loc);
  const msg = String(entry.msg || "");
  for (const [pattern, target, words] of SENTENCES) {
    if (pattern.test(msg)) return { field: target || field, message: words };
  }
  const type = String(entry.type || "");
  let message = "This value is not accepted.";
  if (type === "missing" || type === "string_too_short") message = "This is required.";
  else if (type === "string_too_long" || type === "too_long") message = "This is too long.";
  else if (type === "string_pattern_mismatch") message = FIELD_HINTS[field] || "This contains characters that are not allowed.";
  else if (type.startsWith("date") || type.startsWith("datetime")) message = "Enter a date.";
  else if (type.startsWith("time")) message = "Enter a time.";
  else if (type.includes("greater") || type.includes("less")) message = "This number is out of range.";
  else if (type === "extra_forbidden") field = null;
  return { field, message };
}

/** Row problems of an import ({loc: ["body", row, column], msg}) as plain rows. */
export function importProblems(detail) {
  return (Array.isArray(detail) ? detail : []).map((entry) => {
    const [, row, column] = entry.loc || [];
    let reason = String(entry.msg || "");
    if (reason === "required") reason = "empty, but required";
    return {
      row: typeof row === "number" ? row : null,
      column: typeof column === "string" ? column : null,
      reason: reason.charAt(0).toUpperCase() + reason.slice(1) + (reason.endsWith(".") ? "" : "."),
    };
  });
}
