"""100 KB adversarial texts for the linear-time tests of extraction, normalisation and grading."""
from __future__ import annotations

import time
from typing import Callable

_LONG = 100_000
ADVERSARIAL_SHAPES = {  # 100 KB each, for every scan and regex of extraction and normalisation
    "unclosed_boxes": "\\boxed{" * (_LONG // 7),
    "unclosed_mixed_boxes": "\\fbox{\\boxed{" * (_LONG // 13),
    "boxes_and_spaces": "\\boxed " * (_LONG // 7),
    "digits": "1" * _LONG, "digit_commas": "1," * (_LONG // 2), "thousands": "1,000" * (_LONG // 5),
    "decimal_points": "1.5." * (_LONG // 4), "minus_signs": "-" * _LONG + "5",
    "whitespace": "answer" + " " * _LONG + "x", "answer_phrases": "the answer is " * (_LONG // 14),
    "phrase_then_whitespace": "the answer" + " " * _LONG, "braces": "{" * _LONG, "dollars": "$" * _LONG,
    "commands_and_spaces": "\\pi r " * (_LONG // 6), "text_units": "5\\text{ " * (_LONG // 8),
    "digit_spaces": "1 " * (_LONG // 2), "latex_thousands": "1,\\! " * (_LONG // 5), "equals": "x=" * (_LONG // 2),
    "number_list": "(" + "1, " * (_LONG // 3) + "1)", "decimal_list": "0.333333, " * (_LONG // 10),
}


def best_of_three_s(fn: Callable[[], object]) -> float:
    """Shortest wall time of three calls of `fn` in seconds (the machine is shared)."""
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return min(timings)
