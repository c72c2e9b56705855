// Numbers, money, dates and phone numbers as the contact center lives them, whatever the page's
// language: Vietnamese digit grouping ("1.234.000 ₫"), dd/mm/yyyy, 24 h, Việt Nam time.
export const TZ = "Asia/Ho_Chi_Minh";
const num = new Intl.NumberFormat("vi-VN");
const dayFmt = new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, day: "2-digit", month: "2-digit", year: "numeric"});
const hmFmt = new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, hour: "2-digit", minute: "2-digit", hour12: false});
const hmsFmt = new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
const dmHmFmt = new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit", hour12: false});
const clockFmt = new Intl.DateTimeFormat("vi-VN", {timeZone: TZ, hour12: false, day: "2-digit", month: "2-digit",
  year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit"});

export const number = (n) => num.format(n || 0);
export const vnd = (n) => `${num.format(n || 0)} ₫`;
/** Numbers are stored E.164; agents read and say them in the national form (+84912345678 → 0912345678). */
export const national = (n) => (n && n.startsWith("+84") ? "0" + n.slice(3) : n || "");
export const day = (iso) => (iso ? dayFmt.format(new Date(iso)) : "");
export const hm = (iso) => (iso ? hmFmt.format(new Date(iso)) : "");
export const hms = (date) => hmsFmt.format(date);
export const dayHm = (iso) => (iso ? dmHmFmt.format(new Date(iso)) : "");
export const clock = (date) => clockFmt.format(date);
/** Seconds as m:ss ("–" when unknown). */
export const secs = (s) => (s == null ? "–" : `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}`);
/** A ratio as a Vietnamese percentage ("83,3 %"; "–" when unknown). */
export const pct = (x) => (x == null ? "–" : `${(x * 100).toFixed(1).replace(".", ",")} %`);
