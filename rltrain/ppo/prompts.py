"""The training / eval problems and the per-iteration, per-rank prompt batches.

The position in the data is a pure function of the iteration: iteration i uses global
problems [i * P, (i + 1) * P) of an endless stream that reshuffles the pool every epoch
(seeded), and rank r takes every world-th of them. A resumed run therefore needs only the
iteration number to continue exactly where it stopped.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from rltrain.config.schema import Config
from rltrain.data.prompts import PromptConfig
from rltrain.data.records import MathProblem


def load_problems(cfg: Config) -> tuple[list[MathProblem], list[MathProblem]]:
    """(train pool, eval problems) for the configured dataset."""
    d = cfg.data
    if d.dataset == "arithmetic":
        from rltrain.tasks.builtin import task_problems

        return (task_problems(d.limit or 20000, cfg.run.seed + 1000, d.arithmetic),
                task_problems(cfg.run.eval_problems, cfg.run.seed + 99991, d.arithmetic))
    from rltrain.data.loaders import load_math_dataset

    train = load_math_dataset(d.dataset, d.source, split=d.split, limit=d.limit or None)
    evals = load_math_dataset(d.dataset, d.source, split=d.eval_split, limit=cfg.run.eval_problems)
    return train, evals


def prompt_config(cfg: Config) -> PromptConfig:
    if cfg.data.dataset == "arithmetic":
        from rltrain.tasks.builtin import BUILTIN_PROMPT

        return BUILTIN_PROMPT if cfg.data.instruction is None else PromptConfig(instruction=cfg.data.instruction)
    return PromptConfig() if cfg.data.instruction is None else PromptConfig(instruction=cfg.data.instruction)


@dataclass
class PromptStream:
    pool: Sequence[MathProblem]
    per_iteration: int
    seed: int

    def _order(self, epoch: int) -> list[int]:
        order = list(range(len(self.pool)))
        random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        return order

    def batch(self, iteration: int, rank: int, world: int) -> list[MathProblem]:
        """This rank's problems of `iteration` (per_iteration // world of them)."""
        n = len(self.pool)
        start = iteration * self.per_iteration
        out, cache = [], {}
        for g in range(start + rank, start + self.per_iteration, world):
            epoch, pos = divmod(g, n)
            if epoch not in cache:
                cache[epoch] = self._order(epoch)
            out.append(self.pool[cache[epoch][pos]])
        return out
