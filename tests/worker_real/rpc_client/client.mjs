// A second Worker, in JavaScript, bound to the helix Worker by a service binding (HELIX):
// each POST /__test__/rpc/<op> calls one of the helix Worker's RPC methods with the JSON
// body's fields and answers {"answer": <what the method returned>}. POST .../follow starts a
// run and follows it to its end over RPC alone (result polled, then the snapshot read).
export default {
  async fetch(request, env) {
    const op = new URL(request.url).pathname.split("/").pop();
    const b = request.method === "POST" ? await request.json() : {};
    const helix = env.HELIX;
    try {
      let answer;
      switch (op) {
        case "start_run":
          answer = await helix.start_run(
            b.agentType, b.message, b.sessionId ?? null, b.metadata ?? null, b.messageId ?? null,
          );
          break;
        case "result":
          answer = await helix.result(b.sessionId);
          break;
        case "snapshot":
          answer = await helix.snapshot(b.sessionId);
          break;
        case "submit_tool_result":
          answer = await helix.submit_tool_result(
            b.sessionId, b.toolCallId, b.result ?? null, b.isError ?? false,
          );
          break;
        case "approve":
          answer = await helix.approve(b.sessionId, b.toolCallId, b.approved ?? true, b.reason ?? null);
          break;
        case "interrupt":
          answer = await helix.interrupt(b.sessionId, b.reason ?? null);
          break;
        case "abort":
          answer = await helix.abort(b.sessionId, b.reason ?? null);
          break;
        case "follow": {
          const started = await helix.start_run(b.agentType, b.message, b.sessionId ?? null, null, null);
          if (started.error) {
            answer = { started };
            break;
          }
          let result = await helix.result(started.sessionId);
          const deadline = Date.now() + 60000;
          while (!result.done && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            result = await helix.result(started.sessionId);
          }
          const snapshot = await helix.snapshot(started.sessionId);
          answer = { started, result, snapshot };
          break;
        }
        default:
          return Response.json({ thrown: `no operation ${op}` }, { status: 404 });
      }
      return Response.json({ answer });
    } catch (e) {
      return Response.json({ thrown: String(e && e.stack || e) }, { status: 500 });
    }
  },
};
