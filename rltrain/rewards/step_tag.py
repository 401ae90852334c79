"""Math-Shepherd style step-tag PRM: a causal LM whose next-token guess at each step tag is "+" or "-".

The response is re-rendered with a step tag (" ки") after every step; at each tag position t
the step score is softmax over (logit_t("+"), logit_t("-")) taken at "+", i.e.
sigmoid(logit_t("+") - logit_t("-")). `StepTagLM` returns that logit difference for every
token ([B, T], float32), computing only the two needed rows of the lm_head (no [B, T, V]
logits), so scoring and BCE training share one code path with the value-head models.
Models that rescale logits after the lm_head (soft-capping, logit_scale) are not supported.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rltrain.rewards.token_model import TokenScoreModel

DEFAULT_STEP_TAG = " ки"
DEFAULT_GOOD = "+"
DEFAULT_BAD = "-"


class MissingTokenError(ValueError):
    """The PRM tokenizer has no single token for the step tag or a label."""


def single_token_id(tokenizer, text: str, what: str) -> int:
    """The id of `text` when it is exactly one token (also tried without a leading space)."""
    tried = []
    for variant in dict.fromkeys([text, text.strip()]):
        if not variant:
            continue
        ids = tokenizer.encode(variant, add_special_tokens=False)
        if len(ids) == 1:
            return int(ids[0])
        tried.append(f"{variant!r} -> {ids}")
    raise MissingTokenError(
        f"the PRM tokenizer has no single token for the {what} {text!r} ({'; '.join(tried)}); a step-tag PRM needs "
        "its step tag and its '+' / '-' labels as single tokens (add the tag to the tokenizer, resize the "
        "embeddings and train, or pass --step-tag / good_token / bad_token matching the model)")


@dataclass(frozen=True)
class StepTagTokens:
    """tag: the step tag id; good / bad: the "+" / "-" label ids."""

    tag: int
    good: int
    bad: int

    @classmethod
    def resolve(cls, tokenizer, step_tag: str = DEFAULT_STEP_TAG, good: str = DEFAULT_GOOD,
                bad: str = DEFAULT_BAD, vocab_size: int | None = None) -> "StepTagTokens":
        ids = cls(single_token_id(tokenizer, step_tag, "step tag"), single_token_id(tokenizer, good, "good label"),
                  single_token_id(tokenizer, bad, "bad label"))
        if ids.good == ids.bad:
            raise MissingTokenError(f"the good and bad labels {good!r} / {bad!r} are the same token")
        if vocab_size is not None and max(ids.tag, ids.good, ids.bad) >= vocab_size:
            raise MissingTokenError(f"step tag / label ids {ids} exceed the model's vocabulary ({vocab_size}): "
                                    "resize the model's embeddings to the tokenizer")
        return ids


class StepTagLM(TokenScoreModel):
    """forward(input_ids [B, T], attention_mask [B, T]) -> [B, T] float32 logit("+") - logit("-")."""

    def __init__(self, lm: nn.Module, tokens: StepTagTokens):
        super().__init__()
        base = getattr(lm, "base_model", None)
        if base is None or base is lm or lm.get_output_embeddings() is None:
            raise ValueError(f"StepTagLM: {type(lm).__name__} is not a causal LM with a base model and an lm_head")
        self.lm = lm
        self.tokens = tokens

    @property
    def config(self):
        return self.lm.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **packing) -> torch.Tensor:
        hidden = self.lm.base_model(input_ids=input_ids, attention_mask=attention_mask, **packing,
                                    use_cache=False).last_hidden_state
        head = self.lm.get_output_embeddings()
        pick = torch.tensor([self.tokens.good, self.tokens.bad], device=hidden.device)
        weight = head.weight.index_select(0, pick)                      # [2, H]
        diff = (weight[0] - weight[1]).float()
        z = hidden.float() @ diff
        if getattr(head, "bias", None) is not None:
            b = head.bias.index_select(0, pick).float()
            z = z + (b[0] - b[1])
        return z

    def save_pretrained(self, path, tokenizer=None):
        self.lm.save_pretrained(path)
        if tokenizer is not None:
            tokenizer.save_pretrained(path)
        return path


def scorer_parts(folder, tokenizer, role: str, options):
    """The `step-tag` format (Math-Shepherd): the causal LM's "+"/"-" logits at each step tag."""
    from transformers import AutoModelForCausalLM

    from rltrain.rewards.loading import ScorerParts
    from rltrain.rewards.render import RenderConfig
    from rltrain.rewards.renderers import TextStepRenderer

    lm = AutoModelForCausalLM.from_pretrained(folder, dtype=options.dtype, local_files_only=True,
                                              trust_remote_code=False, attn_implementation=options.attn_implementation)
    tokens = StepTagTokens.resolve(tokenizer, options.step_tag or DEFAULT_STEP_TAG, options.good_token or DEFAULT_GOOD,
                                   options.bad_token or DEFAULT_BAD, vocab_size=lm.get_input_embeddings().weight.shape[0])
    return ScorerParts(StepTagLM(lm.to(options.device).eval(), tokens),
                       TextStepRenderer(RenderConfig.math_shepherd(), tokens.tag, question_only=True))
