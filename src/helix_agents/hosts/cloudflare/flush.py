"""The stream flush policy of the Cloudflare host.

Every stream write of a step is a Durable Object call, i.e. a subrequest of the Workflow
step's invocation, so the policy trades a little latency for far fewer calls. The targets
(issue 5, measured by ``benchmarks/cloudflare_platform_calls.py``):

- the first chunk of a step goes out at once (the StreamWriter always does that), so a
  reader sees the model start;
- with a live reader (a WebSocket, a waiting long-poll read, or a read that returned within
  the last second: the Durable Object counts them in every write's answer), buffered text
  waits at most ``live_interval`` = 250 ms, which is at most 4 writes per second of
  streaming: ``2 + 4/s`` calls per model step, counting the first write and the last;
- with no reader, at most one write per ``idle_interval`` = 2 s: nobody is watching, and the
  step persists the complete message in D1 anyway;
- however long a step streams, the interval doubles after every ``widen_after`` = 50 writes,
  so a step that streamed for the whole 10 minutes of its timeout has made fewer than 300
  calls (1,000 is the platform's limit per invocation).

A reader that connects while a step is in its idle rhythm is noticed at the step's next
write (within ``idle_interval``), and from then on gets the live rhythm.
"""

from __future__ import annotations

from typing import Final

from ...core.stream_writer import FlushPolicy

__all__ = ["CLOUDFLARE_FLUSH_POLICY"]

#: The default flush policy of the Cloudflare host (see the module docstring).
CLOUDFLARE_FLUSH_POLICY: Final = FlushPolicy(
    live_interval=0.25,
    idle_interval=2.0,
    widen_after=50,
    widen_factor=2.0,
    max_buffer=2000,
)
