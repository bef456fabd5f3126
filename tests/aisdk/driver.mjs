// The AI SDK's own client code, driven from pytest: `node driver.mjs ai6` (or `ai7`, the
// npm aliases of package.json) reads one JSON request per line on stdin and answers one JSON
// line per request on stdout (requests run concurrently; answers carry their id).
//
// Requests ({"id", "op", ...}):
//   send       POST the messages through DefaultChatTransport.sendMessages and fold the
//              answer with readUIMessageStream, continuing the last message when it is the
//              assistant's (what useChat does for a new message or a tool answer);
//   reconnect  DefaultChatTransport.reconnectToStream (GET {api}/{chatId}/stream, no cursor)
//              folded into a fresh message (what useChat does on resume: the reply must be a
//              full replay of the response); null when the server says 204;
//   validate   safeValidateUIMessages on the given messages.
// `send` and `reconnect` take `stopAfter: {type, delta?}`: the reader leaves (aborts the
// request) right after the first chunk of that type (and delta), as a page being reloaded;
// and `signalAt` (the same shape): when that chunk passes, a line {"id", "signal": true}
// goes out at once, while the request reads on (the test then lets the run go on).
// Answers: {"id", "ok": true, "result"} or {"id", "ok": false, "error"}; a stream that the
// SDK refused (a chunk it could not apply) is an ok answer with `error` set, so the test
// can say what broke.

import readline from "node:readline";

const sdk = await import(process.argv[2]);
const { DefaultChatTransport, readUIMessageStream, safeValidateUIMessages } = sdk;

function plain(value) {
  // What JSON keeps (a message crosses the wire as JSON: undefined keys are not there).
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

const matches = (chunk, want) =>
  want != null && chunk.type === want.type && (want.delta === undefined || chunk.delta === want.delta);

async function fold(stream, message, { id, stopAfter, signalAt }, abort) {
  const chunks = [];
  let stopped = false;
  let signaled = false;
  const watched = stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        chunks.push(chunk);
        controller.enqueue(chunk);
        if (!signaled && matches(chunk, signalAt)) {
          signaled = true;
          process.stdout.write(JSON.stringify({ id, signal: true }) + "\n");
        }
        if (matches(chunk, stopAfter)) {
          stopped = true;
          controller.terminate();
          abort.abort();
        }
      },
    }),
  );
  let last = message;
  const errors = [];
  try {
    for await (const snapshot of readUIMessageStream({
      message,
      stream: watched,
      terminateOnError: true,
      onError: (error) => errors.push(String(error?.message ?? error)),
    })) {
      last = snapshot;
    }
  } catch (error) {
    if (!stopped) errors.push(String(error?.message ?? error));
  }
  return { message: plain(last), chunks: plain(chunks), stopped, error: errors[0] ?? null };
}

async function send(request) {
  const { api, chatId, messages, trigger = "submit-message", messageId, body } = request;
  const abort = new AbortController();
  const transport = new DefaultChatTransport({ api, body });
  const stream = await transport.sendMessages({
    chatId,
    messages,
    trigger,
    messageId,
    abortSignal: abort.signal,
  });
  const last = messages.at(-1);
  const continued = last?.role === "assistant" ? structuredClone(last) : undefined;
  return fold(stream, continued, request, abort);
}

async function reconnect(request) {
  const { api, chatId } = request;
  const abort = new AbortController();
  const transport = new DefaultChatTransport({ api });
  const stream = await transport.reconnectToStream({ chatId, abortSignal: abort.signal });
  if (stream == null) return null;
  return fold(stream, undefined, request, abort);
}

async function validate({ messages }) {
  const result = await safeValidateUIMessages({ messages });
  return result.success
    ? { success: true }
    : { success: false, error: String(result.error?.message ?? result.error) };
}

const ops = { send, reconnect, validate };
const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  if (!line.trim()) return;
  let request = {};
  try {
    request = JSON.parse(line);
    const result = await ops[request.op](request);
    process.stdout.write(JSON.stringify({ id: request.id, ok: true, result }) + "\n");
  } catch (error) {
    const text = String(error?.stack ?? error);
    process.stdout.write(JSON.stringify({ id: request.id, ok: false, error: text }) + "\n");
  }
});
process.stdout.write(JSON.stringify({ ready: true }) + "\n");
