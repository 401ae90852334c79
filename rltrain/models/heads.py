"""Trainer-side modules: the policy (fused PPO loss from hidden states) and the critic.

Both take full sequences, prompt + response, right-padded:
    input_ids [B, S], attention_mask [B, S], and `gather_index` [B, T]: for response token t
    of row b, the position whose hidden state predicts it (prompt_len[b] - 1 + t).

With `packed=True` (the default, config `model.pack_sequences`) each forward packs the rows into
one sequence without padding and varlen attention (`rltrain.models.packing`) and gathers the
response positions from it; the results equal the padded forward's (to float rounding). A model
whose attention cannot run varlen (sliding windows, soft-capping) stays padded.

`PolicyModule.forward` runs the backbone, gathers the response positions and calls
`rltrain_kernels.linear_logprobs` / `rltrain_kernels.linear_ppo_policy_loss` with the lm_head weight *inside*
the forward, so that under FSDP2 the root module's pre-forward hook has gathered the
weight (also when it is tied to the input embeddings, as in the tiny model).
"""
from __future__ import annotations

import torch
from torch import nn

import rltrain_kernels
from rltrain.models.packing import pack_padded, use_varlen_attention


def _response_hidden(backbone: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     gather_index: torch.Tensor, packed: bool) -> torch.Tensor:
    """[B, T, H] hidden states at the positions predicting each response token."""
    if packed and input_ids.shape[0] > 0:
        rows = pack_padded(input_ids, attention_mask)
        hidden = backbone(input_ids=rows.input_ids, use_cache=False, **rows.forward_kwargs()).last_hidden_state
        return hidden[0][gather_index.clamp(min=0) + rows.starts[:, None]]
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
    index = gather_index.clamp(min=0).unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
    return hidden.gather(1, index)


class PolicyModule(nn.Module):
    """Wraps a transformers causal LM (`.model` backbone + `.lm_head`)."""

    def __init__(self, lm: nn.Module, packed: bool = True):
        super().__init__()
        self.lm = lm
        self.packed = packed and use_varlen_attention(lm)

    def forward(self, input_ids, attention_mask, gather_index, targets, mask, *, temperature: float = 1.0,
                old_logprobs=None, advantages=None, ref_logprobs=None, normalizer=None, on_policy: bool = False,
                **loss_kwargs):
        """Without old_logprobs (and not on_policy): (logprobs, entropy), [B, T] float32, no grad.
        With old_logprobs and advantages [B, T]: a `rltrain_kernels.PolicyLoss` (differentiable .loss);
        loss_kwargs: clip_low, clip_high, dual_clip, entropy_coef, kl_loss_coef (kernel keywords).
        on_policy=True (old_logprobs None): the old log-probs are this forward's own, detached (the
        same chunks and math as the loss's, so the ratio is exactly 1): no separate scoring pass."""
        hidden = _response_hidden(self.lm.model, input_ids, attention_mask, gather_index, self.packed)
        weight = self.lm.lm_head.weight
        if on_policy:
            old_logprobs, _ = rltrain_kernels.linear_logprobs(hidden.detach(), weight.detach(), targets,
                                                      temperature=temperature, mask=mask)
        elif old_logprobs is None:
            with torch.no_grad():
                return rltrain_kernels.linear_logprobs(hidden, weight, targets, temperature=temperature, mask=mask)
        return rltrain_kernels.linear_ppo_policy_loss(hidden, weight, targets, old_logprobs, advantages, mask,
                                              ref_logprobs=ref_logprobs, temperature=temperature,
                                              normalizer=normalizer, **loss_kwargs)


class CriticModule(nn.Module):
    """A causal-LM backbone (no lm_head) plus a scalar value head: values [B, T] float32."""

    def __init__(self, backbone: nn.Module, hidden_size: int, packed: bool = True):
        super().__init__()
        self.backbone = backbone
        self.packed = packed and use_varlen_attention(backbone)
        self.value_head = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids, attention_mask, gather_index) -> torch.Tensor:
        hidden = _response_hidden(self.backbone, input_ids, attention_mask, gather_index, self.packed)
        return self.value_head(hidden).squeeze(-1).to(torch.float32, copy=True)  # a fresh tensor, not a view
