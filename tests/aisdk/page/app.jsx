// A useChat app as the AI SDK documents it, against the helix-agents API on the same origin,
// bundled once per SDK pair (ai 6 + @ai-sdk/react 3, ai 7 + @ai-sdk/react 4; `ai` and
// `@ai-sdk/react` are aliased at build time). The page is driven from pytest over the
// DevTools protocol through `window.__t`.
//
// The URL names the chat: ?session=<id>&agent=<name>&v=<6|7>. On load the page reads the
// session's snapshot (GET /chat/{id}) for its initial messages and, when the session
// exists, mounts useChat with `resume: true`: GET /chat/{id}/stream replays the active
// turn's response (204 when nothing runs).
//
// With ai 6 the page does one thing more, after a stream it got by resuming: it takes the
// messages from the snapshot. ai 6 has no stream chunk for an approval decision, so a message
// it rebuilt from a replay shows a decided call's approval as a bare {id} (its own
// validator refuses that on output-available and output-denied parts). `__t.beforeResync`
// keeps what the replay built, for the test to check.

import { useChat } from "@ai-sdk/react";
import {
  DefaultChatTransport,
  lastAssistantMessageIsCompleteWithApprovalResponses,
  lastAssistantMessageIsCompleteWithToolCalls,
  safeValidateUIMessages,
} from "ai";
import { createRoot } from "react-dom/client";

const params = new URLSearchParams(location.search);
const session = params.get("session");
const agent = params.get("agent");
const version = Number(params.get("v"));

const plain = (value) => JSON.parse(JSON.stringify(value ?? null));

async function fetchSnapshot() {
  const response = await fetch(`/chat/${encodeURIComponent(session)}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`snapshot: HTTP ${response.status}`);
  return response.json();
}

const t = {
  version,
  ready: false,
  chat: null,
  errors: [],
  finishes: [],
  // True while the response being read is a replay (a resume); `replays` counts the ones
  // that finished.
  replaying: false,
  replays: 0,
  beforeResync: null,
  resynced: 0,
  messages: () => plain(t.chat.messages),
  status: () => t.chat.status,
  send: (text) => {
    void t.chat.sendMessage({ text });
    return true;
  },
  approve: (id, approved, reason) => {
    void t.chat.addToolApprovalResponse(reason === undefined ? { id, approved } : { id, approved, reason });
    return true;
  },
  output: (tool, toolCallId, output) => {
    void t.chat.addToolOutput({ tool, toolCallId, output });
    return true;
  },
  resume: () => {
    t.replaying = true;
    void t.chat.resumeStream();
    return true;
  },
  validate: async (messages) => {
    const result = await safeValidateUIMessages({ messages: messages ?? t.chat.messages });
    return result.success
      ? { success: true }
      : { success: false, error: String(result.error?.message ?? result.error) };
  },
};
window.__t = t;

async function resync(messages) {
  t.beforeResync = plain(messages);
  const snapshot = await fetchSnapshot();
  t.chat.setMessages(snapshot.messages);
  t.resynced += 1;
}

const transport = new DefaultChatTransport({ api: "/chat", body: { agentType: agent } });

function App({ initial, resume }) {
  const chat = useChat({
    id: session,
    messages: initial,
    resume,
    transport,
    sendAutomaticallyWhen: (options) =>
      lastAssistantMessageIsCompleteWithApprovalResponses(options) ||
      lastAssistantMessageIsCompleteWithToolCalls(options),
    onError: (error) => t.errors.push(String(error?.message ?? error)),
    onFinish: ({ messages, finishReason, isAbort, isDisconnect, isError }) => {
      const replay = t.replaying;
      t.finishes.push({ finishReason: finishReason ?? null, isAbort, isDisconnect, isError, replay });
      if (!replay) return;
      t.replaying = false;
      t.replays += 1;
      if (version === 6) void resync(messages);
    },
  });
  t.chat = chat;
  return (
    <main>
      <p id="status">{chat.status}</p>
      {chat.messages.map((message) => (
        <section key={message.id} data-role={message.role}>
          {message.parts.map((part, i) => (
            <pre key={i} data-type={part.type}>
              {part.type === "text" ? part.text : JSON.stringify(part)}
            </pre>
          ))}
        </section>
      ))}
    </main>
  );
}

const snapshot = await fetchSnapshot();
t.initialSnapshot = snapshot;
t.replaying = snapshot?.activeRun != null;
createRoot(document.getElementById("root")).render(
  <App initial={snapshot?.messages ?? []} resume={snapshot !== null} />,
);
t.ready = true;
