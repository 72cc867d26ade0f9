// The only way the dashboard talks to anything: same-origin fetches to the worker's /api,
// with the key in the Authorization header (never in a URL).

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
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

async function request(path, { key = currentKey, accept = 'application/json' } = {}) {
  if (!path.startsWith('/api/')) throw new Error(`not an API path: ${path}`);
  let response;
  try {
    response = await fetch(path, {
      headers: { authorization: `Bearer ${key}`, accept },
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
    try {
      const body = await response.json();
      if (body?.error?.message) message = body.error.message;
      code = body?.error?.code;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, message, code);
  }
  return response;
}

export async function getJson(path, options) {
  return (await request(path, options)).json();
}

export async function getText(path, options) {
  return (await request(path, { ...options, accept: 'text/csv' })).text();
}
