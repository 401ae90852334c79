"""The check that runs inside grading worker processes: math-verify on LaTeX only.

Only math-verify's LaTeX extraction is used (an ANTLR grammar into SymPy objects); its
plain-expression extraction is not, because it goes through SymPy's `parse_expr`, which
evaluates Python code. math-verify's own signal-based timeouts are disabled (they are not
thread-safe); the pool around this function enforces the time limit by killing the process.

Numbers follow the grader's rule (`numbers.py`), not math-verify's absolute rounding to 6
decimals (which makes every number below 5e-7 equal):
1. a side that is one rounded decimal (at least 6 significant digits) matches a numeric
   constant on the other side that rounds to it at its places (`0.707107` and
   `\\frac{\\sqrt{2}}{2}`);
2. every other decimal reaches math-verify as an exact fraction (`decimals_as_fractions`), so
   its float rounding (`float_rounding`) never applies;
3. two rational constants (`\\frac{1}{2^{60}}`, `\\frac{1}{20!}`) are compared exactly;
4. otherwise math-verify decides, with `numeric_precision=NUMERIC_PRECISION`: its numeric check
   counts a difference below about 10**-NUMERIC_PRECISION as zero (15 by default, which
   equates `\\frac{\\sqrt{2}}{10^{20}}` and `\\frac{\\sqrt{3}}{10^{20}}`).
"""
from __future__ import annotations

import functools
import logging
from fractions import Fraction

from rltrain.grading.numbers import PlainNumber, decimals_as_fractions, read_number

NUMERIC_PRECISION = 100  # significant digits of math-verify's numeric check
FLOAT_ROUNDING = 15  # decimals are rewritten as fractions, so no float should reach this
_GUARD_DIGITS = 30  # extra digits when evaluating a constant against a rounded decimal

_CONFIG = None


def _latex_config():
    global _CONFIG
    if _CONFIG is None:
        from math_verify import LatexExtractionConfig

        logging.getLogger("math_verify").setLevel(logging.ERROR)
        _CONFIG = [LatexExtractionConfig(boxed_match_priority=0)]
    return _CONFIG


@functools.lru_cache(maxsize=4096)
def _parse_latex(text: str) -> list:
    """math-verify's parse of `$text$`, decimals written as fractions (cached: a gold answer
    recurs for every sample of its prompt)."""
    from math_verify import parse

    return parse(f"${decimals_as_fractions(text)}$", extraction_config=_latex_config(), parsing_timeout=None)


def _constant(parsed: list):
    """The parsed SymPy value when it is a numeric constant (no symbols, sets, relations), else None."""
    from sympy import Expr, MatrixBase
    from sympy.matrices.expressions import MatrixExpr

    value = parsed[0] if parsed else None
    if isinstance(value, Expr) and not isinstance(value, (MatrixBase, MatrixExpr)) and value.is_number:
        return value
    return None


def _rounds_to(value, decimal: PlainNumber) -> bool:
    """Whether the SymPy constant `value` rounds to `decimal` at its places."""
    from sympy import Rational

    places = decimal.places or 0
    target = Rational(decimal.value.numerator, decimal.value.denominator)
    difference = (value - target).evalf(places + _GUARD_DIGITS)
    if difference.is_real is not True:
        return False
    return bool(abs(difference) <= Rational(1, 2 * 10 ** places))


def _rounded_decimal_verdict(gold_text: str, answer_text: str) -> bool | None:
    """Rule 1 of the module docstring; None when it does not apply (math-verify decides)."""
    for decimal_text, other_text in ((answer_text, gold_text), (gold_text, answer_text)):
        decimal = read_number(decimal_text)
        if decimal is not None and decimal.places is not None:
            other = _constant(_parse_latex(other_text))
            try:
                return None if other is None else _rounds_to(other, decimal)
            except Exception:  # noqa: BLE001 - SymPy cannot evaluate it: leave it to math-verify
                return None
    return None


def _rational(parsed: list) -> Fraction | None:
    """The exact value of a rational constant (`\\frac{1}{20!}`), else None."""
    from sympy import Rational

    constant = _constant(parsed)
    try:
        value = None if constant is None else constant.doit()
    except Exception:  # noqa: BLE001 - SymPy cannot evaluate it: not a known rational
        return None
    return Fraction(int(value.p), int(value.q)) if isinstance(value, Rational) else None


def math_verify_equal(pair: tuple[str, str]) -> bool:
    """True when the answer `pair[1]` is equivalent to the gold `pair[0]` (module docstring)."""
    from math_verify import verify

    gold_text, answer_text = pair
    rounded = _rounded_decimal_verdict(gold_text, answer_text)
    if rounded is not None:
        return rounded
    gold, answer = _parse_latex(gold_text), _parse_latex(answer_text)
    if not gold or not answer:
        return False
    gold_value, answer_value = _rational(gold), _rational(answer)
    if gold_value is not None and answer_value is not None:
        return gold_value == answer_value
    return bool(verify(gold, answer, float_rounding=FLOAT_ROUNDING, numeric_precision=NUMERIC_PRECISION,
                       timeout_seconds=None))


def warm_up() -> None:
    """Import math-verify and its parser once, so the first timed item does not pay for it."""
    math_verify_equal(("\\frac{1}{2}", "0.5"))
