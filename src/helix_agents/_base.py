"""The pydantic base shared by every persisted or streamed record.

JSON is camelCase on the wire and in storage (``suspension_context``'s ``$.expiresAt`` index
depends on it, and the TypeScript Helix runtime writes the same shape); Python attributes are
snake_case. Unknown keys are refused so that a JSON round trip is exact.
"""

from __future__ import annotations

import json
from typing import Any, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Record(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=False,
        ser_json_inf_nan="strings",
        # Build validators on first use, not at import: dozens of records would otherwise
        # cost most of the import time (and the Worker's cold start).
        defer_build=True,
    )

    def to_json(self) -> str:
        """Compact camelCase JSON, without ``None`` fields."""
        return self.model_dump_json(by_alias=True, exclude_none=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict of :meth:`to_json`."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_json(cls, data: str | bytes) -> Self:
        return cls.model_validate_json(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls.model_validate(data)


def dumps(value: Any) -> str:
    """Compact, deterministic JSON for values stored in SQL columns and step results."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
