"""The rollout-engine interface shared by the built-in engine and vLLM.

An engine takes prompt token ids and `SamplingParams` and returns, per prompt, `n`
`RolloutOutput`s: the response token ids, the sampler's log-prob of each response token,
and why generation ended. `update_weights` loads new trainer weights into the engine; the
other hooks of `RolloutEngine` (weight-sync buckets, sleep / wake-up, shutdown) default to
no-ops.

Log-prob convention (every engine): logprobs[t] = log_softmax(logits_t / temperature)[token_t],
the full temperature-scaled distribution *before* top-p truncation, i.e. exactly the
quantity the trainer computes for PPO (DESIGN.md: logp_t). With top_p < 1 the sampler
draws from the truncated, renormalised distribution, so these are not the log-probs of the
truncated distribution. With temperature 0 (greedy) they are log_softmax(logits_t).
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch

FINISH_REASONS = ("stop", "length")


@dataclass(frozen=True)
class SamplingParams:
    """n: samples per prompt; temperature: 0 = greedy; top_p in (0, 1]; max_new_tokens >= 1;
    stop_token_ids: generation of a sample ends after it emits one of these (the token is kept
    in the response); empty = the tokenizer's eos; seed: None = not reproducible."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop_token_ids: tuple[int, ...] = field(default_factory=tuple)
    seed: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"SamplingParams: `n` must be an int >= 1, got {self.n!r}")
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature)
                and self.temperature >= 0):
            raise ValueError(f"SamplingParams: `temperature` must be finite and >= 0, got {self.temperature!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ValueError(f"SamplingParams: `top_p` must be in (0, 1], got {self.top_p!r}")
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) \
                or self.max_new_tokens < 1:
            raise ValueError(f"SamplingParams: `max_new_tokens` must be an int >= 1, got {self.max_new_tokens!r}")
        stops = tuple(self.stop_token_ids)
        if any(isinstance(t, bool) or not isinstance(t, int) or t < 0 for t in stops):
            raise ValueError(f"SamplingParams: `stop_token_ids` must be non-negative ints, got {stops!r}")
        object.__setattr__(self, "stop_token_ids", stops)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"SamplingParams: `seed` must be an int or None, got {self.seed!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class RolloutOutput:
    """One sample: token_ids [L] (ints, the stop token included when finish_reason == "stop"),
    logprobs [L] float32 (see the module docstring), finish_reason "stop" | "length"."""

    token_ids: list[int]
    logprobs: torch.Tensor
    finish_reason: str

    def __post_init__(self) -> None:
        if self.finish_reason not in FINISH_REASONS:
            raise ValueError(f"RolloutOutput: `finish_reason` must be one of {FINISH_REASONS}, "
                             f"got {self.finish_reason!r}")
        if self.logprobs.shape != (len(self.token_ids),):
            raise ValueError(f"RolloutOutput: `logprobs` must have shape ({len(self.token_ids)},), "
                             f"got {tuple(self.logprobs.shape)}")


class RolloutEngine(abc.ABC):
    """Samples responses for prompts; keeps its weights in sync with the trainer.

    A subclass implements `generate` and `update_weights`. The trainer also calls the hooks
    below, which do nothing here: an engine that holds accelerator memory, checks names
    before a transfer, streams weights in buckets or caches prompt KV overrides them.
    """

    @abc.abstractmethod
    def generate(self, prompts: Sequence[Sequence[int]], params: SamplingParams) -> list[list[RolloutOutput]]:
        """For each prompt (a list of token ids), `params.n` samples, in prompt order."""

    @abc.abstractmethod
    def update_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load (name, tensor) pairs, names as in the policy's state_dict, into the engine's model."""

    # ---- weight sync (rltrain/rollout/weight_sync.py) -----------------------------------------

    def check_weights(self, shapes: dict[str, tuple[int, ...]], *, require_all: bool = False) -> None:
        """Before any tensor is gathered: ValueError on an unknown name or a wrong shape (and, with
        require_all, a missing tensor). Here: nothing (`update_weights` checks as it loads)."""

    def load_weight_bucket(self, named_tensors: Sequence[tuple[str, torch.Tensor]]) -> None:
        """Load one bucket of a weight sync (whole layers). Here: `update_weights`."""
        self.update_weights(named_tensors)

    def reset_prefix_cache(self) -> None:
        """After a weight sync: drop KV values cached with the previous weights. Here: nothing."""

    # ---- memory and lifetime --------------------------------------------------------------------

    def sleep(self) -> None:
        """After a rollout: free accelerator memory for training. Here: nothing."""

    def wake_up(self) -> None:
        """Before the weight sync that precedes the next rollout: take the memory back. Here: nothing."""

    def shutdown(self) -> None:
        """Release the engine for good (the trainer's last call). Here: nothing."""


def check_prompts(prompts: Sequence[Sequence[int]], vocab_size: int) -> list[list[int]]:
    """Prompts as lists of ints; ValueError for an empty prompt or an id outside the vocabulary."""
    checked = []
    for i, prompt in enumerate(prompts):
        ids = [int(t) for t in prompt]
        if not ids:
            raise ValueError(f"generate: `prompts[{i}]` is empty")
        if min(ids) < 0 or max(ids) >= vocab_size:
            raise ValueError(f"generate: `prompts[{i}]` has token ids outside [0, {vocab_size})")
        checked.append(ids)
    return checked
