// The D1 bridge: a JS Worker that runs what it is sent on a real D1 binding (env.DB) and
// returns D1's own results and error messages. `wrangler dev --local` runs it in workerd
// with miniflare's local D1, so the Python tests meet the real D1 engine, not our idea of it.
//
// Protocol: POST / with a JSON body {"op": ...}; the answer is {"ok": true, "result": ...}
// or {"ok": false, "error": {"name", "message", "cause"}} for an error D1 raised.
// Malformed requests get HTTP 400 with {"ok": false, "bridge_error": "..."} so that a bug in
// the bridge is never mistaken for a D1 error.
//
// Values cross JSON as themselves (strings, numbers, booleans, null) or tagged:
// {"$bytes": base64} -> Uint8Array, {"$bigint": "..."} -> BigInt, {"$float": "NaN"} -> number,
// {"$object": {...}} -> a plain object. They are handed to D1's bind() untouched, so D1's own
// conversions (booleans to 1/0, byte arrays to BLOBs, its type errors) happen here, in
// workerd, exactly as they do for a Python Worker's binding.

function bytesFromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function base64FromBytes(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

class BridgeError extends Error {}

function decodeValue(value) {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(decodeValue);
  if (typeof value.$bytes === "string") return bytesFromBase64(value.$bytes);
  if (typeof value.$bigint === "string") return BigInt(value.$bigint);
  if (typeof value.$float === "string") return Number(value.$float);
  if (value.$object !== null && typeof value.$object === "object") {
    return Object.fromEntries(
      Object.entries(value.$object).map(([key, item]) => [key, decodeValue(item)]),
    );
  }
  throw new BridgeError(`unknown value encoding: ${JSON.stringify(value)}`);
}

// JSON.stringify cannot carry bytes, BigInt or non-finite numbers: tag them. Nor can it say
// "float" for a whole number: Pyodide gives Python an int only for a safe integer, so a
// whole number beyond 2**53 - 1 (like NaN and the infinities: `x % 1` is NaN for those)
// is tagged as the float it becomes in a Python Worker.
function encodeResult(_key, value) {
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (typeof value === "number" && !Number.isSafeInteger(value) && !(value % 1)) {
    return { $float: String(value) };
  }
  if (value instanceof ArrayBuffer) return { $bytes: base64FromBytes(new Uint8Array(value)) };
  if (ArrayBuffer.isView(value)) {
    return { $bytes: base64FromBytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
  return value;
}

function statement(db, spec) {
  if (spec === null || typeof spec !== "object" || typeof spec.sql !== "string") {
    throw new BridgeError("a statement is {sql: string, params?: array}");
  }
  const stmt = db.prepare(spec.sql);
  if (spec.params === undefined) return stmt;
  if (!Array.isArray(spec.params)) throw new BridgeError("params must be an array");
  return stmt.bind(...spec.params.map(decodeValue));
}

// Everything a test may have created: tables (their indexes and triggers go with them) and
// views. D1's and SQLite's own tables (_cf_*, sqlite_*) are left alone.
async function reset(db) {
  const { results } = await db
    .prepare(
      "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') " +
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
    )
    .all();
  if (results.length === 0) return { dropped: [] };
  const quote = (name) => `"${name.replaceAll('"', '""')}"`;
  const drops = [db.prepare("PRAGMA defer_foreign_keys = ON")];
  for (const { type, name } of results.filter((r) => r.type === "view")) {
    drops.push(db.prepare(`DROP VIEW IF EXISTS ${quote(name)}`));
  }
  for (const { type, name } of results.filter((r) => r.type === "table")) {
    drops.push(db.prepare(`DROP TABLE IF EXISTS ${quote(name)}`));
  }
  await db.batch(drops);
  return { dropped: results.map((r) => r.name) };
}

async function run(db, body) {
  switch (body.op) {
    case "all":
      return statement(db, body).all();
    case "run":
      return statement(db, body).run();
    case "first":
      return body.column === undefined || body.column === null
        ? statement(db, body).first()
        : statement(db, body).first(body.column);
    case "raw":
      return statement(db, body).raw({ columnNames: body.columnNames === true });
    case "batch":
      if (!Array.isArray(body.statements)) throw new BridgeError("batch needs statements: array");
      return db.batch(body.statements.map((spec) => statement(db, spec)));
    case "exec":
      if (typeof body.sql !== "string") throw new BridgeError("exec needs sql: string");
      return db.exec(body.sql);
    case "reset":
      return reset(db);
    case "ping":
      return db.prepare("SELECT 1 AS ok").first("ok");
    default:
      throw new BridgeError(`unknown op: ${JSON.stringify(body.op)}`);
  }
}

function reply(status, payload) {
  return new Response(JSON.stringify(payload, encodeResult), {
    status,
    headers: { "content-type": "application/json" },
  });
}

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return reply(405, { ok: false, bridge_error: "POST only" });
    let body;
    try {
      body = await request.json();
    } catch (e) {
      return reply(400, { ok: false, bridge_error: `body is not JSON: ${e.message}` });
    }
    if (body === null || typeof body !== "object") {
      return reply(400, { ok: false, bridge_error: "body must be a JSON object" });
    }
    try {
      return reply(200, { ok: true, result: (await run(env.DB, body)) ?? null });
    } catch (e) {
      if (e instanceof BridgeError) return reply(400, { ok: false, bridge_error: e.message });
      return reply(200, {
        ok: false,
        error: {
          name: String(e?.name ?? "Error"),
          message: String(e?.message ?? e),
          cause: e?.cause === undefined ? null : String(e.cause?.message ?? e.cause),
        },
      });
    }
  },
};
