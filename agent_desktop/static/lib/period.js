// The report pages' periods: days typed as dd/mm/yyyy (Việt Nam's way, whatever the browser's locale),
// sent to the API as ISO days with an exclusive end; and the figures' formats they share.
import {TZ} from "./format.js";

const isoFmt = new Intl.DateTimeFormat("en-CA", {timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit"});

/** "05/11/2026" → "2026-11-05", or null when it is not a real day. */
export function parseDmy(text) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*$/.exec(text || "");
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return date.toISOString().slice(0, 10);
}

/** "2026-11-05" → "05/11/2026". */
export const dmy = (iso) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)}`;

/** The ISO day after ``iso`` (the API's exclusive end). */
export function nextDay(iso) {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** Today in Việt Nam, as an ISO day. */
export const todayVn = () => isoFmt.format(new Date());

/** Seconds with one decimal ("12,3 s"; "–" when unknown). */
export const sec1 = (s) => (s == null ? "–" : `${s.toFixed(1).replace(".", ",")} s`);

/** Read a since/to form: {since, until} ISO (until exclusive), or {error} in the page's words. */
export function periodOf(form, t) {
  const since = parseDmy(form.elements.since.value);
  if (!since) return {error: t("rpage.bad_date", {text: form.elements.since.value})};
  const to = parseDmy(form.elements.to.value);
  if (!to) return {error: t("rpage.bad_date", {text: form.elements.to.value})};
  if (to < since) return {error: t("rpage.bad_range")};
  return {since, until: nextDay(to)};
}
