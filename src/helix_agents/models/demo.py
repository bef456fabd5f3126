""":class:`DemoModel`: the offline model the bundled examples run on when no LLM is set up.

It lives here, beside the real adapters, because a deployed Worker serves the examples on it
until a model is configured: it is part of the product, unlike the test models of
:mod:`helix_agents.testing` (which exercise an agent: every tool, placeholder arguments).
The demo model instead answers the way a person trying ``helix dev`` expects, within a few
fixed rules: "what is 12*7?" calls ``calculate`` and then says ``12*7 = 84.``; the weather,
notes, service checks and approved deploys, delegation to a sub-agent and structured trip
plans work the same way (:mod:`._demo_script` has the rules). Anything else gets a short
reply saying what it is and how to configure a real model.

Text streams word by word. ``delta_delay`` seconds between pieces (zero by default) make a
watched stream arrive at a reading pace: the bundled examples use :data:`DEMO_DELAY` under
``helix dev`` and ``helix run``. ``sleep`` is what waits, replaceable so that a test of the
pace never sleeps for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from ..errors import ConfigurationError
from ..ports.model import ModelEvent, ModelRequest, ModelResponse, TextDelta, ToolCallDelta
from ._demo_script import script
from ._offline import WORDS, compact, usage_in_words, with_ids

__all__ = ["DEMO_DELAY", "DemoModel"]

#: Seconds between two streamed pieces for a person watching: about 40 words a second,
#: quicker than reading, slow enough to see the answer stream in.
DEMO_DELAY = 0.025


class DemoModel:
    """A scripted offline model for demos of the bundled examples (see the module docstring).

    Deterministic: the same request always gets the same response, ids included.
    """

    def __init__(
        self,
        *,
        delta_delay: float = 0.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        name: str = "demo",
    ) -> None:
        if not delta_delay >= 0:
            raise ConfigurationError("delta_delay must be zero or a positive number of seconds")
        self.delta_delay = float(delta_delay)
        self.sleep = sleep
        self.name = name

    def __repr__(self) -> str:
        return f"DemoModel(delta_delay={self.delta_delay!r})"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        reply = script(request)
        calls = with_ids(reply.calls, request.messages)
        for index, piece in enumerate(WORDS.findall(reply.text)):
            if index:
                await self._pause()
            yield TextDelta(piece)
        for index, call in enumerate(calls):
            await self._pause()
            yield ToolCallDelta(
                index=index, id=call.id, name=call.name, arguments_delta=compact(call.arguments)
            )
        yield ModelResponse(
            text=reply.text,
            tool_calls=calls,
            usage=usage_in_words(request, reply.text, calls),
            finish_reason="tool-calls" if calls else "stop",
            model_name=self.name,
        )

    async def _pause(self) -> None:
        if self.delta_delay > 0:
            await self.sleep(self.delta_delay)
