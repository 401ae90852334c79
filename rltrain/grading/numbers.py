"""Plain numbers and tuples of them, read exactly and compared without any evaluation.

`read_number` reads a normalised integer, decimal or fraction (`3`, `-0.25`, `.5`, `3/4`,
`\\frac{3}{4}`, `\\frac34`, `-\\frac{1}{2}`), a mixed number (`1 1/2` = 3/2) or scientific
notation (`1e-7`, `1.5\\times10^{-7}`) into a Fraction; anything else is None and is left to
math-verify.

The comparison rule (`numbers_equal`): two numbers are equal when their exact values are
equal, or when one of them is a decimal written with at least `ROUNDED_MIN_SIGNIFICANT` (6)
significant digits and the other rounds to it at that decimal's number of places, i.e.
|x - d| <= 0.5 * 10**-places. So 0.333333 and 0.3333333 match 1/3, 0.33 does not, 2.5e-7
written as 0.00000025 matches only 1/4000000, and 0.5000001 does not match 0.5. A decimal
with fewer significant digits is taken as exact.

`decimals_as_fractions` rewrites every decimal literal of a LaTeX answer as an exact
fraction (`2.5x` -> `\\frac{25}{10}x`) for math-verify, which would otherwise compare floats
by absolute rounding.

`read_sequence` reads a tuple, interval, set or bare list of plain numbers ("(1, 2]",
"\\{3, 1\\}", "1, -2"); `sequences_equal` compares two of them element by element with the
same rule (ordered for tuples and intervals, as sorted values for sets and bare lists).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

ROUNDED_MIN_SIGNIFICANT = 6
_MAX_DIGITS = 64  # longer numbers are left to math-verify (and Python's int limits)

_DECIMAL = re.compile(r"([-+]?)(\d*)(?:\.(\d*))?")
_SLASH_FRACTION = re.compile(r"([-+]?)(\d+)/(\d+)")
_LATEX_FRACTION = re.compile(r"([-+]?)\\frac(?:\{(\d+)\}\{(\d+)\}|(\d)(\d))")
_DECIMAL_LITERAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")
# scientific notation: "1e-7", "2.5E3", "1.5\times10^{-7}", "3\cdot10^4"
_SCIENTIFIC = re.compile(r"([-+]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]|\\(?:times|cdot)10\^)\{?([-+]?\d{1,3})\}?")
_MAX_EXPONENT = 100
# a mixed number: "1 1/2" (whitespace kept by normalize_answer between digits) is 3/2
_MIXED = re.compile(r"([-+]?)(\d+) (\d+)/(\d+)")
# tuple / interval delimiters (ordered) and set delimiters (unordered); "" is a bare list
_ORDERED = (("(", ")"), ("[", "]"), ("(", "]"), ("[", ")"))
_UNORDERED = (("\\{", "\\}"), ("", ""))


@dataclass(frozen=True)
class PlainNumber:
    """`value` exactly as written; `places`: the decimal places of a decimal written with at
    least ROUNDED_MIN_SIGNIFICANT significant digits (a possibly rounded value), else None."""

    value: Fraction
    places: int | None = None


def _read_decimal(text: str) -> PlainNumber | None:
    m = _DECIMAL.fullmatch(text)
    if m is None or not (m.group(2) or m.group(3)):
        return None
    sign, whole, fraction = m.group(1), m.group(2), m.group(3) or ""
    value = Fraction(int(whole or "0") * 10 ** len(fraction) + int(fraction or "0"), 10 ** len(fraction))
    significant = len((whole + fraction).lstrip("0"))
    rounded = len(fraction) > 0 and significant >= ROUNDED_MIN_SIGNIFICANT
    return PlainNumber(-value if sign == "-" else value, len(fraction) if rounded else None)


def read_number(normalized: str) -> PlainNumber | None:
    """The plain number `normalized` writes, or None when it is anything else (never evaluates)."""
    s = normalized
    if not s or sum(ch.isdigit() for ch in s) > _MAX_DIGITS:
        return None
    decimal = _read_decimal(s)
    if decimal is not None:
        return decimal
    scientific = _SCIENTIFIC.fullmatch(s)
    if scientific is not None:
        mantissa, exponent = _read_decimal(scientific.group(1)), int(scientific.group(2))
        if mantissa is None or abs(exponent) > _MAX_EXPONENT:
            return None
        return PlainNumber(mantissa.value * Fraction(10) ** exponent)
    mixed = _MIXED.fullmatch(s)
    if mixed is not None:
        sign, whole, num, den = mixed.groups()
        if int(den) == 0:
            return None
        value = int(whole) + Fraction(int(num), int(den))
        return PlainNumber(-value if sign == "-" else value)
    m = _SLASH_FRACTION.fullmatch(s)
    if m is not None:
        sign, num, den = m.groups()
    else:
        m = _LATEX_FRACTION.fullmatch(s)
        if m is None:
            return None
        sign = m.group(1)
        num, den = (m.group(2), m.group(3)) if m.group(2) is not None else (m.group(4), m.group(5))
    if int(den) == 0:
        return None
    value = Fraction(int(num), int(den))
    return PlainNumber(-value if sign == "-" else value)


def parse_number(normalized: str) -> Fraction | None:
    """Exact value of a normalised plain number / fraction, else None (never evaluates)."""
    number = read_number(normalized)
    return None if number is None else number.value


def _rounds_to(value: Fraction, decimal: PlainNumber) -> bool:
    return decimal.places is not None and abs(value - decimal.value) * 2 * 10 ** decimal.places <= 1


def numbers_equal(a: PlainNumber, b: PlainNumber) -> bool:
    """Equal values, or one is a rounded decimal the other rounds to (module docstring)."""
    return a.value == b.value or _rounds_to(a.value, b) or _rounds_to(b.value, a)


@dataclass(frozen=True)
class NumberSequence:
    """A bracketed (or bare) comma list of plain numbers: delimiters and elements."""

    opening: str
    closing: str
    items: tuple[PlainNumber, ...]


def read_sequence(normalized: str) -> NumberSequence | None:
    """The tuple / interval / set / bare list of plain numbers `normalized` writes, else None.

    Expects normalize_answer's form, where list commas are written ", ".
    """
    for opening, closing in _ORDERED + _UNORDERED:
        if normalized.startswith(opening) and normalized.endswith(closing) \
                and len(normalized) > len(opening) + len(closing):
            inner = normalized[len(opening):len(normalized) - len(closing)]
            parts = inner.split(", ")
            if len(parts) < 2 and not opening:
                continue  # a bare single number is not a list
            items = [read_number(p) for p in parts]
            if all(item is not None for item in items):
                return NumberSequence(opening, closing, tuple(items))  # type: ignore[arg-type]
    return None


def sequences_equal(a: NumberSequence, b: NumberSequence) -> bool | None:
    """Element-wise equality of two sequences with the same delimiters, else None (undecided)."""
    if (a.opening, a.closing) != (b.opening, b.closing) or len(a.items) != len(b.items):
        return None
    left, right = a.items, b.items
    if (a.opening, a.closing) in _UNORDERED:
        left, right = sorted(left, key=lambda n: n.value), sorted(right, key=lambda n: n.value)
    return all(numbers_equal(x, y) for x, y in zip(left, right))


def decimals_as_fractions(latex: str) -> str:
    """`latex` with each decimal literal written as an exact `\\frac` ("0.25" -> "\\frac{25}{100}")."""
    def fraction(m: re.Match) -> str:
        digits = (m.group(1) + m.group(2)).lstrip("0") or "0"
        written = f"\\frac{{{digits}}}{{1{'0' * len(m.group(2))}}}"
        return f"{{{written}}}" if m.start() > 0 and latex[m.start() - 1] in "^_" else written
    return _DECIMAL_LITERAL.sub(fraction, latex)


def plain_numbers_equal(gold: str, answer: str) -> bool | None:
    """The numeric verdict for two normalised answers that are both plain numbers or both
    sequences of them with the same delimiters; None when the rule does not decide."""
    gold_number, answer_number = read_number(gold), read_number(answer)
    if gold_number is not None and answer_number is not None:
        return numbers_equal(gold_number, answer_number)
    gold_items, answer_items = read_sequence(gold), read_sequence(answer)
    if gold_items is not None and answer_items is not None:
        return sequences_equal(gold_items, answer_items)
    return None
