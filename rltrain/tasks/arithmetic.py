"""Generated multi-step arithmetic: one operation per step, steps separated by a blank line.

    question: "Start with 7. Add 5, then multiply by 3, then subtract 4. What is the result?"
    solution: "7 + 5 = 12\n\n12 * 3 = 36\n\n36 - 4 = 32\n\n\\boxed{32}"

The answer is the number in the final \\boxed{}. `corrupt_solution` injects wrong lines
(a wrong result that later lines then carry forward, as a model's slip would), giving
labelled steps for reward-model training. `reference_chain` reads a question back (from a
whole prompt) into the values its correct solution passes through.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from rltrain.config.arithmetic import ArithmeticConfig

OPS = {"+": ("add", lambda x, y: x + y), "-": ("subtract", lambda x, y: x - y), "*": ("multiply by", lambda x, y: x * y)}
STEP_DELIMITER = "\n\n"
EQUATION = re.compile(r"^\s*(-?\d+)\s*([+\-*])\s*(-?\d+)\s*=\s*(-?\d+)\s*$")


@dataclass(frozen=True)
class ArithmeticProblem:
    """start value, ops [(symbol, operand)], question text, step lines, final answer."""

    start: int
    ops: tuple[tuple[str, int], ...]
    question: str
    steps: tuple[str, ...]
    answer: int

    @property
    def solution(self) -> str:
        return STEP_DELIMITER.join(self.steps + (f"\\boxed{{{self.answer}}}",))


def make_problem(rng: random.Random, config: ArithmeticConfig = ArithmeticConfig()) -> ArithmeticProblem:
    start = rng.randint(1, config.max_operand)
    ops = []
    for _ in range(rng.randint(config.min_ops, config.max_ops)):
        sym = rng.choice(tuple(OPS))
        ops.append((sym, rng.randint(2, config.max_factor) if sym == "*" else rng.randint(1, config.max_operand)))
    words = ", then ".join(f"{OPS[s][0]} {n}" for s, n in ops)
    question = f"Start with {start}. {words[0].upper()}{words[1:]}. What is the result?"
    steps, value = [], start
    for sym, n in ops:
        result = OPS[sym][1](value, n)
        steps.append(f"{value} {sym} {n} = {result}")
        value = result
    return ArithmeticProblem(start, tuple(ops), question, tuple(steps), value)


_QUESTION = re.compile(r"Start with (-?\d+)\.\s*(.+?)\.\s*What is the result\?", re.IGNORECASE)
_SYMBOL = {word: sym for sym, (word, _) in OPS.items()}
_OPERATION = re.compile(rf"^\s*({'|'.join(map(re.escape, _SYMBOL))})\s+(-?\d+)\s*$", re.IGNORECASE)


def reference_chain(prompt: str) -> tuple[int, ...] | None:
    """Values a correct solution passes through (start, after each operation; the last one is
    the answer) for the arithmetic question in `prompt`; None if it holds no such question."""
    m = _QUESTION.search(prompt)
    if m is None:
        return None
    values = [int(m.group(1))]
    for part in re.split(r",\s*then\s+", m.group(2)):
        op = _OPERATION.match(part)
        if op is None:
            return None
        values.append(OPS[_SYMBOL[op.group(1).lower()]][1](values[-1], int(op.group(2))))
    return tuple(values)


def make_problems(count: int, seed: int, config: ArithmeticConfig = ArithmeticConfig()) -> list[ArithmeticProblem]:
    rng = random.Random(seed)
    return [make_problem(rng, config) for _ in range(count)]


def corrupt_solution(problem: ArithmeticProblem, rng: random.Random) -> tuple[list[str], list[bool]]:
    """A solution with one wrong result, carried forward. Returns (steps incl. the boxed
    line, per-step correctness: False from the first wrong line on)."""
    bad = rng.randrange(len(problem.steps))
    steps, labels, value = [], [], problem.start
    for i, (sym, n) in enumerate(problem.ops):
        result = OPS[sym][1](value, n)
        if i == bad:
            result += rng.choice([-3, -2, -1, 1, 2, 3])
        steps.append(f"{value} {sym} {n} = {result}")
        labels.append(i < bad)
        value = result
    steps.append(f"\\boxed{{{value}}}")
    labels.append(False)
    return steps, labels


def check_equation(step: str) -> bool | None:
    """True / False if `step` is an equation "x op y = z" that is right / wrong; None if it is none."""
    m = EQUATION.match(step.strip())
    if m is None:
        return None
    x, sym, y, z = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
    return OPS[sym][1](x, y) == z
