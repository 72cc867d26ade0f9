// The only way the dashboard talks to anything: same-origin fetches to the worker's /api,
// with the key in the Authorization header (never in a URL).

export class ApiError extends Error {
  constructor(status, message, code, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    /** The field problems of a 400: `[{ field, message }]`. */
    this.details = details;
  }
}

let currentKey = null;
export const setKey = (key) => {
  currentKey = key;
};

/** Builds "/api/...?a=b" from a path and a params object (empty values are left out). */
export function apiPath(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function request(path, { key = currentKey, accept = 'application/json', method = 'GET', body } = {}) {
  if (!path.startsWith('/api/')) throw new Error(`not an API path: ${path}`);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${key}`, accept, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new ApiError(0, 'Could not reach the worker. Check your connection and press Refresh.', 'network');
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let code;
    let details = [];
    try {
      const answer = await response.json();
      if (answer?.error?.message) message = answer.error.message;
      code = answer?.error?.code;
      if (Array.isArray(answer?.error?.details)) details = answer.error.details;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, message, code, details);
  }
  return response;
}

export async function getJson(path, options) {
  return (await request(path, options)).json();
}

/** PATCH, PUT, POST or DELETE (with a JSON body, if any); answers the JSON reply, or null
 * for 204 No Content. */
export async function sendJson(method, path, body, options) {
  const response = await request(path, { ...options, method, body });
  return response.status === 204 ? null : response.json();
}

export async function getText(path, options) {
  return (await request(path, { ...options, accept: 'text/csv' })).text();
}
