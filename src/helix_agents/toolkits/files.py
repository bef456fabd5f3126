"""File tools over the object-storage port: list, read, write and delete text files.

``file_toolkit(prefix="notes/")`` gives an agent four tools (``list_files``,
``read_file``, ``write_file``, ``delete_file``; ``writable=False`` keeps the first two)
over ``ctx.services.objects``: R2 on Cloudflare, files under the data directory locally.
The model names files by relative paths (``"plans/q3.md"``); each is the object
``<prefix><path>`` (with ``scope="session"``, ``<prefix><session id>/<path>``: each chat
its own folder). A path that climbs out (``..``), starts with ``/`` or has empty segments
is refused, with a message the model can act on. Reads return text, cut at
``max_read_chars`` (the model's context is the limit that matters), and say so.

Each tool is an ordinary tool step: a completed write is never run twice, and a write
retried after a crash writes the same object again (idempotent by key).
``delete_file`` asks for approval unless ``approve_deletes=False``.
"""

from __future__ import annotations

from typing import Any, Literal

from ..errors import ConfigurationError, ToolError
from ..ports.objects import ObjectInfo
from ..tools import Tool, ToolContext, tool

__all__ = ["file_toolkit"]

_LIST_LIMIT = 200


def file_toolkit(
    prefix: str = "files/",
    *,
    writable: bool = True,
    scope: Literal["shared", "session"] = "shared",
    max_read_chars: int = 20_000,
    approve_deletes: bool = True,
) -> list[Tool]:
    """The file tools, rooted at ``prefix`` in the host's object storage."""
    if prefix and not prefix.endswith("/"):
        raise ConfigurationError(f"file_toolkit: prefix {prefix!r} must end with '/'")
    if prefix.startswith("/"):
        raise ConfigurationError("file_toolkit: prefix must be relative (no leading '/')")
    if scope not in ("shared", "session"):
        raise ConfigurationError("file_toolkit: scope is 'shared' or 'session'")
    if max_read_chars < 1:
        raise ConfigurationError("file_toolkit: max_read_chars must be positive")

    def root(ctx: ToolContext) -> str:
        return f"{prefix}{ctx.session_id}/" if scope == "session" else prefix

    def key_of(ctx: ToolContext, path: str) -> str:
        return root(ctx) + _clean_path(path)

    def describe(ctx: ToolContext, info: ObjectInfo) -> dict[str, Any]:
        return {
            "path": info.key[len(root(ctx)) :],
            "size": info.size,
            "contentType": info.content_type,
            "uploaded": info.uploaded,
        }

    @tool
    async def list_files(ctx: ToolContext, folder: str = "") -> dict[str, Any]:
        """List the files in a folder (all files when no folder is given).

        Args:
            folder: A folder path such as "notes/" (relative; empty for every file).
        """
        under = root(ctx) + (_clean_path(folder.rstrip("/")) + "/" if folder.strip("/") else "")
        listing = await ctx.services.objects.list(prefix=under, limit=_LIST_LIMIT)
        return {
            "files": [describe(ctx, info) for info in listing.objects],
            "truncated": listing.truncated,
        }

    @tool
    async def read_file(ctx: ToolContext, path: str) -> dict[str, Any]:
        """Read a text file.

        Args:
            path: The file's path, such as "notes/todo.md".
        """
        stored = await ctx.services.objects.get(key_of(ctx, path))
        if stored is None:
            raise ToolError(f"no file at {path!r}: call list_files to see what exists")
        try:
            text = stored.data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(
                f"{path!r} is a binary file ({stored.info.size} bytes): it cannot be read as text"
            ) from None
        truncated = len(text) > max_read_chars
        return {
            "path": path,
            "content": text[:max_read_chars],
            "truncated": truncated,
            "size": stored.info.size,
        }

    @tool
    async def write_file(
        ctx: ToolContext, path: str, content: str, content_type: str = "text/plain"
    ) -> dict[str, Any]:
        """Create or replace a text file.

        Args:
            path: The file's path, such as "notes/todo.md".
            content: The whole new content of the file.
            content_type: Its media type, such as "text/markdown".
        """
        info = await ctx.services.objects.put(
            key_of(ctx, path),
            content,
            content_type=content_type,
            metadata={"writtenBy": ctx.agent_name, "toolCall": ctx.tool_call_id},
        )
        return {"path": path, "size": info.size, "etag": info.etag}

    @tool(requires_approval=approve_deletes)
    async def delete_file(ctx: ToolContext, path: str) -> dict[str, Any]:
        """Delete a file.

        Args:
            path: The file's path, such as "notes/old.md".
        """
        objects = ctx.services.objects
        key = key_of(ctx, path)
        if await objects.head(key) is None:
            raise ToolError(f"no file at {path!r}: call list_files to see what exists")
        await objects.delete(key)
        return {"deleted": path}

    tools = [list_files, read_file]
    if writable:
        tools += [write_file, delete_file]
    return tools


def _clean_path(path: str) -> str:
    """A relative path, or a ToolError the model can act on."""
    if not isinstance(path, str) or not path.strip():
        raise ToolError("a file path must not be empty")
    if path.startswith("/") or "\\" in path:
        raise ToolError(f"{path!r}: use a relative path with '/' separators, like 'notes/a.md'")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ToolError(f"{path!r}: no empty, '.' or '..' segments in a file path")
    return path
