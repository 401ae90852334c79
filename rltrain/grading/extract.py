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
# "The answer is", "Final answer:", "**Final Answer:**", "final answer = " (one way to match any
# text: no two adjacent optional whitespace runs, so long whitespace cannot make it quadratic)
_ANSWER_PHRASE = re.compile(
    r"(?:final answer|the answer)\s*(?:(?:\*{1,2}|_{1,2})\s*)?(?:is|:|=)\s*:?\s*", re.IGNORECASE)
_CLOSING_EMPHASIS = re.compile(r"(?:\*{1,2}|_{1,2})(?=\s|\$|$)\s*")  # "**Final Answer:** 18"
_LEADING_EMPHASIS = re.compile(r"(\*{1,2}|_{1,2})(?=\S)")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
_DISPLAY_MATH = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"))
# a comma that starts a clause ("18, not 20", "18, which is"), not a list element
_CLAUSE_COMMA = re.compile(r",\s+(?=[A-Za-z]{2,}\b)")
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


def _math_content(tail: str) -> str | None:
    """The content of a math span opening `tail` (`$...$` with `\\$` skipped, `$$...$$`,
    `\\[...\\]`, `\\(...\\)`), or None when `tail` does not open one."""
    for opening, closing in _DISPLAY_MATH:
        if tail.startswith(opening):
            end = tail.find(closing, len(opening))
            return tail[len(opening):end] if end >= 0 else tail[len(opening):]
    if tail.startswith("$"):
        closing = _UNESCAPED_DOLLAR.search(tail, 1)
        return tail[1:closing.start()] if closing else tail[1:]
    return None


def _phrase_answer(text: str) -> str | None:
    """What follows the last "the answer is" / "final answer:" phrase, up to the end of its
    sentence, without markdown emphasis, math delimiters or a trailing clause."""
    last = None
    for last in _ANSWER_PHRASE.finditer(text):
        pass
    if last is None:
        return None
    tail = text[last.end():last.end() + _MAX_PHRASE_ANSWER].split("\n", 1)[0].strip()
    closing = _CLOSING_EMPHASIS.match(tail)
    if closing:
        tail = tail[closing.end():]
    emphasis = _LEADING_EMPHASIS.match(tail)
    if emphasis:  # "**18** dollars" -> "18"
        end = tail.find(emphasis.group(1), emphasis.end())
        tail = tail[emphasis.end():end] if end > 0 else tail[emphasis.end():]
    math = _math_content(tail)
    if math is not None:
        tail = math
    else:
        tail = tail.split(". ", 1)[0]  # up to the end of the sentence
        tail = _CLAUSE_COMMA.split(tail, 1)[0]
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
