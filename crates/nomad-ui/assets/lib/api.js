// The agent's /v1 API: requests with the ACL token, errors with the
// server's own text, and blocking-query watches for live updates.

const TOKEN_KEY = 'nomad.token';
const NAMESPACE_KEY = 'nomad.namespace';

/** How long one blocking query may wait on the server. */
export const WAIT = '60s';
/** Smallest gap between two requests of one watch (coalesces bursts). */
const MIN_GAP_MS = 250;
/** Interval for endpoints that do not block (no X-Nomad-Index). */
export const POLL_MS = 10000;
/** Longest back-off after errors. */
const MAX_BACKOFF_MS = 30000;

function storageGet(key) {
  try { return localStorage.getItem(key) || ''; } catch { return ''; }
}
function storageSet(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch { /* storage disabled: the value lives for this page only */ }
}

let memToken = null;
/** The ACL token sent as X-Nomad-Token ('' for none). */
export function getToken() { return memToken ?? storageGet(TOKEN_KEY); }
export function setToken(t) { memToken = t || ''; storageSet(TOKEN_KEY, t); }

/** The namespace the lists show ('*' for all). */
export function getNamespace() { return storageGet(NAMESPACE_KEY) || 'default'; }
export function setNamespace(ns) { storageSet(NAMESPACE_KEY, ns === 'default' ? '' : ns); }

/** An error answered by the API (status 0: the request did not complete). */
export class ApiError extends Error {
  constructor(status, text, path) {
    super(status ? `${status}: ${text}` : text);
    this.name = 'ApiError';
    this.status = status;
    this.text = text;
    this.path = path;
  }
}

/** Headers of every request. */
export function authHeaders() {
  const t = getToken();
  return t ? { 'X-Nomad-Token': t } : {};
}

/** `/v1/jobs` + {prefix: 'a'} → `/v1/jobs?prefix=a` (empty values dropped). */
export function url(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** `/v1/job/` + an ID that may contain `/` or spaces. */
export function seg(id) {
  return encodeURIComponent(id);
}

/**
 * One request. Resolves to {data, index}: data is the parsed JSON (or null
 * for an empty body), index the X-Nomad-Index header (0 when absent).
 * Rejects with an ApiError carrying the server's text.
 */
export async function request(path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: authHeaders(), signal: opts.signal };
  if (opts.body !== undefined) {
    init.body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    init.headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(url(path, opts.query), init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `cannot reach the agent (${e.message})`, path);
  }
  const text = await resp.text();
  if (!resp.ok) throw new ApiError(resp.status, text.trim() || resp.statusText, path);
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  return { data, index: Number(resp.headers.get('X-Nomad-Index') || 0) };
}

/** GET, resolving to the data alone. */
export async function get(path, query, signal) {
  return (await request(path, { query, signal })).data;
}

/** PUT/POST/DELETE with a JSON body. */
export async function write(method, path, body, query) {
  return (await request(path, { method, body, query })).data;
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done);
  });
}

function waitVisible(signal) {
  return new Promise((resolve) => {
    if (!document.hidden || signal.aborted) return resolve();
    function done() {
      if (document.hidden && !signal.aborted) return;
      document.removeEventListener('visibilitychange', done);
      signal.removeEventListener('abort', done);
      resolve();
    }
    document.addEventListener('visibilitychange', done);
    signal.addEventListener('abort', done);
  });
}

/**
 * The requests of one mounted view. `dispose()` aborts every outstanding
 * request and stops every watch, so leaving a page leaves nothing behind.
 */
export class Scope {
  constructor() {
    this.ctrl = new AbortController();
  }

  get signal() { return this.ctrl.signal; }
  get disposed() { return this.ctrl.signal.aborted; }

  dispose() { this.ctrl.abort(); }

  /** A one-off GET tied to this view. */
  get(path, query) { return get(path, query, this.signal); }

  /**
   * Keeps `path` up to date with blocking queries: one outstanding request,
   * re-issued with `?index=N&wait=…` when it returns; `onData(data, index)`
   * runs on every change. Errors go to `onError(err)` (and `onError(null)`
   * once the endpoint answers again) and back off exponentially up to 30s.
   * An endpoint that answers at once with an unchanged index (it does not
   * block) is re-read every 10s instead. Nothing is requested while the
   * browser tab is hidden.
   */
  watch(path, query, onData, onError) {
    this.#watchLoop(path, query || {}, onData, onError || (() => {}));
  }

  async #watchLoop(path, query, onData, onError) {
    let index = 0;
    let failures = 0;
    while (!this.disposed) {
      await waitVisible(this.signal);
      if (this.disposed) return;
      const started = Date.now();
      let res;
      try {
        const q = { ...query };
        if (index > 0) Object.assign(q, { index, wait: WAIT });
        res = await request(path, { query: q, signal: this.signal });
      } catch (e) {
        if (this.disposed || e.name === 'AbortError') return;
        failures += 1;
        onError(e);
        await sleep(Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1)), this.signal);
        continue;
      }
      if (this.disposed) return;
      if (failures) { failures = 0; onError(null); }
      const changed = res.index === 0 || res.index !== index;
      if (changed) deliver(onData, res.data, res.index, onError);
      const elapsed = Date.now() - started;
      if (res.index === 0 || (!changed && elapsed < MIN_GAP_MS)) {
        await sleep(POLL_MS, this.signal);
      } else {
        await sleep(MIN_GAP_MS - elapsed, this.signal);
      }
      // An index that went backwards (a restored or new cluster) is taken
      // as is, so the next query waits past it.
      index = res.index;
    }
  }

  /**
   * Runs `fn(signal)` now and every `ms` while the tab is visible, one run
   * at a time (for endpoints without blocking queries).
   */
  poll(fn, ms, onError) {
    (async () => {
      let failures = 0;
      while (!this.disposed) {
        await waitVisible(this.signal);
        if (this.disposed) return;
        try {
          await fn(this.signal);
          if (failures && onError) onError(null);
          failures = 0;
        } catch (e) {
          if (this.disposed || e.name === 'AbortError') return;
          failures += 1;
          if (onError) onError(e);
        }
        const backoff = failures ? Math.min(MAX_BACKOFF_MS, 1000 * 2 ** failures) : 0;
        await sleep(Math.max(ms, backoff), this.signal);
      }
    })();
  }
}

function deliver(onData, data, index, onError) {
  try {
    onData(data, index);
  } catch (e) {
    // A rendering bug must not stop the watch; show it like an API error.
    onError(new ApiError(0, `rendering failed: ${e.message}`));
    setTimeout(() => { throw e; });
  }
}
