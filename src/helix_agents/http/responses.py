"""JSON responses that never fail to render.

Starlette's ``JSONResponse`` refuses NaN and infinities; a tool's output or a session's
stored values may hold them, and a snapshot must still answer. They become strings, as they
do on the stream.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from starlette.responses import JSONResponse

__all__ = ["JsonResponse"]


class JsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return to_json(content, inf_nan_mode="strings", serialize_unknown=True)
