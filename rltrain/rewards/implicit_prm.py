"""Implicit PRM (PRIME, Cui et al. 2025, arXiv 2502.01456; EurusPRM-Stage1 / -Stage2): process rewards
from the log-likelihood ratio of a causal LM and a reference LM.

Per response token t: r_t = beta * (log pi(y_t | y_<t) - log pi_ref(y_t | y_<t)); the score of step
k is the sum of r_t over step k's tokens. (EurusPRM's usage reports the running sum up to the end of
step k, the Q value; that is the prefix sum of these step scores.) beta: `reward.implicit_beta`
(0.001 in EurusPRM's usage). Both LMs read the same rows, built by the PRM's tokenizer: the chat
template over [user: question] with the assistant header, then the step texts verbatim, each
encoded on its own so that step boundaries are exact.

Checkpoints: two ordinary causal-LM folders (e.g. PRIME-RL/EurusPRM-Stage2 and its reference
Qwen/Qwen2.5-Math-7B-Instruct); nothing in the folder says "implicit PRM", so the format is never
detected, only forced (`reward.prm_format=implicit`, `reward.implicit_reference=PATH`).
Log-probs come from `rltrain_kernels.linear_logprobs` (the [B, T, V] logits are never materialised);
models that rescale logits after the lm_head (soft-capping, logit_scale) are not supported.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

import rltrain_kernels
from rltrain.rewards.render import Row
from rltrain.rewards.renderers import chat_text, encode_text
from rltrain.rewards.token_model import TokenScoreModel

DEFAULT_BETA = 0.001


class TokenLogProbs(nn.Module):
    """A causal LM's log-prob of each token given the ones before: [B, T] float32, 0 at t = 0.
    Its own module so that FSDP2 gathers the lm_head (a root parameter) in its forward."""

    def __init__(self, lm: nn.Module):
        super().__init__()
        if lm.get_output_embeddings() is None:
            raise ValueError(f"implicit PRM: {type(lm).__name__} has no lm_head")
        self.lm = lm

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.lm.base_model(input_ids=input_ids, attention_mask=attention_mask,
                                    use_cache=False).last_hidden_state
        weight = self.lm.get_output_embeddings().weight
        mask = attention_mask[:, 1:] if attention_mask is not None else None
        logp, _ = rltrain_kernels.linear_logprobs(hidden[:, :-1], weight, input_ids[:, 1:], mask=mask)
        return nn.functional.pad(logp.float(), (1, 0))


class ImplicitPRMModel(TokenScoreModel):
    """forward -> [B, T] float32: the running sum over positions <= t of beta * (logp - ref_logp).
    Scored padded: a running sum and next-token log-probs would cross the rows of a packed sequence."""

    packs_sequences = False

    def __init__(self, policy: nn.Module, reference: nn.Module, beta: float = DEFAULT_BETA):
        super().__init__()
        self.policy = TokenLogProbs(policy)
        self.reference = TokenLogProbs(reference)
        self.beta = float(beta)

    @property
    def config(self):
        return self.policy.lm.config

    def shard_units(self) -> list[nn.Module]:
        return [self.policy, self.reference]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        ratio = self.policy(input_ids, attention_mask).double() - self.reference(input_ids, attention_mask).double()
        if attention_mask is not None:
            ratio = ratio * attention_mask
        return (self.beta * ratio).cumsum(dim=1).float()

    @classmethod
    def from_pretrained(cls, folder: str | Path, reference: str | Path, *, beta: float, dtype: torch.dtype,
                        device: str | torch.device = "cpu", attn_implementation: str = "sdpa") -> "ImplicitPRMModel":
        from transformers import AutoModelForCausalLM

        lms = [AutoModelForCausalLM.from_pretrained(p, dtype=dtype, local_files_only=True, trust_remote_code=False,
                                                    attn_implementation=attn_implementation) for p in (folder, reference)]
        if lms[0].config.vocab_size != lms[1].config.vocab_size:
            raise ValueError(f"implicit PRM: {folder} and its reference {reference} have different vocabularies "
                             f"({lms[0].config.vocab_size} vs {lms[1].config.vocab_size}); they must share a tokenizer")
        return cls(lms[0], lms[1], beta).to(device).eval()


@dataclass(frozen=True)
class ImplicitStepRenderer:
    """chat template over [user: question] + the assistant header, then the step texts verbatim; read
    at the header's last token and at each step's last token (n_steps + 1 positions, see
    `readouts.step_differences`). Without a chat template: BOS + question."""

    def steps_row(self, tokenizer, prompt: str, question: str, steps: Sequence[str]) -> Row:
        if getattr(tokenizer, "chat_template", None):
            ids = encode_text(tokenizer, chat_text(tokenizer, [{"role": "user", "content": question}],
                                                   generation_prompt=True))
        else:
            bos = [int(tokenizer.bos_token_id)] if tokenizer.bos_token_id is not None else []
            ids = bos + list(tokenizer.encode(question, add_special_tokens=False))
        if not ids:
            raise ValueError("implicit PRM rendering: an empty question gives no position to start the sums from")
        positions = [len(ids) - 1]
        for step in steps:
            ids += list(tokenizer.encode(step, add_special_tokens=False)) if step else []
            positions.append(len(ids) - 1)
        return Row(ids, positions) if steps else Row(ids, [])


def scorer_parts(folder: Path, tokenizer, role: str, options):
    """The `implicit` format (PRIME): beta x the step's log-ratio of the LM and `implicit_reference`."""
    from rltrain.rewards.formats import UnknownRewardModelError
    from rltrain.rewards.loading import ScorerParts
    from rltrain.rewards.readouts import step_differences
    from rltrain.rewards.value_head import resolve_model_path

    if options.implicit_reference is None:
        raise UnknownRewardModelError("an implicit PRM needs its reference LM: set reward.implicit_reference "
                                      "(load_prm(implicit_reference=...))")
    reference = resolve_model_path(options.implicit_reference, allow_download=options.allow_download)
    model = ImplicitPRMModel.from_pretrained(folder, reference, beta=options.implicit_beta, dtype=options.dtype,
                                             device=options.device, attn_implementation=options.attn_implementation)
    return ScorerParts(model, ImplicitStepRenderer(), step_differences)
