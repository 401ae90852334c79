"""Turn prompts + rollout outputs into the padded tensors every PPO phase uses.

Layout (B = prompts * n rows, S = longest prompt + response, T = longest response):
    input_ids [B, S] int64, right-padded prompt + response; attention_mask [B, S] int64
    response_ids [B, T] int64, response_mask [B, T] bool (right-padded, as the kernels expect)
    gather_index [B, T] int64: position in input_ids whose hidden state predicts response token t
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Sequence

import torch

from rltrain.rollout.types import RolloutOutput


@dataclass
class Experience:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    response_ids: torch.Tensor
    response_mask: torch.Tensor
    gather_index: torch.Tensor
    truncated: torch.Tensor                      # [B] bool: finish_reason == "length"
    sampler_logprobs: torch.Tensor               # [B, T] float32 from the engine
    extras: dict[str, torch.Tensor] = field(default_factory=dict)   # [B, T] / [B] per-phase results

    @property
    def size(self) -> int:
        return self.input_ids.shape[0]

    def select(self, rows: Sequence[int] | torch.Tensor) -> "Experience":
        """The sub-batch of `rows`, trimmed to its own longest sequence / response."""
        idx = torch.as_tensor(rows, dtype=torch.long)
        mask = self.response_mask[idx]
        t = max(1, int(mask.sum(1).max())) if len(idx) else 1
        att = self.attention_mask[idx]
        s = max(1, int(att.sum(1).max())) if len(idx) else 1
        out = Experience(self.input_ids[idx, :s], att[:, :s], self.response_ids[idx, :t], mask[:, :t],
                         self.gather_index[idx, :t], self.truncated[idx], self.sampler_logprobs[idx, :t])
        out.extras = {k: (v[idx, :t] if v.dim() == 2 else v[idx]) for k, v in self.extras.items()}
        return out

    def to(self, device: torch.device) -> "Experience":
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self) if f.name != "extras"}
        return Experience(**moved, extras={k: v.to(device) for k, v in self.extras.items()})


def build_experience(prompts: Sequence[Sequence[int]], outputs: Sequence[Sequence[RolloutOutput]],
                     pad_token_id: int) -> Experience:
    """prompts[i] has len(outputs[i]) samples; rows ordered prompt-major."""
    rows = [(list(p), o) for p, outs in zip(prompts, outputs) for o in outs]
    b = len(rows)
    t = max(1, max(len(o.token_ids) for _, o in rows))
    s = max(len(p) + len(o.token_ids) for p, o in rows)
    input_ids = torch.full((b, s), pad_token_id, dtype=torch.long)
    attention = torch.zeros((b, s), dtype=torch.long)
    resp = torch.full((b, t), pad_token_id, dtype=torch.long)
    rmask = torch.zeros((b, t), dtype=torch.bool)
    gather = torch.zeros((b, t), dtype=torch.long)
    logp = torch.zeros((b, t), dtype=torch.float32)
    for i, (p, o) in enumerate(rows):
        n, L = len(p), len(o.token_ids)
        input_ids[i, :n] = torch.tensor(p)
        if L:
            input_ids[i, n:n + L] = torch.tensor(o.token_ids)
            resp[i, :L] = torch.tensor(o.token_ids)
            logp[i, :L] = o.logprobs
        attention[i, :n + L] = 1
        rmask[i, :L] = True
        gather[i, :L] = torch.arange(n - 1, n - 1 + L)
    truncated = torch.tensor([o.finish_reason == "length" for _, o in rows], dtype=torch.bool)
    return Experience(input_ids, attention, resp, rmask, gather, truncated, logp)

