"""Cheap answer normalisation: a canonical string for exact comparison, meaning kept.

`normalize_answer` removes presentation only: `$` wrappers, `\\displaystyle`, `\\left` /
`\\right`, spacing commands, `\\dfrac` / `\\tfrac` (written `\\frac`), degrees, percent and dollar
signs, a trailing period, a unit after an answer (`5\\text{ cm}^2`, `18 dollars`, `28 percent`),
`\\text{}`-style wrappers (`\\text{Evelyn}` -> `Evelyn`) and thousands separators: LaTeX's
explicit ones (`1{,}000`, `10,\\!000`) anywhere, a plain comma only in a standalone number
(the whole answer is one number: `1,000`, `\\$12,345.5`; never inside a tuple or list).
Whitespace is removed, except one space between a backslash command and a letter
(`\\pi r`) and between two digits (`1 1/2` is a mixed number, never `11/2`; a standalone
number grouped by spaces, `1 000 000`, loses them), and every remaining comma is written ", ",
so list elements never fuse:
`[-36,104]` and `[-36, 104]` both become `[-36, 104]`, and `32, 349` stays a two-element list.
Variables are kept (`x=5` stays `x=5`; `variables.py` decides per pair of answers).
No rule erases a non-empty answer: when removal would leave nothing, the answer is kept
with its whitespace removed.
"""
from __future__ import annotations

import re

_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|textnormal|mathrm|mathbf|mbox)\{([^{}]*)\}")
_UNITS = (r"(?:units?|dollars?|cents?|degrees?|inches|inch|feet|foot|ft|cm|mm|km|m|meters?|miles?|"
          r"hours?|minutes?|seconds?|days?|weeks?|years?|percent|"
          r"(?:sq\.?|square)\s*(?:units|ft|feet|inches|cm|m|meters|miles))")
# a unit written as text after something ("5\text{ cm}^2", "2\pi\text{ m}"; "\text{M}" alone is an
# answer, not a unit), or a unit word after a number and a space ("5 dollars")
_TEXT_UNIT = re.compile(r"(?<=\S)\s*\\(?:text|textnormal|mbox|mathrm)\{\s*" + _UNITS
                        + r"\s*\}(?:\^\{?[23]\}?)?\s*$", re.IGNORECASE)
_BARE_UNIT = re.compile(r"(?<=\d)\s+(?:(?:square\s+)?units?|dollars?|cents?|degrees?|inches|feet|meters?|"
                        r"miles?|hours?|minutes?|seconds?|days?|weeks?|years?|percent(?:age)?|pct)\s*$",
                        re.IGNORECASE)
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?![a-zA-Z])")
_SPACING = re.compile(r"(?<!\\)\\[,;:! ]|\\q?quad|~")
# "1 000 000": thousands grouped by spaces, in a standalone number
_SPACE_THOUSANDS = re.compile(r"[-+]?[1-9]\d{0,2}(?: \d{3})+(?:\.\d+)?")
# "1{,}000" and "10,\!000": LaTeX's explicit thousands commas, removed wherever they stand
_LATEX_THOUSANDS = re.compile(r"(?<=\d)(?:\{,\}|,\\!\s*)(?=\d{3}(?!\d))")
_STANDALONE_THOUSANDS = re.compile(r"[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")
_WHITESPACE = re.compile(r"\s+")
_TRAILING_COMMAND = re.compile(r"\\[a-zA-Z]+$")
_COMMAND_LOOKBACK = 64  # characters searched for a command before a space


def _strip_wrappers(s: str) -> str:
    """`s` without surrounding whitespace, `$` pairs and a leading `\\displaystyle` (linear)."""
    start, end = 0, len(s)
    while start < end and s[start].isspace():
        start += 1
    while end > start and s[end - 1].isspace():
        end -= 1
    while end - start >= 2 and s[start] == "$" and s[end - 1] == "$":
        start, end = start + 1, end - 1
        while start < end and s[start].isspace():
            start += 1
        while end > start and s[end - 1].isspace():
            end -= 1
    s = s[start:end]
    if s.startswith("\\displaystyle"):
        s = s[len("\\displaystyle"):].strip()
    return s


def _collapse_whitespace(s: str) -> str:
    """Remove whitespace, keeping one space where it separates a command from a letter or two
    digits (never fuse "1 1/2" into "11/2")."""
    def replacement(m: re.Match) -> str:
        after = s[m.end():m.end() + 1]
        if after.isdigit() and m.start() > 0 and s[m.start() - 1].isdigit():
            return " "
        before = s[max(0, m.start() - _COMMAND_LOOKBACK):m.start()]
        return " " if after.isalpha() and _TRAILING_COMMAND.search(before) else ""
    return _WHITESPACE.sub(replacement, s)


def normalize_answer(answer: str) -> str:
    """A canonical string for cheap comparison (presentation removed, meaning kept)."""
    s = _strip_wrappers(answer)
    s = s.replace("\u2212", "-")
    s = _LATEX_THOUSANDS.sub("", s).replace("{,}", ",")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _LEFT_RIGHT.sub("", s)
    s = s.replace("^\\circ", "").replace("^{\\circ}", "").replace("°", "")
    s = s.replace("\\%", "").replace("%", "").replace("\\$", "")
    s = _SPACING.sub(" ", s)
    s = _TEXT_UNIT.sub("", s)
    s = _BARE_UNIT.sub("", s)
    s = _TEXT_WRAPPERS.sub(r"\1", s)
    s = s.rstrip(".").strip()
    if _STANDALONE_THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    elif _SPACE_THOUSANDS.fullmatch(_WHITESPACE.sub(" ", s)):
        s = _WHITESPACE.sub("", s)
    s = _collapse_whitespace(s).replace(",", ", ")
    return s or "".join(_strip_wrappers(answer).split())
