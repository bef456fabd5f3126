"""Values across the bridge's JSON, encoded as a Python Worker's binding would hand them to JS.

A Python Worker calls D1 through workers-runtime-sdk, which converts each argument to a JS
value (Pyodide's rules) before D1's ``bind()`` sees it. The bridge reproduces that
conversion, not D1's: it ships each value as the JS value Pyodide would make, and D1's own
``bind()`` (in workerd) decides what to store or refuse. Hence:

- ``None`` -> ``null`` (the 3.13 runtime with the PyPI SDK), ``bool`` -> ``boolean`` (D1 stores
  1/0), ``str`` -> ``string``, a finite ``float`` or a safe ``int`` -> ``number``;
- an ``int`` beyond 2**53 - 1 -> ``BigInt`` (D1 refuses it: ``D1_TYPE_ERROR``);
- ``bytes`` -> ``Uint8Array`` (D1 stores a BLOB); NaN and infinities stay numbers;
- ``list`` -> ``Array`` and ``dict`` -> ``Object`` (D1 decides what it makes of them);
- ``tuple`` and ``bytearray`` raise ``TypeError``, as the SDK's ``python_to_rpc`` does.
"""

from __future__ import annotations

import base64
import math
from typing import Any

__all__ = ["JsDict", "decode_result", "encode_value"]

_MAX_SAFE_INTEGER = 2**53 - 1


class JsDict(dict[str, Any]):
    """A dict that also answers attribute access, like the SDK's view of a JS object."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def encode_value(value: object) -> Any:
    """The JSON form of one bound value (see the module docstring)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            return {"$bigint": str(value)}
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {
            "$float": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        }
    if isinstance(value, bytes | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple | bytearray):
        # workers-runtime-sdk refuses these before JS sees them; so do we.
        raise TypeError(f"{type(value).__name__} cannot be passed to a JS binding")
    if isinstance(value, list):
        return [encode_value(item) for item in value]
    if isinstance(value, dict):
        return {"$object": {str(key): encode_value(item) for key, item in value.items()}}
    raise TypeError(f"the D1 bridge cannot send a value of type {type(value).__name__}")


def decode_result(value: Any) -> Any:
    """Turn the bridge's JSON answer back into what the SDK would give Python."""
    if isinstance(value, list):
        return [decode_result(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, tagged),) = value.items()
            if key == "$bytes":
                return base64.b64decode(tagged)
            if key == "$bigint":
                return int(tagged)
            if key == "$float":
                return float(tagged)
        return JsDict({key: decode_result(item) for key, item in value.items()})
    return value
