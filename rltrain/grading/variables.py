"""The single-variable rule: `x=5` answers a question whose gold is `5` (and the reverse).

When exactly one of the two normalised answers is an assignment to a single letter
(`x=5`, `k=\\frac{1}{3}`, `y=2x+3`: one letter, one `=`, a right-hand side without another
`=`) and the other contains no `=` at all, the letter and `=` are dropped from the
assignment, so the value is compared with the bare answer. Two equations are never changed:
`y=5` against `x=5` stays different, and `y=-\\frac{1}{2}x+\\frac{3}{4}` against
`2x+4y-3=0` goes to math-verify as two equations, which solves and compares them.
This is the same rule math-verify applies to a parsed assignment.
"""
from __future__ import annotations

import re

_ASSIGNMENT = re.compile(r"[a-zA-Z]=([^=]+)")


def drop_assignment_variable(gold: str, answer: str) -> tuple[str, str]:
    """(gold, answer) with a lone `v=` removed from one side when the other is a bare value."""
    gold_value, answer_value = _ASSIGNMENT.fullmatch(gold), _ASSIGNMENT.fullmatch(answer)
    if answer_value is not None and "=" not in gold:
        return gold, answer_value.group(1)
    if gold_value is not None and "=" not in answer:
        return gold_value.group(1), answer
    return gold, answer
