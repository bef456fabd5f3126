"""The queue consumer in the shipped worker/wrangler.toml (commented out: a deploy needs the
queues created first) is the one the local Worker runs with (workerd.site), and uncommented
it is valid TOML with the producer and the consumer docs/triggers.md shows."""

from __future__ import annotations

import tomllib

from helix_agents.workerd.site import DEAD_LETTER_QUEUE, QUEUE_CONSUMER, QUEUE_NAME
from tests.wrangler.helpers import ROOT, WORKER


def _commented_queues() -> dict[str, object]:
    lines = (WORKER / "wrangler.toml").read_text(encoding="utf-8").splitlines()
    start = lines.index("# [[queues.producers]]")
    block: list[str] = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line.removeprefix("#").removeprefix(" "))
    return tomllib.loads("\n".join(block))


def test_the_shipped_consumer_is_the_local_workers() -> None:
    queues = _commented_queues()["queues"]
    assert isinstance(queues, dict)
    assert queues["producers"] == [{"binding": "QUEUE", "queue": QUEUE_NAME}]
    assert queues["consumers"] == [QUEUE_CONSUMER]
    assert QUEUE_CONSUMER["dead_letter_queue"] == DEAD_LETTER_QUEUE


def test_docs_show_the_same_consumer() -> None:
    doc = (ROOT / "docs" / "triggers.md").read_text(encoding="utf-8")
    for key, value in QUEUE_CONSUMER.items():
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        assert f"{key} = {shown}" in doc, key
