// What several pages read from the API, fetched once per page load where it rarely changes.

import { api, seg } from "./api.js";
import { todayIn } from "./dom.js";

let roomsPromise = null;

/** Every room (id, name, cameras, time zone), cached for the page. */
export function rooms(refresh = false) {
  if (refresh || !roomsPromise) roomsPromise = api("/rooms").catch((e) => ((roomsPromise = null), Promise.reject(e)));
  return roomsPromise;
}

/** The courses the caller may see. */
export function courses() {
  return api("/courses");
}

/** The course's room and time zone on `day` (its timetable's room that weekday, else any of its rooms). */
export async function courseRoom(courseCode, day) {
  const [entries, allRooms] = await Promise.all([api("/timetable", { query: { course_code: courseCode } }), rooms()]);
  let entry = null;
  if (day) {
    const [y, m, d] = day.split("-").map(Number);
    const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
    entry = entries.find((e) => e.weekday === weekday) || null;
  }
  entry = entry || entries[0] || null;
  const room = entry ? allRooms.find((r) => r.room_id === entry.room_id) : allRooms[0];
  return { room: room || null, timeZone: (room && room.timezone) || "UTC", entries };
}

/** The course's date today in its room's zone. */
export async function courseToday(courseCode) {
  const { timeZone } = await courseRoom(courseCode, null);
  return todayIn(timeZone);
}

/** Statuses that count as attending. */
export const ATTENDED = new Set(["present", "late", "entered"]);

/** Counts of a class: {present, late, absent, excused, entered, unmarked, total} over its roster and marks. */
export async function classCounts(courseCode, classDate) {
  const [report, roster] = await Promise.all([
    api(`/attendance/${seg(courseCode)}/${seg(classDate)}`),
    api(`/courses/${seg(courseCode)}/roster`, { query: { on: classDate } }).catch(() => ({ students: [] })),
  ]);
  const marked = new Map(report.rows.map((r) => [r.usn, r.status]));
  const everyone = new Set([...roster.students.map((s) => s.usn), ...marked.keys()]);
  const counts = { present: 0, late: 0, absent: 0, excused: 0, entered: 0, unmarked: 0, total: everyone.size };
  for (const usn of everyone) {
    const status = marked.get(usn);
    if (status && status in counts) counts[status] += 1;
    else counts.unmarked += 1;
  }
  return counts;
}

/** "42 present · 3 late · 5 absent of 50" (arrivals not yet confirmed count as present so far). */
export function countsLine(c) {
  const parts = [`${c.present + c.entered} present`, `${c.late} late`, `${c.absent} absent`];
  if (c.excused) parts.push(`${c.excused} excused`);
  if (c.unmarked) parts.push(`${c.unmarked} not marked`);
  return `${parts.join(" · ")} of ${c.total}`;
}

/**
 * Percentages of a course per student over the classes that have a register so far: attended
 * (present, late, arrived) over classes held, an excused class left out of both. Built from each
 * roster student's history of the course.
 */
export async function courseStats(courseCode) {
  const roster = await api(`/courses/${seg(courseCode)}/roster`);
  const histories = await Promise.all(
    roster.students.map((s) => api(`/students/${seg(s.usn)}/attendance`).then((h) => ({ student: s, rows: h.rows.filter((r) => r.course_code === courseCode) }))),
  );
  const dates = [...new Set(histories.flatMap((h) => h.rows.map((r) => r.class_date)))].sort();
  const students = histories.map(({ student, rows }) => {
    const byDate = new Map(rows.map((r) => [r.class_date, r.status]));
    let attended = 0;
    let held = 0;
    for (const day of dates) {
      if (student.valid_from && day < student.valid_from) continue;
      if (student.valid_to && day > student.valid_to) continue;
      const status = byDate.get(day);
      if (status === "excused") continue;
      held += 1;
      if (ATTENDED.has(status)) attended += 1;
    }
    return { usn: student.usn, name: student.name, attended, held, pct: held ? (100 * attended) / held : null };
  });
  const sessions = dates.map((day) => {
    let attended = 0;
    let expected = 0;
    for (const { rows, student } of histories) {
      if ((student.valid_from && day < student.valid_from) || (student.valid_to && day > student.valid_to)) continue;
      const row = rows.find((r) => r.class_date === day);
      if (row && row.status === "excused") continue;
      expected += 1;
      if (row && ATTENDED.has(row.status)) attended += 1;
    }
    return { day, attended, expected, pct: expected ? (100 * attended) / expected : null };
  });
  return { students, sessions, held: dates.length };
}

export const MIN_ATTENDANCE_PCT = 75;

/** Whether technical detail (scores, camera ids, sources) is shown: an admin's choice, kept. */
export function technicalDetail() {
  return localStorage.getItem("classsight.technical") === "1";
}
export function setTechnicalDetail(on) {
  localStorage.setItem("classsight.technical", on ? "1" : "0");
}
