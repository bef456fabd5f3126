"""What the demo model understands of a message: small, forgiving parsers of plain English.

Each returns None when the message does not say the thing, so the script can fall back to
a reply that explains what it understands. Nothing here is clever: a message phrased
otherwise simply is not understood, which the demo model then says.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = [
    "Fact",
    "ServiceAction",
    "arithmetic",
    "asks_time",
    "asks_weather",
    "city",
    "days",
    "fact_asked",
    "fact_to_remember",
    "is_greeting",
    "known_facts",
    "next_version",
    "service_action",
]

# -- arithmetic ------------------------------------------------------------------------------

_WORD_OPERATORS = (
    (re.compile(r"\bmultiplied\s+by\b|\btimes\b", re.I), "*"),
    (re.compile(r"\bdivided\s+by\b", re.I), "/"),
    (re.compile(r"\bplus\b", re.I), "+"),
    (re.compile(r"\bminus\b", re.I), "-"),
    (re.compile(r"\bmod(?:ulo)?\b", re.I), "%"),
    (re.compile(r"\bto\s+the\s+power\s+of\b", re.I), "**"),
    # "12 x 7", and the multiplication, division and minus signs.
    (re.compile("(?<=\\d)\\s*[x\u00d7]\\s*(?=[\\d(])", re.I), "*"),
    (re.compile("\u00f7"), "/"),
    (re.compile(r"\^"), "**"),
    (re.compile("\u2212"), "-"),
)
_EXPRESSION_RUN = re.compile(r"[\d\s.()+\-*/%]+")
_MAX_EXPRESSION = 200


def arithmetic(message: str) -> str | None:
    """The arithmetic expression in ``message`` ("what is 12*7?" -> "12*7"), or None.

    Only a run of digits and operators that Python parses as an expression with at least
    one operation counts: "version 1.5" or "3 days" are not sums.
    """
    text = message
    for pattern, operator in _WORD_OPERATORS:
        text = pattern.sub(f" {operator} ", text)
    best: str | None = None
    for run in _EXPRESSION_RUN.findall(text):
        candidate = " ".join(run.split())
        if len(candidate) > _MAX_EXPRESSION:
            continue
        candidate = _balanced(candidate)
        if not candidate or not _is_operation(candidate):
            continue
        if best is None or len(candidate) > len(best):
            best = candidate
    return best


def _balanced(text: str) -> str:
    """Trim parentheses that a sentence left unmatched at either end ("(about 3+4)")."""
    text = text.strip()
    while text.startswith(")") or (text.startswith("(") and text.count("(") > text.count(")")):
        text = text[1:].strip()
    while text.endswith("(") or (text.endswith(")") and text.count(")") > text.count("(")):
        text = text[:-1].strip()
    return text


def _is_operation(text: str) -> bool:
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return False
    return isinstance(tree.body, ast.BinOp | ast.UnaryOp) and not (
        isinstance(tree.body, ast.UnaryOp) and isinstance(tree.body.operand, ast.Constant)
    )


# -- places and days -------------------------------------------------------------------------

_WEATHER = re.compile(
    r"\b(weather|temperature|forecast|rain(?:ing|y)?|sunny|snow(?:ing)?|wind(?:y)?|"
    r"hot|cold|warm|degrees?)\b",
    re.I,
)
_CAPITALISED_PLACE = re.compile(
    r"\b(?:in|for|at|to|of|visit(?:ing)?)\s+((?:[A-Z][\w'-]*)(?:\s+[A-Z][\w'-]*){0,2})"
)
_ANY_PLACE = re.compile(
    r"\b(?:in|for|at|to|visit(?:ing)?)\s+([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*){0,2})"
)
_NOT_PLACES = {
    "a",
    "an",
    "the",
    "me",
    "my",
    "it",
    "there",
    "here",
    "today",
    "tomorrow",
    "now",
    "days",
    "day",
    "week",
    "weekend",
    "two",
    "three",
    "plan",
}
_PLACE_TAIL = {"today", "tomorrow", "now", "please", "for", "and", "this", "next", "with"}


def asks_weather(message: str) -> bool:
    return _WEATHER.search(message) is not None


def city(message: str) -> str | None:
    """The place a message names after "in", "for", "to"...: "weather in new york?" ->
    "New York". Capitalised names win over lower-case words."""
    for pattern in (_CAPITALISED_PLACE, _ANY_PLACE):
        for match in pattern.finditer(message):
            words = []
            for word in match.group(1).split():
                if word.lower() in _PLACE_TAIL:
                    break
                words.append(word)
            if words and words[0].lower() not in _NOT_PLACES:
                return " ".join(w[:1].upper() + w[1:] for w in words)
    return None


_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
}
_DAYS = re.compile(r"\b(\d+|" + "|".join(_NUMBER_WORDS) + r")[\s-]+days?\b", re.I)
_SPANS = {"weekend": 2, "week": 7, "fortnight": 14}


def days(message: str) -> int | None:
    """How many days a message asks for: "two days", "3-day", "a week", "the weekend"."""
    match = _DAYS.search(message)
    if match:
        word = match.group(1).lower()
        return int(word) if word.isdigit() else _NUMBER_WORDS[word]
    lowered = message.lower()
    for span, count in _SPANS.items():
        if re.search(rf"\b{span}\b", lowered):
            return count
    return None


# -- services --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAction:
    service: str
    deploy: bool
    version: str | None


_DEPLOY = re.compile(r"\b(deploy|ship|release|roll\s+out|upgrade)\b", re.I)
_CHECK = re.compile(r"\b(check|status|health|healthy|version|running|up)\b", re.I)
_SERVICE = re.compile(
    r"\b(?:deploy|ship|release|roll\s+out|upgrade|check|status\s+of|health\s+of|is)\s+"
    r"(?:the\s+)?(?:service\s+)?([a-z][\w-]*)",
    re.I,
)
_VERSION = re.compile(r"\bv?(\d+\.\d+(?:\.\d+)?)\b")
_NOT_SERVICES = {"version", "it", "a", "an", "the", "service", "to", "my", "our", "up", "there"}


def service_action(message: str) -> ServiceAction | None:
    """A request to check or deploy a service: "deploy billing 1.5.0", "check billing"."""
    deploy = _DEPLOY.search(message) is not None
    if not deploy and _CHECK.search(message) is None:
        return None
    for match in _SERVICE.finditer(message):
        name = match.group(1).lower()
        if name not in _NOT_SERVICES and not name[0].isdigit():
            version = _VERSION.search(message)
            return ServiceAction(name, deploy, version.group(1) if version else None)
    return None


def next_version(version: str) -> str:
    """The next patch version ("1.4.2" -> "1.4.3"), for a deploy that names none."""
    parts = version.split(".")
    if all(p.isdigit() for p in parts):
        parts[-1] = str(int(parts[-1]) + 1)
        return ".".join(parts)
    return version


# -- facts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    key: str
    value: str


_REMEMBER = re.compile(r"\bremember\s+(?:that\s+)?(.+)", re.I | re.S)
_FACT = re.compile(r"^(?:my\s+|our\s+)?(.+?)\s+(?:is|are|=)\s+(.+)$", re.I | re.S)
_QUESTION = re.compile(
    r"\bwhat(?:'s|\s+is|\s+are)\s+(?:my|our)\s+([\w ]+?)\s*\??\s*$|"
    r"\bdo\s+you\s+(?:know|remember)\s+my\s+([\w ]+?)\s*\??\s*$",
    re.I,
)
_KNOWN_FACTS = re.compile(r"^Known facts: (\{.*\})\s*$", re.M)


def fact_to_remember(message: str) -> Fact | None:
    """ "remember that my name is Ada" -> Fact("name", "Ada"); "remember to ..." -> a note."""
    match = _REMEMBER.search(message)
    if match is None:
        return None
    said = match.group(1).strip().rstrip(".!?").strip()
    if not said:
        return None
    fact = _FACT.match(said)
    if fact is None:
        return Fact("note", said[:200])
    return Fact(_key(fact.group(1)), fact.group(2).strip()[:200])


def fact_asked(message: str) -> str | None:
    """ "what is my name?" -> "name"."""
    match = _QUESTION.search(message)
    if match is None:
        return None
    return _key(match.group(1) or match.group(2))


def known_facts(system: str) -> dict[str, str]:
    """The facts the example assistant's system prompt lists ("Known facts: {...}")."""
    match = _KNOWN_FACTS.search(system)
    if match is None:
        return {}
    try:
        value = ast.literal_eval(match.group(1))
    except (SyntaxError, ValueError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _key(text: str) -> str:
    return "_".join(text.lower().split())[:60]


# -- small talk ------------------------------------------------------------------------------

_GREETING = re.compile(r"^\s*(hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|yo)\b", re.I)
_TIME = re.compile(r"\b(time|date|day\s+is\s+it|today'?s\s+date|what\s+day)\b", re.I)


def is_greeting(message: str) -> bool:
    return _GREETING.search(message) is not None


def asks_time(message: str) -> bool:
    return _TIME.search(message) is not None
