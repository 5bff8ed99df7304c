// The page's only way to the server: every call carries the API key from
// this browser session in the Authorization header (never in a URL), and
// every failure becomes an ApiError in the API's own words.

const KEY = "hutch.apiKey";

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setAPIKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

// ApiError is the native error envelope, {"error": {code, message,
// requestId}}, with the HTTP status; a server that did not answer is
// code NETWORK.
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly requestId = "") {
    super(message);
  }
  describe(): string {
    const id = this.requestId ? ` (request ${this.requestId})` : "";
    return `${this.code}: ${this.message}${id}`;
  }
}

export function describe(e: unknown): string {
  if (e instanceof ApiError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}

type Query = Record<string, string | number | boolean | string[] | undefined | null>;

export function withQuery(path: string, q?: Query): string {
  if (!q) return path;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
    else p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

// onUnauthenticated is told when a call made with the session's key is
// refused (revoked meanwhile, or the server's data was reset).
let onUnauthenticated: (e: ApiError) => void = () => {};
export function whenUnauthenticated(f: (e: ApiError) => void): void {
  onUnauthenticated = f;
}

export interface CallOptions {
  query?: Query;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  key?: string; // a key to try instead of the session's (sign-in)
}

// call makes one request and returns the response when it is a success;
// otherwise it throws the API's error.
export async function call(method: string, path: string, o: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...o.headers };
  const key = o.key ?? apiKey();
  if (key) headers["Authorization"] = `Bearer ${key}`;
  let body = o.body;
  if (o.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(o.json);
  }
  let resp: Response;
  try {
    resp = await fetch(withQuery(path, o.query), { method, headers, body, signal: o.signal, cache: "no-store" });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "NETWORK", `the server did not answer (${describe(e)})`);
  }
  if (resp.ok) return resp;
  const err = await errorOf(resp);
  if (resp.status === 401 && o.key === undefined && key) onUnauthenticated(err);
  throw err;
}

async function errorOf(resp: Response): Promise<ApiError> {
  const text = await resp.text().catch(() => "");
  try {
    const b = JSON.parse(text);
    if (b && b.error && typeof b.error.code === "string") {
      return new ApiError(resp.status, b.error.code, b.error.message ?? "", b.error.requestId ?? resp.headers.get("X-Request-Id") ?? "");
    }
  } catch {
    // not the envelope: fall through
  }
  return new ApiError(resp.status, `HTTP ${resp.status}`, text.slice(0, 300) || resp.statusText, resp.headers.get("X-Request-Id") ?? "");
}

export async function getJSON<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
  const r = await call("GET", path, { query, signal });
  return (await r.json()) as T;
}

export async function sendJSON<T>(method: string, path: string, json?: unknown, query?: Query): Promise<T> {
  const r = await call(method, path, { json, query });
  if (r.status === 204) return undefined as T;
  const text = await r.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// lines yields a streamed answer line by line (the NDJSON progress of
// image pulls and imports).
export async function* lines(resp: Response): AsyncGenerator<string> {
  if (!resp.body) return;
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield line;
    }
  }
  if (buf.trim()) yield buf.trim();
}

export const sandboxPath = (id: string, rest = ""): string => `/v1/sandboxes/${encodeURIComponent(id)}${rest}`;
