"""``.dev.vars`` values (``helix_agents.workerd.site.dev_var``) read back exactly by
wrangler's parser: ``dotenv``'s ``parse``, transcribed below from the wrangler we pin."""

from __future__ import annotations

import re

import pytest

from helix_agents.errors import ConfigurationError
from helix_agents.workerd.site import dev_var

# wrangler-dist/cli.js: dotenv's LINE and parse().
_LINE = re.compile(
    r"(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*\"(?:\\\"|[^\"])*\""
    r"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)",
    re.MULTILINE,
)


def dotenv_parse(src: str) -> dict[str, str]:
    out = {}
    for match in _LINE.finditer(src.replace("\r\n", "\n").replace("\r", "\n")):
        value = (match[2] or "").strip()
        quote = value[:1]
        value = re.sub(r"^(['\"`])([\s\S]*)\1$", r"\2", value, flags=re.MULTILINE)
        if quote == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        out[match[1]] = value
    return out


@pytest.mark.parametrize(
    "value",
    [
        "sk-plain",
        '{"agents": ["echo"], "http": {"token": {"a": "b"}}}',
        "back\\slash and \\n",
        "it's",
        "it's `quoted` too",
        "  spaced  ",
        "#not a comment",
        "",
    ],
)
def test_a_value_reads_back_exactly(value: str) -> None:
    assert dotenv_parse(f"A=1\nKEY={dev_var(value)}\nB=2\n") == {"A": "1", "KEY": value, "B": "2"}


def test_a_value_no_quote_can_carry_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        dev_var("'`\"\\")
