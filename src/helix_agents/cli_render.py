"""Chunks as terminal lines, for ``helix run``, ``attach`` and the commands that follow a
run: the host's own chunks, or the AI SDK UI chunks the HTTP API streams."""

from __future__ import annotations

import json
from typing import Any, TextIO

__all__ = ["Renderer", "short"]


class Renderer:
    """Chunks as terminal lines: the host's own chunks (``render``) or the AI SDK UI chunks
    of the HTTP API (``render_ui``)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.at_line_start = True
        tty = out.isatty()
        self.dim = "\x1b[2m" if tty else ""
        self.reset = "\x1b[0m" if tty else ""
        self._tool_names: dict[str, str] = {}

    def _line(self, text: str) -> None:
        if not self.at_line_start:
            self.out.write("\n")
        self.out.write(f"{self.dim}{text}{self.reset}\n")
        self.at_line_start = True

    def _text(self, delta: str) -> None:
        self.out.write(delta)
        self.at_line_start = delta.endswith("\n")

    def render(self, chunk: Any) -> None:
        kind = chunk.type
        prefix = f"[{chunk.agent}] " if getattr(chunk, "agent", None) else ""
        if kind == "text-delta":
            self._text(chunk.delta)
        elif kind == "reasoning-delta":
            self.out.write(f"{self.dim}{chunk.delta}{self.reset}")
            self.at_line_start = False
        elif kind == "tool-input-available":
            args = json.dumps(chunk.input, ensure_ascii=False)
            self._line(f"{prefix}→ {chunk.tool_name}({args})")
        elif kind == "tool-output":
            self._line(f"{prefix}← {short(chunk.output)}")
        elif kind == "tool-error":
            self._line(f"{prefix}✗ {chunk.error}")
        elif kind == "tool-approval-request":
            self._line(f"{prefix}? approval needed for {chunk.tool_call_id}")
        elif kind == "data":
            self._line(f"{prefix}• {chunk.name}: {short(chunk.data)}")
        elif kind == "error":
            self._line(f"{prefix}error: {chunk.message}")
        elif kind == "output":
            self._line(f"output: {json.dumps(chunk.output, ensure_ascii=False)}")
        elif kind == "subagent-start":
            self._line(f"⇢ sub-agent {chunk.child_agent_type} ({chunk.child_session_id})")
        elif kind == "subagent-end":
            self._line(f"⇠ sub-agent {chunk.child_agent_type}: {chunk.status}")
        elif kind == "step-reset":
            # A step retried after a crash or an error: what it printed is superseded.
            self._line("↺ the step started over; its text above is replaced by what follows")

    def render_ui(self, chunk: dict[str, Any]) -> None:
        kind = chunk.get("type")
        if kind == "text-delta":
            self._text(str(chunk.get("delta", "")))
        elif kind == "reasoning-delta":
            self.out.write(f"{self.dim}{chunk.get('delta', '')}{self.reset}")
            self.at_line_start = False
        elif kind == "tool-input-available":
            self._tool_names[str(chunk.get("toolCallId"))] = str(chunk.get("toolName"))
            args = json.dumps(chunk.get("input"), ensure_ascii=False)
            self._line(f"→ {chunk.get('toolName')}({args})")
        elif kind == "tool-output-available":
            self._line(f"← {short(chunk.get('output'))}")
        elif kind == "tool-output-error":
            self._line(f"✗ {chunk.get('errorText')}")
        elif kind == "tool-output-denied":
            self._line(f"✗ denied: {chunk.get('toolCallId')}")
        elif kind == "tool-approval-request":
            self._line(f"? approval needed for {chunk.get('toolCallId')}")
        elif kind == "error":
            self._line(f"error: {chunk.get('errorText')}")
        elif kind in ("reset-step", "data-reset-step"):
            self._line("↺ the step started over; its text above is replaced by what follows")
        elif kind == "data-output":
            self._line(f"output: {json.dumps(chunk.get('data'), ensure_ascii=False)}")

    def finish(self, session_id: str, status: str) -> None:
        self._line(f"[{status}] session {session_id}")


def short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
