"""Synthetic labelled data for the reward-model learning tests: the arithmetic task, corrupted
solutions, a deterministic stand-in completer and the Math-Shepherd auto-label procedure."""
from __future__ import annotations

import random
import re

from rltrain.reward_training.auto_label import Solution, auto_label_steps
from rltrain.reward_training.training import OutcomeExample
from rltrain.tasks.arithmetic import OPS, STEP_DELIMITER, ArithmeticConfig, corrupt_solution, make_problems

CONFIG = ArithmeticConfig(min_ops=2, max_ops=2, max_operand=2, max_factor=2)
_RESULT = re.compile(r"=\s*(-?\d+)\s*$")


def solutions(count: int, seed: int, p_correct: float = 0.4,
              config: ArithmeticConfig = CONFIG) -> tuple[list[Solution], dict]:
    """Solutions (correct with probability p_correct, else one wrong line carried forward),
    and prompt -> problem for the completer."""
    rng = random.Random(seed + 1)
    out, by_prompt = [], {}
    for i, p in enumerate(make_problems(count, seed, config)):
        steps = list(p.steps) + [f"\\boxed{{{p.answer}}}"] if rng.random() < p_correct else corrupt_solution(p, rng)[0]
        texts = [s + STEP_DELIMITER for s in steps[:-1]] + [steps[-1]]
        out.append(Solution(p.question, str(p.answer), texts, f"{seed}:{i}"))
        by_prompt[p.question] = p
    return out, by_prompt


class ArithmeticCompleter:
    """Finishes a prefix deterministically: carries its last result through the remaining ops."""

    def __init__(self, by_prompt: dict):
        self.by_prompt = by_prompt

    def complete(self, requests, m):
        out = []
        for prompt, prefix in requests:
            p = self.by_prompt[prompt]
            value = p.start
            if prefix:
                match = _RESULT.search(prefix[-1].strip())
                value = int(match.group(1)) if match else value
            steps = []
            for sym, n in p.ops[len(prefix):]:
                result = OPS[sym][1](value, n)
                steps.append(f"{value} {sym} {n} = {result}")
                value = result
            text = "".join(prefix) + STEP_DELIMITER.join(steps + [f"\\boxed{{{value}}}"])
            out.append([text] * m)
        return out


def step_examples(count: int, seed: int, grader):
    sols, by_prompt = solutions(count, seed)
    return auto_label_steps(sols, ArithmeticCompleter(by_prompt), grader, m=1)


def outcome_examples(count: int, seed: int, grader, config: ArithmeticConfig = CONFIG):
    sols, _ = solutions(count, seed, p_correct=0.5, config=config)
    grades = grader.grade(["".join(s.steps) for s in sols], [s.gold for s in sols])
    return [OutcomeExample(s.prompt, "".join(s.steps), g.score, s.source) for s, g in zip(sols, grades)]


def word_tokenizer():
    """A word-level tokenizer in which every integer in [-500, 500] is one token (the tiny PRM then
    sees "a op b = c" at fixed offsets), "\\n\\n" and " ки" are tokens, and "+" / "-" exist."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "<eos>", "\n\n", "ки", "\\boxed{", "}", "+", "-", "*", "=", ".", ",", "?"]
    words += [str(i) for i in range(-500, 501)]
    words += "Start with Add add Subtract subtract Multiply multiply by then What is the result".split()
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(" +"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"\n\n|\\boxed\{|\}|-?\d+|[A-Za-z]+|ки|[^\s\w]"), behavior="isolated"),
    ])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>")
