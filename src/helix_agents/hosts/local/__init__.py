"""The local host: SQLite state, the local step engine and in-process streams."""

from .host import LocalHost

__all__ = ["LocalHost"]
