"""The padded tensors of one rollout (`Experience`) and the PPO batch built on them (`PPOBatch`).

Layout (B = prompts * n rows, prompt-major; S = longest prompt + response; T = longest response):
    input_ids [B, S] int64, right-padded prompt + response; attention_mask [B, S] int64
    response_ids [B, T] int64, response_mask [B, T] bool (right-padded, as the kernels expect)
    gather_index [B, T] int64: position in input_ids whose hidden state predicts response token t
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence, TypeVar

import torch

from rltrain.rollout.types import RolloutOutput

_PROMPT_AND_RESPONSE = ("input_ids", "attention_mask")  # [B, S]; every other 2-D field is [B, T]
E = TypeVar("E", bound="Experience")


@dataclass
class Experience:
    """The layout above, plus per row: truncated [B] bool (finish_reason == "length"),
    sampler_logprobs [B, T] float32 (the engine's log-probs, 0 at padding) and prompt_index [B]
    int64 (the position of the row's prompt in the rollout's prompt list)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    response_ids: torch.Tensor
    response_mask: torch.Tensor
    gather_index: torch.Tensor
    truncated: torch.Tensor
    sampler_logprobs: torch.Tensor
    prompt_index: torch.Tensor

    @property
    def size(self) -> int:
        return self.input_ids.shape[0]

    def select(self: E, rows: Sequence[int] | torch.Tensor) -> E:
        """The sub-batch of `rows` (every field), trimmed to its own longest sequence / response."""
        idx = torch.as_tensor(rows, dtype=torch.long)
        t = max(1, int(self.response_mask[idx].sum(1).max())) if len(idx) else 1
        s = max(1, int(self.attention_mask[idx].sum(1).max())) if len(idx) else 1

        def take(name: str, x: torch.Tensor) -> torch.Tensor:
            if x.dim() == 1:
                return x[idx]
            return x[idx, :s] if name in _PROMPT_AND_RESPONSE else x[idx, :t]

        return type(self)(**{f.name: take(f.name, getattr(self, f.name)) for f in fields(self)})

    def to(self: E, device: torch.device | str) -> E:
        return type(self)(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


@dataclass
class PPOBatch(Experience):
    """An `Experience` with the PPO targets of its rows, each [B, T] float32, 0 at padding:
    old_logprobs (the actor before this iteration's updates), ref_logprobs (the reference model),
    values (the critic before the updates; 0 without a critic), returns (GAE returns, the critic's
    targets; for the critic-free estimators the return-to-go) and advantages (GAE advantages,
    whitened over all ranks when ppo.estimator.whiten_advantages; or the critic-free estimator's)."""

    old_logprobs: torch.Tensor
    ref_logprobs: torch.Tensor
    values: torch.Tensor
    returns: torch.Tensor
    advantages: torch.Tensor

    @classmethod
    def of(cls, exp: Experience, *, old_logprobs: torch.Tensor, ref_logprobs: torch.Tensor, values: torch.Tensor,
           returns: torch.Tensor, advantages: torch.Tensor) -> "PPOBatch":
        """`exp`'s rows with these targets (each [exp.size, T])."""
        rows = {f.name: getattr(exp, f.name) for f in fields(Experience)}
        return cls(**rows, old_logprobs=old_logprobs, ref_logprobs=ref_logprobs, values=values, returns=returns,
                   advantages=advantages)


def build_experience(prompts: Sequence[Sequence[int]], outputs: Sequence[Sequence[RolloutOutput]],
                     pad_token_id: int) -> Experience:
    """prompts[i] has len(outputs[i]) samples; rows ordered prompt-major."""
    rows = [(i, list(p), o) for i, (p, outs) in enumerate(zip(prompts, outputs)) for o in outs]
    b = len(rows)
    t = max(1, max(len(o.token_ids) for _, _, o in rows))
    s = max(len(p) + len(o.token_ids) for _, p, o in rows)
    input_ids = torch.full((b, s), pad_token_id, dtype=torch.long)
    attention = torch.zeros((b, s), dtype=torch.long)
    resp = torch.full((b, t), pad_token_id, dtype=torch.long)
    rmask = torch.zeros((b, t), dtype=torch.bool)
    gather = torch.zeros((b, t), dtype=torch.long)
    logp = torch.zeros((b, t), dtype=torch.float32)
    for row, (_, p, o) in enumerate(rows):
        n, L = len(p), len(o.token_ids)
        input_ids[row, :n] = torch.tensor(p)
        if L:
            input_ids[row, n:n + L] = torch.tensor(o.token_ids)
            resp[row, :L] = torch.tensor(o.token_ids)
            logp[row, :L] = o.logprobs
        attention[row, :n + L] = 1
        rmask[row, :L] = True
        gather[row, :L] = torch.arange(n - 1, n - 1 + L)
    truncated = torch.tensor([o.finish_reason == "length" for _, _, o in rows], dtype=torch.bool)
    prompt_index = torch.tensor([i for i, _, _ in rows], dtype=torch.long)
    return Experience(input_ids, attention, resp, rmask, gather, truncated, logp, prompt_index)
