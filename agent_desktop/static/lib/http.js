// The JSON API over fetch: the session cookie, the page's CSRF token on every request, and errors
// as ApiError {status, code} (the body's {"error": {"code", "message"}} when there is one).
const csrf = document.body.dataset.csrf || "";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || String(status));
    this.status = status;
    this.code = code || "";
  }
}

export async function api(method, path, body) {
  let r;
  try {
    r = await fetch(path, {method, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined,
                           headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}});
  } catch (err) {
    throw new ApiError(0, "desktop.offline", err.message);
  }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, data.error && data.error.code, data.error && data.error.message);
  return data;
}
