// The page's strings. The server embeds its catalogue (agent_desktop/locales/<lang>.json with its
// fallback merged in) as <script type="application/json" id="i18n">: the JS keeps no strings of its own.
const block = document.getElementById("i18n");
export const catalogue = block ? JSON.parse(block.textContent) : {};
export const lang = document.documentElement.lang || "vi";

const fill = (text, vars) => String(text).replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? String(vars[k]) : m));

/** t("pop.ringing"), t("desk.dialling", {number}): the string, or the key itself (visible, never blank). */
export function t(key, vars) {
  let v = catalogue;
  for (const part of key.split(".")) v = v == null ? undefined : v[part];
  return typeof v === "string" ? fill(v, vars) : key;
}

/** label("tier_names", "large"): a code's label in the page's language, or the code if it has none. */
export function label(section, code) {
  const v = (catalogue[section] || {})[code];
  return typeof v === "string" ? v : String(code ?? "");
}

/** What the agent reads for an error {code, status}: the error id's translation, else the HTTP
 * status's, else a generic message that names the id (the raw id never shows alone). */
export function errorText(err) {
  const code = err && err.code;
  const byCode = (catalogue.errors || {})[code];
  if (byCode) return byCode;
  const byStatus = (catalogue.errors_by_status || {})[String((err && err.status) || "")];
  if (byStatus) return byStatus;
  return fill(catalogue.error_fallback || "{code}", {code: code || (err && err.status) || "?"});
}
