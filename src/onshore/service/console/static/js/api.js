// The JSON API with the logged-in key. Errors are RFC 9457 problem details (ApiError.problem).
const KEY = "onshore.key";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export function key() {
  return sessionStorage.getItem(KEY);
}

export function setKey(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export async function request(path, { method = "GET", json, body, headers = {} } = {}) {
  const sent = { ...headers };
  const k = key();
  if (k) sent["X-API-Key"] = k;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const response = await fetch(path, { method, headers: sent, body });
  if (!response.ok) {
    let problem;
    try {
      problem = await response.json();
    } catch {
      problem = { title: response.statusText };
    }
    throw new ApiError(response.status, problem);
  }
  return response;
}

export async function api(path, options) {
  const response = await request(path, options);
  return response.json();
}

function filenameOf(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(header);
  return match ? match[1] : fallback;
}

// Fetch with the key and save the answer as a file (the browser's download).
export async function download(path, fallback, options) {
  const response = await request(path, options);
  const blob = await response.blob();
  const name = filenameOf(response, fallback);
  saveBlob(blob, name);
  return { name, size: blob.size, blob };
}

export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
