"""What each phase of one PPO iteration hands to the next (`PPOTrainer.step`).

    rollout -> Rollout -> score -> Scores -> estimate -> Estimates -> train -> TrainStats -> sync -> metrics

B = this rank's rows (prompts * rollout.n, prompt-major), T = longest response, K = most steps.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from rltrain.data.records import MathProblem
from rltrain.ppo.experience import Experience, PPOBatch
from rltrain.rewards.base import ScoringBatch
from rltrain.rollout.types import RolloutOutput


@dataclass
class Rollout:
    """problems: this rank's P problems; prompt_texts: their P formatted prompts (chat template
    included; a huge one cut to its last 32 x data.max_prompt_tokens characters, before the cut to
    data.max_prompt_tokens tokens: `rltrain.data.prompts.bound_prompts`); outputs: P lists of rollout.n samples;
    experience: the B rows of those samples, on CPU."""

    problems: list[MathProblem]
    prompt_texts: list[str]
    outputs: list[list[RolloutOutput]]
    experience: Experience

    def row_prompts(self) -> list[str]:
        """[B] the prompt text of each row of `experience`."""
        return [self.prompt_texts[i] for i in self.experience.prompt_index.tolist()]

    def row_questions(self) -> list[str]:
        """[B] the bare question of each row of `experience` (reward models with their own prompt format)."""
        return [self.problems[i].question for i in self.experience.prompt_index.tolist()]


@dataclass
class Scores:
    """success [B] float32 on CPU (1 correct, 0 wrong or truncated); orm [B] float32 on CPU (0
    without an ORM); outcome [B] float32 on the device (reward.success * success + reward.orm_coef
    * orm); step_scores [B, K] float32 on the device, None without a PRM; scoring: the batch the
    reward models saw (its `segments.num_steps` [B] and `step_texts`)."""

    success: torch.Tensor
    orm: torch.Tensor
    outcome: torch.Tensor
    step_scores: torch.Tensor | None
    scoring: ScoringBatch


@dataclass
class Estimates:
    """batch: the PPO batch on the device; entropy [B, T] float32 (the actor's, before the
    updates); process_return [B] float32 (sum over steps of reward.prm_coef * shaped step reward).

    reference: whether the reference model ran (else batch.ref_logprobs is NaN: no KL term reads it,
    `rltrain/ppo/scoring_passes.py`); on_policy_rows: the rows (int64, on CPU) of the first mini-batch
    of the first epoch whose batch.old_logprobs and entropy are still 0 and are filled from that
    mini-batch's training forward, or None when every row was scored here."""

    batch: PPOBatch
    entropy: torch.Tensor
    process_return: torch.Tensor
    reference: bool = True
    on_policy_rows: torch.Tensor | None = None
