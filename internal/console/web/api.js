// The HTTP API v1 client: bearer token, JSON in and out, and errors that
// say in words what went wrong.

/** An answer of the API in its error shape {"error":{"code","message"}}. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** The service could not be reached at all (offline, DNS, CORS, server down). */
export class NetworkError extends Error {
  constructor(cause) {
    super('network error');
    this.name = 'NetworkError';
    this.cause = cause;
  }
}

// Status to code, for answers that are not in the error shape (a gateway
// page, an empty body).
const codeByStatus = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found',
  405: 'method_not_allowed', 406: 'not_acceptable', 409: 'conflict', 410: 'gone', 413: 'payload_too_large',
  422: 'unprocessable', 429: 'too_many_requests',
};

// What each code means to an admin. The API's own message (written for
// admins) follows it.
const sentences = {
  bad_request: 'Some of what was sent was not accepted.',
  unauthorized: 'Your sign-in has expired or the token is not valid. Sign in again with a new admin token.',
  forbidden: 'Your account is not an administrator of this organisation, so it cannot import users.',
  not_found: 'This item no longer exists (or belongs to another organisation).',
  method_not_allowed: 'The service does not offer this action. The page may be out of date: reload it.',
  not_acceptable: 'The service cannot answer in the form this page asked for. The page may be out of date: reload it.',
  conflict: 'This cannot be done right now because the import is in another state.',
  gone: 'This preview has expired. Start a new import to see the current changes.',
  payload_too_large: 'What was sent is too large for the service.',
  unprocessable: 'The service cannot carry this out as it stands.',
  too_many_requests: 'The service is busy right now. Wait a moment and try again.',
  unavailable: 'Microsoft Entra ID did not answer the service in time. Wait a moment and try again.',
  internal: 'Something went wrong on the service’s side. Try again; if it keeps happening, contact support and quote the reference below.',
};

/**
 * describeError turns any error into a sentence a person understands.
 * overrides replaces the sentence of a code in a given context (e.g. a
 * conflict when starting an import means another import is running).
 */
export function describeError(err, overrides = {}) {
  if (err instanceof NetworkError) {
    return 'The directory sync service cannot be reached. Check your network connection and try again.';
  }
  if (err instanceof ApiError) {
    const sentence = overrides[err.code] || sentences[err.code] ||
      (err.status >= 500 ? sentences.internal : 'The service refused the request.');
    const detail = (err.message || '').trim();
    if (!detail || detail === err.code) return sentence;
    // A 500's message is only the request id to quote; unavailable says why.
    const reference = err.status >= 500 && err.code !== 'unavailable';
    return `${sentence} ${reference ? 'Reference' : 'Details'}: ${detail}${/[.!?)]$/.test(detail) ? '' : '.'}`;
  }
  return `Something unexpected happened in this page: ${err && err.message ? err.message : String(err)}`;
}

/** apiBase reads <meta name="api-base">; empty means this page's origin. */
export function apiBase(doc) {
  const meta = doc.querySelector('meta[name="api-base"]');
  const value = meta ? meta.getAttribute('content').trim() : '';
  return value.replace(/\/+$/, '');
}

/**
 * nextLink is the target of a Link header's rel="next" (an API path), or
 * null when there is none.
 */
export function nextLink(header) {
  for (const link of (header || '').split(',')) {
    const m = /^\s*<([^>]*)>\s*;\s*rel="?next"?\s*$/.exec(link);
    if (m && m[1].startsWith('/v1/')) return m[1];
  }
  return null;
}

/** query builds "?a=1&b=2", leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export class Api {
  /**
   * @param {string} base API base URL ('' = same origin)
   * @param {() => string} token returns the current bearer token
   * @param {typeof fetch} fetchImpl
   */
  constructor(base, token, fetchImpl = globalThis.fetch.bind(globalThis)) {
    this.base = base;
    this.token = token;
    this.fetch = fetchImpl;
  }

  async request(method, path, body) {
    const { text } = await this.send(method, path, body, 'application/json');
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }

  // send makes a request and returns the answer's text and headers, or
  // throws the error the answer (in the API's error shape) says.
  async send(method, path, body, accept) {
    const headers = { Accept: accept, Authorization: `Bearer ${this.token()}` };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await this.fetch(this.base + path, init);
    } catch (e) {
      throw new NetworkError(e);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      let data = null;
      try {
        data = text ? JSON.parse(text) : null;
      } catch {
        data = null;
      }
      const e = data && data.error;
      throw new ApiError(res.status, (e && e.code) || codeByStatus[res.status] || (res.status >= 500 ? 'internal' : 'error'),
        (e && e.message) || '');
    }
    return { text, headers: res.headers };
  }

  getConnection() { return this.request('GET', '/v1/connection'); }
  putConnection(input) { return this.request('PUT', '/v1/connection', input); }
  testConnection() { return this.request('POST', '/v1/connection/test'); }
  editIgnoredUsers(ids, ignored) { return this.request('POST', '/v1/connection/ignored-users', { ids, ignored }); }
  searchGroups(q) { return this.request('GET', `/v1/connection/groups${query({ q })}`); }
  /**
   * startSync starts a preview. fullRead asks to read every user and group
   * of Entra ID ({"fullRead":true}); without it no body is sent and the
   * service reads only what changed, when it can.
   */
  startSync(fullRead = false) {
    return fullRead ? this.request('POST', '/v1/syncs', { fullRead: true }) : this.request('POST', '/v1/syncs');
  }
  listSyncs(params) { return this.request('GET', `/v1/syncs${query(params)}`); }
  getSync(id) { return this.request('GET', `/v1/syncs/${encodeURIComponent(id)}`); }
  listChanges(id, params) { return this.request('GET', `/v1/syncs/${encodeURIComponent(id)}/changes${query(params)}`); }
  /**
   * exportChanges is every change matching params as CSV: the parts of the
   * export, in order, following each part's Link to the next (a large
   * export arrives in parts of at most 4 MiB). onPart(n) is told each part
   * read.
   */
  async exportChanges(id, params, onPart = () => {}) {
    const parts = [];
    let path = `/v1/syncs/${encodeURIComponent(id)}/changes${query(params)}`;
    while (path) {
      const { text, headers } = await this.send('GET', path, undefined, 'text/csv');
      parts.push(text);
      onPart(parts.length);
      path = nextLink(headers.get('Link'));
    }
    return parts;
  }
  setExcluded(id, seq, excluded) {
    return this.request('PATCH', `/v1/syncs/${encodeURIComponent(id)}/changes/${encodeURIComponent(seq)}`, { excluded });
  }
  confirmSync(id, allowDeactivations) {
    return this.request('POST', `/v1/syncs/${encodeURIComponent(id)}/confirm`, allowDeactivations ? { allowDeactivations: true } : {});
  }
  undoSync(id) { return this.request('POST', `/v1/syncs/${encodeURIComponent(id)}/undo`); }
  cancelSync(id) { return this.request('POST', `/v1/syncs/${encodeURIComponent(id)}/cancel`); }
  getProgress(id) { return this.request('GET', `/v1/syncs/${encodeURIComponent(id)}/progress`); }
  listUsers(params) { return this.request('GET', `/v1/users${query(params)}`); }
}
