"""Final-answer extraction from a model response (pure string scanning; never evaluates text).

Order: the last `\\boxed{...}` / `\\fbox{...}` (nested braces), else the last "the answer is X"
/ "final answer: X" phrase, else (when allowed, and only when the response has no box
command at all, complete or not) the response's last number when it stands alone
(`number_fallback.py`; the GSM8K fallback). Every scan is linear in the input length;
callers bound the length first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rltrain.grading.number_fallback import last_standalone_number

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)")
_BRACE = re.compile(r"[{}]")
_ANSWER_PHRASE = re.compile(
    r"(?:final answer|the answer)\s*(?:is|:|=)\s*:?\s*", re.IGNORECASE)
_MAX_PHRASE_ANSWER = 200  # characters kept after "the answer is"


@dataclass(frozen=True)
class ExtractedAnswer:
    """`text` is the answer string, `method` how it was found: "boxed", "phrase" or "last_number"."""

    text: str
    method: str


def _matching_braces(text: str) -> dict[int, int]:
    """{index of "{": index of its matching "}"} for every balanced pair (one linear pass)."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for brace in _BRACE.finditer(text):
        if brace.group() == "{":
            stack.append(brace.start())
        elif stack:
            pairs[stack.pop()] = brace.start()
    return pairs


def last_boxed(text: str) -> str | None:
    """Content of the last complete `\\boxed{...}` (or `\\fbox{...}`, `\\boxed 5`) in `text`.

    One pass finds every box command and one pass pairs the braces, so many unclosed boxes
    cost linear time.
    """
    pairs: dict[int, int] | None = None
    for match in reversed(list(_BOX_COMMAND.finditer(text))):
        pos = match.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos < len(text) and text[pos] == "{":
            if pairs is None:
                pairs = _matching_braces(text)
            close = pairs.get(pos)
            if close is not None:
                return text[pos + 1:close]
        elif match.end() < pos < len(text):  # "\\boxed 5": one token after a space
            token = re.match(r"[^\s$]+", text[pos:pos + _MAX_PHRASE_ANSWER])
            if token:
                return token.group(0)
        # unclosed or malformed: try the previous one
    return None


def _phrase_answer(text: str) -> str | None:
    last = None
    for last in _ANSWER_PHRASE.finditer(text):
        pass
    if last is None:
        return None
    tail = text[last.end():last.end() + _MAX_PHRASE_ANSWER]
    tail = tail.split("\n", 1)[0].split(". ", 1)[0].strip()  # up to the end of the line / sentence
    if tail.startswith("$"):
        closing = tail.find("$", 1)
        tail = tail[1:closing] if closing > 0 else tail[1:]
    tail = tail.strip().rstrip(".").strip()
    return tail or None


def extract_answer(response: str, *, number_fallback: bool = True) -> ExtractedAnswer | None:
    """The final answer of `response`, or None when it states none."""
    boxed = last_boxed(response)
    if boxed is not None and boxed.strip():
        return ExtractedAnswer(boxed.strip(), "boxed")
    phrase = _phrase_answer(response)
    if phrase is not None:
        return ExtractedAnswer(phrase, "phrase")
    if number_fallback and not any(cmd in response for cmd in _BOX_COMMANDS):
        number = last_standalone_number(response)
        if number is not None:
            return ExtractedAnswer(number, "last_number")
    return None
