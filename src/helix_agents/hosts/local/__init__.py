"""The local host: SQLite state, the local step engine and in-process streams.

:class:`LocalHost` wires them; the engine (:class:`LocalEngine`, :class:`LocalLauncher`)
and :class:`LocalStreamManager` are public for those who wire their own.
"""

from .engine import LocalEngine, LocalLauncher
from .host import LocalHost
from .streams import LocalStreamManager

__all__ = ["LocalEngine", "LocalHost", "LocalLauncher", "LocalStreamManager"]
