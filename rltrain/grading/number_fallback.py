"""The last-number fallback: the response's last number, only when it stands alone.

A response without a boxed or "the answer is" answer may end with its result as a plain
number ("... so she has 18 apples."). Its last number is taken only when it is a whole,
standalone number: an integer ("18", "-3"), a decimal ("3.5", ".5"), a number with
thousands separators ("1,234", "12,345.5") or a slash fraction ("2/3"). When the last
number is a piece of something larger, there is no answer, because grading a piece (the
denominator of `\\frac{1+\\sqrt{5}}{2}`, the end of the interval `[0,9)`, one element of
`1, 2, 3`, the exponent of `2^{10}`) would reward answers that are not stated.

A piece is recognised from its neighbours: a letter, backslash command, brace, `^`, `_`,
`/` or a comma-separated list touching it; an arithmetic or comparison operator, a comma
or another number before it (`9+1`, `x <= 2`, `32, 349`, `1 000`); an operator or command
right after it. `= 18` is standalone: it states a value. Linear in the length of the text.
"""
from __future__ import annotations

import re

_DIGITS = "0123456789"
_RUN = re.compile(r"[\d.,/]*")  # matched on the reversed text: the characters of a number token
_STANDALONE = re.compile(r"(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+|\d+/\d+")
_OPERAND_END = re.compile(r"[\w)\]}]")
_JOINED_BEFORE = set("^_{/\\,.")  # touching the token: an exponent, index, group, fraction, list
_OPERATORS_BEFORE = set("+-<>×÷·±^_{/,")  # spaces allowed: "9+1", "8 - 3", "x > 5", "{ 2", "32, 349"
_OPERATORS_AFTER = set("+-*/^_×÷·<>")
# commands that may follow a standalone number directly ("18\%", "18\text{ cm}", "$18\$")
_ALLOWED_AFTER = ("\\%", "\\$", "\\)", "\\]", "\\\\", "\\text", "\\mbox", "\\mathrm", "\\,", "\\;",
                  "\\!", "\\ ", "\\quad", "\\qquad", "^\\circ", "^{\\circ}")
# commands that may precede one ("\quad 18", "\Rightarrow 18")
_ALLOWED_COMMANDS_BEFORE = {"quad", "qquad", "Rightarrow", "implies", "therefore", "text"}


def _previous_non_space(text: str, index: int) -> int:
    """Index of the last non-space character before `index`, or -1."""
    i = index - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return i


def _command_before(text: str, end: int) -> str | None:
    """The name of a backslash command ending at text[end] (inclusive), else None."""
    i = end
    while i >= 0 and text[i].isalpha():
        i -= 1
    return text[i + 1:end + 1] if i >= 0 and text[i] == "\\" and i < end else None


def _left_is_part(text: str, start: int) -> bool:
    """Whether the token starting at `start` continues something on its left."""
    if start == 0:
        return False
    adjacent = text[start - 1]
    if adjacent.isalpha() or adjacent in _JOINED_BEFORE:
        return True
    if adjacent == ":":
        return start >= 2 and text[start - 2].isdigit()  # "3:4" is a ratio; "Answer:4" is not
    if adjacent in "([":
        return start >= 2 and text[start - 2].isalpha()  # "f(3)": an argument
    before = _previous_non_space(text, start)
    if before < 0:
        return False
    char, spaced = text[before], before < start - 1
    if char in _OPERATORS_BEFORE or (spaced and char.isdigit()):  # "1 000" is not one number either
        return True
    if char == "*":
        return not (before > 0 and text[before - 1] == "*")  # "3 * 4", not "**Answer** 4"
    if char == "=":
        return before > 0 and text[before - 1] in "<>!"  # "x <= 4", "x != 4"; "= 4" states a value
    command = _command_before(text, before) if char.isalpha() else None
    return command is not None and command not in _ALLOWED_COMMANDS_BEFORE  # "\\times 4", "\\sqrt 5"


def _right_is_part(text: str, end: int) -> bool:
    """Whether the token ending before `end` continues into something on its right."""
    if end >= len(text):
        return False
    if text.startswith(_ALLOWED_AFTER, end):
        return False
    adjacent = text[end]
    if adjacent.isalpha() or adjacent in "^_{}\\":
        return True
    if adjacent in " \t":
        after = end
        while after < len(text) and text[after] in " \t":
            after += 1
        if after < len(text) and text[after] in _OPERATORS_AFTER:
            return not text.startswith("**", after)  # "**18**" is emphasis
        return after < len(text) and text[after] == "\\" and not text.startswith(_ALLOWED_AFTER, after)
    return adjacent in _OPERATORS_AFTER and not text.startswith("**", end)


def last_standalone_number(text: str) -> str | None:
    """The last number of `text` as written ("1,234", "-3.5", "2/3") when it stands alone, else None."""
    last_digit = max(text.rfind(d) for d in _DIGITS)
    if last_digit < 0:
        return None
    reversed_text = text[::-1]
    run = _RUN.match(reversed_text, len(text) - 1 - last_digit).group(0)
    start, end = last_digit + 1 - len(run), last_digit + 1
    token = text[start:end]
    if not _STANDALONE.fullmatch(token):
        return None  # "0,9", "1,2,3", "3.1.4", "1/2/3": a list or something else
    if start > 0 and text[start - 1] in "-\u2212":
        if start >= 2 and _OPERAND_END.match(text[start - 2]):
            return None  # "8-3": a difference
        start -= 1
    if _left_is_part(text, start) or _right_is_part(text, end):
        return None
    return text[start:end].replace("\u2212", "-")
