""":class:`DemoModel`: the offline model the bundled examples run on when no LLM is set up.

:class:`~.models.TestModel` exercises an agent (every tool, placeholder arguments); the demo
model instead answers the way a person trying ``helix dev`` expects, within a few fixed
rules: "what is 12*7?" calls ``calculate`` and then says ``12*7 = 84.``; the weather,
notes, service checks and approved deploys, delegation to a sub-agent and structured trip
plans work the same way (:mod:`._demo_script` has the rules). Anything else gets a short
reply saying what it is and how to configure a real model.

Text streams word by word, ``pace`` seconds apart, so that a chat page shows it arriving;
``sleep`` is what waits, replaceable so that tests never sleep for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from ..errors import ConfigurationError
from ..ports.model import ModelEvent, ModelRequest, ModelResponse, TextDelta, ToolCallDelta
from ._demo_script import script
from .models import _WORDS, _compact, _usage, _with_ids

__all__ = ["DEMO_PACE", "DemoModel"]

#: Seconds between two streamed pieces: about 40 words a second, quicker than reading.
DEMO_PACE = 0.025


class DemoModel:
    """A scripted offline model for demos of the bundled examples (see the module docstring).

    Deterministic: the same request always gets the same response, ids included.
    """

    def __init__(
        self,
        *,
        pace: float = DEMO_PACE,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        name: str = "demo",
    ) -> None:
        if not pace >= 0:
            raise ConfigurationError("pace must be zero or a positive number of seconds")
        self.pace = float(pace)
        self.sleep = sleep
        self.name = name

    def __repr__(self) -> str:
        return f"DemoModel(pace={self.pace!r})"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        reply = script(request)
        calls = _with_ids(reply.calls, request.messages)
        for index, piece in enumerate(_WORDS.findall(reply.text)):
            if index:
                await self._pause()
            yield TextDelta(piece)
        for index, call in enumerate(calls):
            await self._pause()
            yield ToolCallDelta(
                index=index, id=call.id, name=call.name, arguments_delta=_compact(call.arguments)
            )
        yield ModelResponse(
            text=reply.text,
            tool_calls=calls,
            usage=_usage(request, reply.text, calls),
            finish_reason="tool-calls" if calls else "stop",
            model_name=self.name,
        )

    async def _pause(self) -> None:
        if self.pace > 0:
            await self.sleep(self.pace)
