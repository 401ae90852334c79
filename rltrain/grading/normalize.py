"""Cheap answer normalisation and the exact / numeric fast paths of the grader.

`normalize_answer` strips presentation-only LaTeX (`$`, `\\left`/`\\right`, `\\!`, `\\dfrac`,
`\\text{units}`, degrees, percent signs, trailing periods, thousands separators) so that
equal answers usually become equal strings. `parse_number` reads plain numbers, fractions
(`3/4`, `\\frac{3}{4}`, `\\frac34`, `-\\frac{1}{2}`) and decimals into a Fraction, with no
evaluation of any kind; anything else is None and goes to math-verify.
"""
from __future__ import annotations

import re
from fractions import Fraction

_MAX_DIGITS = 64  # longer numbers are left to math-verify (and Python's int limits)

_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\{([^{}]*)\}")
_UNITS = (r"(?:units?|dollars?|cents?|degrees?|inches|inch|feet|foot|ft|cm|mm|km|m|meters?|miles?|"
          r"hours?|minutes?|seconds?|days?|weeks?|years?|sq\.?\s*(?:units|ft|feet|cm|m))")
# a unit written as text at the end ("5\text{ cm}^2"), or a unit word after a space ("5 dollars")
_TEXT_UNIT = re.compile(r"\\(?:text|mbox|mathrm)\{\s*" + _UNITS + r"\s*\}(?:\^\{?[23]\}?)?\s*$",
                        re.IGNORECASE)
_BARE_UNIT = re.compile(r"(?<=\d)\s+(?:units?|dollars?|cents?|degrees?|inches|feet|meters?|miles?|"
                        r"hours?|minutes?|seconds?|days?|weeks?|years?)\s*$", re.IGNORECASE)
_SPACING = re.compile(r"(?<!\\)\\[,;:! ]|\\q?quad|~")
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+)(?![\d,])")
_DECIMAL = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$")
_SLASH_FRACTION = re.compile(r"^([-+]?)(\d+)/(\d+)$")
_LATEX_FRACTION = re.compile(r"^([-+]?)\\frac(?:\{(\d+)\}\{(\d+)\}|(\d)(\d))$")


def _strip_wrappers(s: str) -> str:
    s = s.strip()
    while len(s) >= 2 and s[0] == "$" and s[-1] == "$":
        s = s[1:-1].strip()
    for prefix in ("\\displaystyle",):
        if s.startswith(prefix):
            s = s[len(prefix):].strip()
    return s


def normalize_answer(answer: str) -> str:
    """A canonical string for cheap comparison (presentation removed, meaning kept)."""
    s = _strip_wrappers(answer)
    s = s.replace("\u2212", "-").replace("{,}", ",")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\left", "").replace("\\right", "")
    s = s.replace("^\\circ", "").replace("^{\\circ}", "").replace("°", "")
    s = s.replace("\\%", "").replace("%", "").replace("\\$", "")
    s = _SPACING.sub("", s)
    s = _TEXT_UNIT.sub("", s)
    s = _BARE_UNIT.sub("", s)
    s = _TEXT_WRAPPERS.sub(r"\1", s)
    s = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), s)
    s = s.rstrip(".").strip()
    s = re.sub(r"\s+", "", s)
    if s.startswith("x=") or s.startswith("y="):  # "x=5" vs "5" (single-variable answer)
        rest = s[2:]
        if rest and "=" not in rest and "," not in rest:
            s = rest
    return s


def parse_number(normalized: str) -> Fraction | None:
    """Exact value of a normalized plain number / fraction, else None (never evaluates)."""
    s = normalized
    if not s or sum(ch.isdigit() for ch in s) > _MAX_DIGITS:
        return None
    if _DECIMAL.match(s):
        return Fraction(s)
    m = _SLASH_FRACTION.match(s)
    if m is None:
        m2 = _LATEX_FRACTION.match(s)
        if m2 is None:
            return None
        sign = m2.group(1)
        num, den = (m2.group(2), m2.group(3)) if m2.group(2) is not None else (m2.group(4), m2.group(5))
    else:
        sign, num, den = m.group(1), m.group(2), m.group(3)
    if int(den) == 0:
        return None
    value = Fraction(int(num), int(den))
    return -value if sign == "-" else value


def numbers_equal(a: Fraction, b: Fraction, decimals: int = 6) -> bool:
    """Equal after rounding both to `decimals` places (a rounded decimal vs an exact fraction,
    as math-verify's float_rounding does); integers must match exactly."""
    return a == b or round(a, decimals) == round(b, decimals)
