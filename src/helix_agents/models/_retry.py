"""When to retry a provider request, and how long to wait first.

Exponential backoff with full jitter (a uniform wait between zero and the exponential
ceiling), so that many runs throttled at the same moment do not come back in lock-step; a
server's ``Retry-After`` (seconds, an HTTP date, or OpenAI's ``retry-after-ms``) wins over
the computed wait, up to a cap, because the server knows better than our guess.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "is_retryable_status", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    #: Retries after the first attempt; 0 disables retrying.
    max_retries: int = 4
    #: The ceiling of the first wait; it doubles with each retry.
    initial_delay: float = 0.5
    #: The largest ceiling a computed wait can reach.
    max_delay: float = 20.0
    #: The longest a server's ``Retry-After`` is honoured for.
    max_retry_after: float = 60.0

    def delay(
        self,
        retry: int,
        *,
        retry_after: float | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> float:
        """The wait before retry number ``retry`` (0 for the first retry)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.initial_delay * (2.0**retry))
        return ceiling * jitter()


def is_retryable_status(status: int) -> bool:
    """429 and the server errors; 408 (request timeout) and 409 (OpenAI's "conflict, try
    again") are transient too."""
    return status in (408, 409, 429) or status >= 500


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds to wait according to the response headers, or None when they do not say.

    ``now`` is the current Unix time, for the HTTP-date form.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis)
        except ValueError:
            value = -1.0
        if value >= 0 and value == value and value != float("inf"):
            return value / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; a date without a zone is read as such.
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - now, 0.0)
