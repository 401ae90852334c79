"""The check that runs inside grading worker processes: math-verify on LaTeX only.

Only math-verify's LaTeX extraction is used (an ANTLR grammar into SymPy objects); its
plain-expression extraction is not, because it goes through SymPy's `parse_expr`, which
evaluates Python code. math-verify's own signal-based timeouts are disabled (they are not
thread-safe); the pool around this function enforces the time limit by killing the process.
"""
from __future__ import annotations

import functools
import logging

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
    """math-verify's parse of `$text$` (cached: a gold answer recurs for every sample of its prompt)."""
    from math_verify import parse

    return parse(f"${text}$", extraction_config=_latex_config(), parsing_timeout=None)


def math_verify_equal(pair: tuple[str, str]) -> bool:
    """True when math-verify finds the answer `pair[1]` equivalent to the gold `pair[0]`."""
    from math_verify import verify

    gold_text, answer_text = pair
    gold, answer = _parse_latex(gold_text), _parse_latex(answer_text)
    if not gold or not answer:
        return False
    return bool(verify(gold, answer, timeout_seconds=None))


def warm_up() -> None:
    """Import math-verify and its parser once, so the first timed item does not pay for it."""
    math_verify_equal(("\\frac{1}{2}", "0.5"))
