"""Token- and sequence-classification reward models, as transformers loads them (no custom code).

Checkpoints: config.json architectures "*ForTokenClassification" (a PRM; TRL's PRMTrainer writes this
layout, e.g. Qwen2ForTokenClassification) or "*ForSequenceClassification" (an ORM; Skywork-Reward,
TRL's RewardTrainer: e.g. LlamaForSequenceClassification), `num_labels` 1 or 2, a linear head over
the backbone's last hidden state (transformers' generic heads: `score`, bias-free for sequence
classification).

`ClassifierHeadModel` applies that head at every token ([B, T]): 1 label -> the logit; 2 labels ->
logit_1 - logit_0 (sigmoid of it = the softmax probability of label 1, the positive label).
A sequence-classification model pools the last non-padding token; reading the last token of each
right-padded row, as the scorers do, is the same number.

Score mapping (`reward.scalar_head`): a 1-label head is read `sigmoid` (default, a score in (0, 1)
like every other format, so `reward.eta` and `reward.orm_coef` keep their scale) or `raw` (the
Bradley-Terry reward itself, unbounded; then the ORM term is orm_coef * raw score). A 2-label head
is always the positive label's probability.

Renderers:
- `SeparatorStepRenderer` (token-classification PRM, TRL's PRMTrainer layout): [BOS] + question, then
  each step (stripped) followed by the step separator ("\\n", PRMConfig's default); step k is read
  at the last token of its separator.
- `ChatOutcomeRenderer` (sequence-classification ORM): the chat template over
  [user: question, assistant: response] (Skywork-Reward's usage), or, without a template,
  [BOS] + question + response; read at the last token.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from rltrain.models.packing import is_causal_model
from rltrain.rewards.formats import UnknownRewardModelError
from rltrain.rewards.render import Row
from rltrain.rewards.renderers import chat_text, encode_text
from rltrain.rewards.token_model import TokenScoreModel

TRL_STEP_SEPARATOR = "\n"
AUTO_CLASSES = {"token-classification": "AutoModelForTokenClassification",
                "sequence-classification": "AutoModelForSequenceClassification"}


def _linear_head(model: nn.Module) -> nn.Linear:
    for name in ("score", "classifier"):
        head = getattr(model, name, None)
        if isinstance(head, nn.Linear):
            return head
    raise ValueError(f"{type(model).__name__}: no linear classification head (`score` or `classifier`) over the last "
                     "hidden state; only such heads are supported")


class ClassifierHeadModel(TokenScoreModel):
    """A transformers *ForTokenClassification / *ForSequenceClassification model read per token:
    forward -> [B, T] float32 (1 label: the logit; 2 labels: logit_1 - logit_0)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        labels = int(model.config.num_labels)
        if labels not in (1, 2):
            raise ValueError(f"{type(model).__name__}: num_labels={labels}; a reward model has 1 (a score) or 2 "
                             "(negative / positive) labels")
        if not is_causal_model(model):
            raise UnknownRewardModelError(f"{type(model).__name__}: its attention is not causal (an encoder); rltrain "
                                          "reads classification heads of decoder models at a token")
        self.model = model
        self.head = _linear_head(model)
        self.num_labels = labels

    @property
    def config(self):
        return self.model.config

    def label_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                     **packing) -> torch.Tensor:
        """[B, T, num_labels] float32: the head at every token (dropout is off in eval mode)."""
        hidden = self.model.base_model(input_ids=input_ids, attention_mask=attention_mask, **packing,
                                       use_cache=False).last_hidden_state
        bias = self.head.bias.float() if self.head.bias is not None else None
        return nn.functional.linear(hidden.float(), self.head.weight.float(), bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **packing) -> torch.Tensor:
        logits = self.label_logits(input_ids, attention_mask, **packing)
        return logits[..., 0] if self.num_labels == 1 else logits[..., 1] - logits[..., 0]

    @classmethod
    def from_pretrained(cls, folder: str | Path, fmt: str, *, dtype: torch.dtype, device: str | torch.device = "cpu",
                        attn_implementation: str = "sdpa") -> "ClassifierHeadModel":
        import transformers

        auto = getattr(transformers, AUTO_CLASSES[fmt])
        model = auto.from_pretrained(folder, dtype=dtype, local_files_only=True, trust_remote_code=False,
                                     attn_implementation=attn_implementation)
        return cls(model).to(device).eval()


def bos_ids(tokenizer) -> list[int]:
    return [int(tokenizer.bos_token_id)] if tokenizer.bos_token_id is not None else []


@dataclass(frozen=True)
class SeparatorStepRenderer:
    """[BOS] + question + (step.strip() + separator) per step, each piece encoded on its own (TRL's
    PRMTrainer.tokenize_row); step k is read at the last token of its separator."""

    separator: str = TRL_STEP_SEPARATOR

    def steps_row(self, tokenizer, prompt: str, question: str, steps: Sequence[str]) -> Row:
        sep = list(tokenizer.encode(self.separator, add_special_tokens=False))
        if not sep:
            raise ValueError(f"the step separator {self.separator!r} encodes to no token")
        ids = bos_ids(tokenizer) + list(tokenizer.encode(question, add_special_tokens=False))
        positions = []
        for step in steps:
            ids += list(tokenizer.encode(step.strip(), add_special_tokens=False)) + sep
            positions.append(len(ids) - 1)
        return Row(ids, positions)


@dataclass(frozen=True)
class ChatOutcomeRenderer:
    """[user: question, assistant: response] through the chat template (else BOS + question + response),
    read at the last token."""

    def outcome_row(self, tokenizer, prompt: str, question: str, response: str) -> Row:
        if getattr(tokenizer, "chat_template", None):
            ids = encode_text(tokenizer, chat_text(tokenizer, [{"role": "user", "content": question},
                                                               {"role": "assistant", "content": response}]))
        else:
            ids = bos_ids(tokenizer) + list(tokenizer.encode(question + response, add_special_tokens=False))
        if not ids:
            raise ValueError("ChatOutcomeRenderer: empty question and response: nothing to score")
        return Row(ids, [len(ids) - 1])


def _classifier_parts(folder: Path, fmt: str, renderer, options):
    from rltrain.rewards.loading import ScorerParts
    from rltrain.rewards.readouts import scalar_readout, sigmoid

    model = ClassifierHeadModel.from_pretrained(folder, fmt, dtype=options.dtype, device=options.device,
                                                attn_implementation=options.attn_implementation)
    return ScorerParts(model, renderer, scalar_readout(options.scalar_head) if model.num_labels == 1 else sigmoid)


def token_classifier_parts(folder: Path, tokenizer, role: str, options):
    """The `token-classification` format (a PRM): the head read at the separator after each step."""
    return _classifier_parts(folder, "token-classification", SeparatorStepRenderer(), options)


def sequence_classifier_parts(folder: Path, tokenizer, role: str, options):
    """The `sequence-classification` format (an ORM): the head at the conversation's last token."""
    return _classifier_parts(folder, "sequence-classification", ChatOutcomeRenderer(), options)
