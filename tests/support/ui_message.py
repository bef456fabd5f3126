"""The assistant message a ``useChat`` client builds from a UI message stream, for tests that
compare what a reader ends up with against what the run stored (the snapshot's
``to_ui_messages``). A stand-in where the real SDK cannot run (the loop, crash and
Cloudflare-fake tests); ``tests/aisdk`` runs the real ``ai`` packages against the server.

It follows the AI SDK's ``processUIMessageStream`` for the chunks the runtime emits
(docs/streaming.md): ``start-step`` adds a ``step-start`` part, text
and reasoning parts grow by their deltas and are ``done`` at their end, a tool part moves
through its states, a non-transient ``data-*`` part with an id replaces the one before it.
Transient data parts go to ``on_data`` only, where this client does what docs/streaming.md
asks of an app: on ``data-reset-step`` (v6) or ``reset-step`` (v7) it drops the parts after
the message's last ``step-start``. It also counts the stream's ``finish`` chunks. As in the
SDK, a tool chunk for a call the message has no part for is an error, never a new part.
"""

from __future__ import annotations

from typing import Any

from helix_agents.chunks import SequencedChunk
from helix_agents.streaming.ui import UIMessageEncoder, UIVersion

__all__ = ["UIMessageAssembler"]


class UIMessageAssembler:
    def __init__(self, *, after: int = 0, ui_version: UIVersion = 6) -> None:
        self.encoder = UIMessageEncoder(after=after, ui_version=ui_version)
        self.message: dict[str, Any] | None = None
        self.finishes = 0
        self.resets = 0
        self.ui_chunks: list[dict[str, Any]] = []
        self._open: dict[str, dict[str, Any]] = {}

    def feed(self, items: list[SequencedChunk]) -> None:
        """Map a reader's chunks (in order) and apply the UI chunks they become."""
        for item in items:
            ui = self.encoder.encode(item)
            if ui is not None:
                self.apply(ui)

    def apply(self, chunk: dict[str, Any]) -> None:
        self.ui_chunks.append(chunk)
        kind = chunk["type"]
        if kind == "start":
            if self.message is None or self.message["id"] != chunk.get("messageId"):
                self.message = {"id": chunk.get("messageId"), "role": "assistant", "parts": []}
            return
        parts = self._parts()
        if kind == "start-step":
            parts.append({"type": "step-start"})
        elif kind in ("text-start", "reasoning-start"):
            part = {"type": kind.split("-")[0], "text": "", "state": "streaming"}
            parts.append(part)
            self._open[chunk["id"]] = part
        elif kind in ("text-delta", "reasoning-delta"):
            self._open[chunk["id"]]["text"] += chunk["delta"]
        elif kind in ("text-end", "reasoning-end"):
            self._open.pop(chunk["id"])["state"] = "done"
        elif kind == "finish-step":
            self._open.clear()
        elif kind.startswith("tool-"):
            self._tool(kind, chunk)
        elif kind == "reset-step":
            self._reset()
        elif kind.startswith("data-"):
            if chunk.get("transient"):
                self.on_data(chunk)
                return
            part = {"type": kind, "id": chunk.get("id"), "data": chunk["data"]}
            for i, old in enumerate(parts):
                if part["id"] is not None and (old["type"], old.get("id")) == (kind, part["id"]):
                    parts[i] = part
                    break
            else:
                parts.append(part)
        elif kind in ("source-url", "source-document"):
            # The SDK appends a part per source chunk, with the chunk's own fields.
            parts.append({k: v for k, v in chunk.items() if k != "providerMetadata"})
        elif kind == "finish":
            self.finishes += 1

    def on_data(self, chunk: dict[str, Any]) -> None:
        if chunk["type"] == "data-reset-step":
            self._reset()

    def _reset(self) -> None:
        parts = self._parts()
        starts = [i for i, p in enumerate(parts) if p["type"] == "step-start"]
        if starts:
            del parts[starts[-1] + 1 :]
        self._open.clear()
        self.resets += 1

    def _tool(self, kind: str, chunk: dict[str, Any]) -> None:
        parts = self._parts()
        if kind == "tool-approval-response":  # v7: the decision, found by its approval id
            approval_id = chunk["approvalId"]
            asked = [p for p in parts if (p.get("approval") or {}).get("id") == approval_id]
            if not asked:
                raise AssertionError(f"a decision on approval {approval_id!r}, never requested")
            decision = {"id": approval_id, "approved": chunk["approved"]}
            if "reason" in chunk:
                decision["reason"] = chunk["reason"]
            asked[0].update(state="approval-responded", approval=decision)
            return
        call_id = chunk["toolCallId"]
        part = next((p for p in parts if p.get("toolCallId") == call_id), None)
        if part is None:
            # Only these chunks make a part; any other for a call the message has no part
            # for is an error in the SDK ("No tool invocation found for tool call ID").
            if kind not in ("tool-input-start", "tool-input-available", "tool-input-error"):
                raise AssertionError(f"{kind} for tool call {call_id!r}, which has no part")
            part = {"type": f"tool-{chunk.get('toolName')}", "toolCallId": call_id}
            parts.append(part)
        if kind == "tool-input-start":
            part["state"] = "input-streaming"
        elif kind == "tool-input-available":
            part.update(state="input-available", input=chunk["input"])
        elif kind == "tool-input-error":
            part.update(state="output-error", input=chunk["input"], errorText=chunk["errorText"])
        elif kind == "tool-approval-request":
            part.update(state="approval-requested", approval={"id": chunk["approvalId"]})

        elif kind == "tool-output-available":
            part.update(state="output-available", output=chunk["output"])
        elif kind == "tool-output-error":
            part.update(state="output-error", errorText=chunk["errorText"])
        elif kind == "tool-output-denied":
            part["state"] = "output-denied"

    def _parts(self) -> list[dict[str, Any]]:
        assert self.message is not None, "a UI chunk before the stream's start"
        parts: list[dict[str, Any]] = self.message["parts"]
        return parts


async def stored_and_replayed(host: Any, session_id: str, stream_id: str) -> tuple[Any, Any]:
    """A local host's view of a finished run: the session's last message as its snapshot
    stores it, and a reader that replayed the run's whole stream."""
    from helix_agents.http.snapshot import build_snapshot

    state = await host.store.load_session(session_id)
    assert state is not None
    stored = (await build_snapshot(host.executor, state))["messages"][-1]
    replay = UIMessageAssembler()
    replay.feed((await host.streams.read(stream_id, after=0, limit=10_000)).chunks)
    return stored, replay
