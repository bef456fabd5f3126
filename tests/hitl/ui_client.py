"""A small stand-in for the AI SDK's ``useChat`` client: what it keeps, what it posts.

It folds the UI message stream into UI messages the way the AI SDK's
``processUIMessageStream`` does for the parts these tests use (text, tool parts and their
states), continues the last assistant message when a response to a continuation starts,
and offers ``addToolApprovalResponse`` / ``addToolOutput`` and the automatic re-send, which
posts every message again (as ``sendAutomaticallyWhen`` does).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.http.harness import Wire, read_wire


class ChatClient:
    def __init__(self, http: httpx.AsyncClient, chat_id: str, *, agent: str) -> None:
        self.http = http
        self.chat_id = chat_id
        self.agent = agent
        self.messages: list[dict[str, Any]] = []
        self._count = 0

    # -- what the app calls ------------------------------------------------------------------

    async def send_message(self, text: str) -> Wire:
        self._count += 1
        self.messages.append(
            {"id": f"u{self._count}", "role": "user", "parts": [{"type": "text", "text": text}]}
        )
        return await self._post()

    def add_tool_approval_response(
        self, approval_id: str, approved: bool, reason: str | None = None
    ) -> None:
        part = self._part(lambda p: (p.get("approval") or {}).get("id") == approval_id)
        approval: dict[str, Any] = {"id": approval_id, "approved": approved}
        if reason is not None:
            approval["reason"] = reason
        part["state"] = "approval-responded"
        part["approval"] = approval

    def add_tool_output(self, tool_call_id: str, output: Any) -> None:
        part = self._part(lambda p: p.get("toolCallId") == tool_call_id)
        part["state"] = "output-available"
        part["output"] = output

    async def send_automatically(self) -> Wire:
        """The re-send ``sendAutomaticallyWhen`` triggers: every message again."""
        return await self._post()

    # -- the protocol ------------------------------------------------------------------------

    async def post_raw(self, messages: list[dict[str, Any]], **headers: str) -> httpx.Response:
        body = {"id": self.chat_id, "messages": messages, "trigger": "submit-message"}
        return await self.http.post(
            "/chat", params={"agent": self.agent}, json=body, headers=headers
        )

    async def _post(self) -> Wire:
        body = {"id": self.chat_id, "messages": self.messages, "trigger": "submit-message"}
        async with self.http.stream(
            "POST", "/chat", params={"agent": self.agent}, json=body
        ) as response:
            assert response.status_code == 200, (response.status_code, await response.aread())
            assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
            wire = await read_wire(response)
        assert wire.done
        self._apply(wire.chunks)
        return wire

    def _apply(self, chunks: list[dict[str, Any]]) -> None:
        message: dict[str, Any] | None = None
        texts: dict[str, dict[str, Any]] = {}
        for chunk in chunks:
            kind = chunk["type"]
            if kind == "start":
                last = self.messages[-1] if self.messages else None
                if last is not None and last["role"] == "assistant":
                    message = last  # a continuation: the same message goes on
                else:
                    message = {"id": chunk.get("messageId"), "role": "assistant", "parts": []}
                    self.messages.append(message)
                continue
            assert message is not None, "a stream starts with 'start'"
            parts = message["parts"]
            if kind == "start-step":
                parts.append({"type": "step-start"})
            elif kind == "text-start":
                texts[chunk["id"]] = {"type": "text", "text": "", "state": "streaming"}
                parts.append(texts[chunk["id"]])
            elif kind == "text-delta":
                texts[chunk["id"]]["text"] += chunk["delta"]
            elif kind == "text-end":
                texts[chunk["id"]]["state"] = "done"
            elif kind == "tool-input-start":
                parts.append(
                    {
                        "type": f"tool-{chunk['toolName']}",
                        "toolCallId": chunk["toolCallId"],
                        "state": "input-streaming",
                    }
                )
            elif kind in ("tool-input-available", "tool-input-error"):
                part = self._tool(parts, chunk)
                part["state"] = (
                    "input-available" if kind == "tool-input-available" else ("output-error")
                )
                part["input"] = chunk.get("input")
                if "errorText" in chunk:
                    part["errorText"] = chunk["errorText"]
            elif kind == "tool-approval-request":
                part = self._tool(parts, chunk)
                part["state"] = "approval-requested"
                part["approval"] = {"id": chunk["approvalId"]}
            elif kind == "tool-output-available":
                part = self._tool(parts, chunk)
                part["state"] = "output-available"
                part["output"] = chunk["output"]
            elif kind == "tool-output-error":
                part = self._tool(parts, chunk)
                part["state"] = "output-error"
                part["errorText"] = chunk["errorText"]
            elif kind == "tool-output-denied":
                part = self._tool(parts, chunk)
                part["state"] = "output-denied"

    def _tool(self, parts: list[dict[str, Any]], chunk: dict[str, Any]) -> dict[str, Any]:
        for part in parts:
            if part.get("toolCallId") == chunk["toolCallId"]:
                return part
        # A continuation may carry a part whose start was in an earlier response.
        for message in self.messages:
            found: dict[str, Any]
            for found in message["parts"]:
                if found.get("toolCallId") == chunk["toolCallId"]:
                    return found
        part = {"type": f"tool-{chunk.get('toolName', 'unknown')}", **chunk}
        parts.append(part)
        return part

    def _part(self, match: Any) -> dict[str, Any]:
        for message in reversed(self.messages):
            part: dict[str, Any]
            for part in message["parts"]:
                if part.get("type", "").startswith("tool-") and match(part):
                    return part
        raise AssertionError("no such tool part")

    # -- reading -----------------------------------------------------------------------------

    @property
    def last(self) -> dict[str, Any]:
        return self.messages[-1]

    def tool_parts(self) -> list[dict[str, Any]]:
        return [p for p in self.last["parts"] if p.get("type", "").startswith("tool-")]

    def text(self) -> str:
        return "".join(p["text"] for p in self.last["parts"] if p["type"] == "text")
