"""Install the fake ``workers``, ``js`` and ``pyodide`` modules, so that a Worker's code (the
real ``src/entry.py`` included) imports and runs on CPython.

:func:`install` puts into ``sys.modules``:

- ``workers``: :mod:`.workers_sdk` (the SDK's classes and conversions), with the installed
  workers-runtime-sdk's directory on its ``__path__``, so that ``workers.asgi`` and
  ``workers.gateway`` are the SDK's own, unchanged files; ``workers.workflows``
  (``NonRetryableError``) and ``workers.utils`` (``_to_js_headers``) are ours, because the
  SDK's need the real runtime;
- ``js``: the JS web APIs of :mod:`.jsruntime`, ``WebSocketPair`` and
  ``WebSocketRequestResponsePair`` from :mod:`.websockets`, ``Object``;
- ``pyodide`` / ``pyodide.ffi``: ``to_js`` (lists become JS arrays, dicts JS objects or
  Maps), ``create_proxy``, ``JsException``, ``JsProxy``, ``jsnull``.

It is idempotent and leaves everything else alone. :func:`uninstall` puts back what was there.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

from . import jsruntime, websockets
from .jsvalues import JsArray, JsException, JsObject

__all__ = ["install", "installed", "uninstall", "workers_module"]

_NAMES = ("workers", "workers.workflows", "workers.utils", "js", "pyodide", "pyodide.ffi")
_saved: dict[str, Any] | None = None


class NonRetryableError(Exception):
    """``workers.workflows.NonRetryableError``: a step error Workflows never retries."""


NonRetryableError.__module__ = "workers.workflows"


class _ObjectType:
    """``js.Object``: only ``fromEntries`` is used (as ``to_js``'s dict converter)."""

    @staticmethod
    def fromEntries(entries: Any) -> JsObject:
        return JsObject(dict(entries))


class _JsMap(dict[Any, Any]):
    """A JS ``Map`` (what ``to_js`` makes of a dict without a converter)."""


def _to_js(
    value: Any,
    *,
    depth: int = -1,
    pyproxies: Any = None,
    create_pyproxies: bool = True,
    dict_converter: Any = None,
    default_converter: Any = None,
    eager_converter: Any = None,
) -> Any:
    if isinstance(value, dict):
        items = {k: _to_js(v, dict_converter=dict_converter) for k, v in value.items()}
        if dict_converter is not None:
            return dict_converter(items.items())
        return _JsMap(items)
    if isinstance(value, list | tuple):
        return JsArray(_to_js(v, dict_converter=dict_converter) for v in value)
    return value


def _sdk_dir() -> str | None:
    """The installed workers-runtime-sdk's ``workers`` folder (without importing it)."""
    spec = importlib.util.find_spec("workers")
    if spec is None or spec.origin is None:
        return None
    return str(Path(spec.origin).parent)


def installed() -> bool:
    return getattr(sys.modules.get("workers"), "__helix_fake__", False) is True


def workers_module() -> Any:
    install()
    return sys.modules["workers"]


def install() -> None:
    """Install the fake modules (see the module docstring)."""
    global _saved
    if installed():
        return
    sdk_dir = _sdk_dir() if "workers" not in sys.modules else None
    _saved = {name: sys.modules.get(name) for name in _NAMES}
    for name in list(sys.modules):
        if name.startswith(("workers.", "pyodide.")) and name not in _NAMES:
            _saved[name] = sys.modules.pop(name)

    from . import workers_sdk

    workers = _module(
        "workers",
        __doc__=workers_sdk.__doc__,
        __path__=[sdk_dir] if sdk_dir else [],
        __helix_fake__=True,
        **{
            attr: getattr(workers_sdk, attr)
            for attr in [*workers_sdk.__all__, "waitUntil", "FetchResponse", "handler", "pending"]
        },
    )
    workflows = _module("workers.workflows", NonRetryableError=NonRetryableError)
    utils = _module("workers.utils", _to_js_headers=jsruntime.headers_of)
    workers.workflows = workflows  # type: ignore[attr-defined]
    workers.utils = utils  # type: ignore[attr-defined]
    js = _module(
        "js",
        Object=_ObjectType,
        Headers=jsruntime.JsHeaders,
        URL=jsruntime.JsURL,
        Request=jsruntime.JsRequest,
        Response=jsruntime.JsResponse,
        ReadableStream=jsruntime.JsReadableStream,
        TransformStream=jsruntime.JsTransformStream,
        WebSocketPair=websockets.WebSocketPair,
        WebSocketRequestResponsePair=websockets.WebSocketRequestResponsePair,
    )
    ffi = _module(
        "pyodide.ffi",
        to_js=_to_js,
        create_proxy=jsruntime.create_proxy,
        create_once_callable=jsruntime.create_proxy,
        destroy_proxies=lambda proxies: None,
        JsException=JsException,
        JsProxy=type("JsProxy", (), {}),
        jsnull=None,
    )
    pyodide = _module("pyodide", __version__="0.28.2", __path__=[], ffi=ffi)

    sys.modules.update(
        {
            "workers": workers,
            "workers.workflows": workflows,
            "workers.utils": utils,
            "js": js,
            "pyodide": pyodide,
            "pyodide.ffi": ffi,
        }
    )


def _module(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


def uninstall() -> None:
    """Put back the modules :func:`install` replaced."""
    global _saved
    if _saved is None:
        return
    for name in list(sys.modules):
        if name.startswith(("workers.", "pyodide.")) or name in _NAMES:
            sys.modules.pop(name, None)
    for name, module in _saved.items():
        if module is not None:
            sys.modules[name] = module
    _saved = None


def asgi_module() -> Any:
    """The SDK's ``workers.asgi``, running over the fakes."""
    install()
    try:
        return importlib.import_module("workers.asgi")
    except ImportError as exc:
        raise ImportError(
            "workers.asgi comes from the workers-runtime-sdk package (the dev dependency "
            f"group): install it to run a Worker's fetch on CPython ({exc})"
        ) from exc
