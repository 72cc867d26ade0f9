// What the HTTP benches share: the video team's traffic and a light keep-alive client.
import http from 'node:http';

/**
 * A generator of a video team's traffic, ids `<prefix>-<n>`: the i-th event is a script, a
 * summary, a translation (tokens) or a voice track (ElevenLabs characters), five calls per
 * job. `backfill` spreads the timestamps over the last 20 days (a late import, the worst case
 * for the rollups); otherwise they fall in the last minute, as when apps report calls as they
 * make them.
 */
export function teamTraffic(prefix) {
  let serial = 0;
  return (i, backfill = false) => {
    serial += 1;
    const kind = i % 4;
    const e = {
      id: `${prefix}-${serial}`,
      provider: ['openai', 'anthropic', 'google', 'elevenlabs'][kind],
      model: ['gpt-4o-mini', 'claude-3-5-haiku', 'gemini-2.0-flash', 'eleven_multilingual_v2'][kind],
      operation: ['script-generation', 'summary', 'translation', 'voice-synthesis'][kind],
      job_id: `job-${Math.floor(serial / 5)}`,
      timestamp: backfill
        ? new Date(Date.now() - ((i * 7919) % (20 * 86_400)) * 1000).toISOString()
        : new Date(Date.now() - (i % 60) * 1000).toISOString(),
    };
    if (kind === 3) e.characters = 400 + (i % 600);
    else Object.assign(e, { input_tokens: 800 + (i % 400), output_tokens: 200 + (i % 100) });
    return e;
  };
}

/**
 * Keep-alive agents for one client, `concurrency` sockets each: the same agent while requests
 * follow each other, a new one after a pause of more than a second. A socket left idle while
 * the benches' other contenders run their rounds is closed by the server after its own idle
 * timeout; a request sent on it just as it closes fails with `socket hang up` (ECONNRESET),
 * with no way to know whether the server saw it. The old agent is not destroyed (a request of
 * a slow round may still be using it); its idle sockets close on their own.
 */
export function keepAliveAgents(concurrency) {
  let agent = null;
  let last = 0;
  return () => {
    const now = Date.now();
    if (agent === null || now - last > 1000) agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    last = now;
    return agent;
  };
}

/**
 * A keep-alive HTTP client lighter than `fetch`, so the load generator takes less of the
 * cores: POSTs a body (an object, or a Buffer already encoded) to `path`, answers
 * `{ status, json }`.
 */
export function postClient(base, headers, concurrency, path = '/api/usage') {
  const agents = keepAliveAgents(concurrency);
  const url = new URL(base);
  return (body) => new Promise((resolve, reject) => {
    const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const request = http.request({
      host: url.hostname, port: url.port, path, method: 'POST', agent: agents(),
      headers: { ...headers, 'content-length': payload.length },
    }, (response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode, json: JSON.parse(Buffer.concat(chunks)) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}
