// Runs one client case (cases.mjs) under Node 22 and prints its result as one
// line "AXON_CLIENT_RESULT {json}" on stdout (tests/clients/node22.mjs reads it).
//
//   AXON_CLIENT_ARGS='{"baseURL":"http://127.0.0.1:P/v1","apiKey":"sk-...","model":"...","prompt":"..."}' \
//     tests/clients/node_modules/.bin/node tests/clients/run.mjs aisdk-chat-generate
//
// Every HTTP request the client makes goes through globalThis.fetch, which is
// wrapped here before the clients are loaded, so the result also says what
// each client sent: method, path, JSON body and the answer's status.
const RESULT_PREFIX = 'AXON_CLIENT_RESULT ';

const requests = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? String(input) : input.url);
  let body = init.body;
  if (typeof body === 'string') {
    try { body = JSON.parse(body); } catch { /* kept as text */ }
  } else if (body !== undefined && body !== null) {
    body = `(${Object.prototype.toString.call(body)})`;
  }
  const rec = { method: init.method ?? input.method ?? 'GET', path: url.pathname + url.search, body };
  requests.push(rec);
  const res = await realFetch(input, init);
  rec.status = res.status;
  return res;
};

function errorOf(e) {
  return {
    name: e?.name,
    message: String(e?.message ?? e).slice(0, 2000),
    status: e?.statusCode ?? e?.status,
    body: typeof e?.responseBody === 'string' ? e.responseBody.slice(0, 2000) : undefined,
  };
}

const name = process.argv[2];
let result;
try {
  const args = JSON.parse(process.env.AXON_CLIENT_ARGS || '{}');
  const { CASES } = await import('./cases.mjs');
  const fn = CASES[name];
  if (!fn) throw new Error(`no client case '${name}'; known: ${Object.keys(CASES).join(', ')}`);
  result = { ok: true, ...(await fn(args)) };
} catch (e) {
  result = { ok: false, error: errorOf(e) };
}
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ ...result, node: process.version, requests })}\n`);
// The clients may keep sockets open (keep-alive); the answer is out.
process.exit(0);
