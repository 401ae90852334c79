"""Reward-model training: BCE on per-token logits at labelled positions, and ROC-AUC.

Examples (text) -> `LabelledRow`s (token ids, read positions, one label in [0, 1] per position)
-> `train_token_scorer`, which works for any model mapping (input_ids, attention_mask) to
per-token logits [b, T]: `ValueHeadModel` (ORM: one position, the last token; PRM: step ends)
and `StepTagLM` (step tags; BCE on logit("+") - logit("-") is the 2-way softmax CE on "+"/"-").
Soft labels (fractions) are used as BCE targets as they are.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from rltrain.rewards.batched import pad_rows
from rltrain.rewards.render import RenderConfig, Row, render_outcome, render_steps


@dataclass(frozen=True)
class StepExample:
    """prompt text, steps (texts concatenating to the response), labels[k] in [0, 1] for step k."""

    prompt: str
    steps: list[str]
    labels: list[float]
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.steps) != len(self.labels):
            raise ValueError(f"StepExample {self.source}: {len(self.steps)} steps but {len(self.labels)} labels")


@dataclass(frozen=True)
class OutcomeExample:
    """prompt text, response text, label 1.0 (correct) / 0.0."""

    prompt: str
    response: str
    label: float
    source: str = ""


@dataclass(frozen=True)
class LabelledRow:
    row: Row
    labels: list[float]


def encode_step_examples(tokenizer, examples: Sequence[StepExample], render: RenderConfig = RenderConfig(),
                         tag_id: int | None = None) -> list[LabelledRow]:
    return [LabelledRow(render_steps(tokenizer, e.prompt, e.steps, render, tag_id), list(e.labels))
            for e in examples if e.steps]


def encode_outcome_examples(tokenizer, examples: Sequence[OutcomeExample]) -> list[LabelledRow]:
    return [LabelledRow(render_outcome(tokenizer, e.prompt, e.response), [float(e.label)]) for e in examples]


@dataclass(frozen=True)
class RMTrainConfig:
    """AdamW with linear warm-up then cosine decay; batch_size rows per optimizer step."""

    lr: float = 1e-4
    epochs: int = 1
    batch_size: int = 16
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    warmup_frac: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"RMTrainConfig: need lr > 0, epochs >= 1, batch_size >= 1, got {self}")


def _loss(model: nn.Module, batch: Sequence[LabelledRow], pad_id: int, device) -> torch.Tensor:
    ids, mask = pad_rows([r.row.input_ids for r in batch], pad_id, device)
    logits = model(ids, mask)                                                  # [b, T]
    rows = torch.tensor([i for i, r in enumerate(batch) for _ in r.row.positions], device=logits.device)
    cols = torch.tensor([p for r in batch for p in r.row.positions], device=logits.device)
    target = torch.tensor([y for r in batch for y in r.labels], dtype=torch.float32, device=logits.device)
    return nn.functional.binary_cross_entropy_with_logits(logits[rows, cols].float(), target)


def train_token_scorer(model: nn.Module, rows: Sequence[LabelledRow], config: RMTrainConfig = RMTrainConfig(), *,
                       pad_id: int, progress: Callable[[int, float], None] | None = None) -> list[float]:
    """Train in place; returns the loss of every optimizer step. `progress(step, loss)` after each."""
    rows = [r for r in rows if r.row.positions]
    if not rows:
        raise ValueError("train_token_scorer: no labelled positions to train on")
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    per_epoch = math.ceil(len(rows) / config.batch_size)
    total = per_epoch * config.epochs
    warm = max(1, int(config.warmup_frac * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, 0.5 * (1 + math.cos(
        math.pi * min(1.0, max(0, s - warm) / max(1, total - warm))))))
    rng = random.Random(config.seed)
    losses: list[float] = []
    model.train()
    for _ in range(config.epochs):
        order = list(range(len(rows)))
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            loss = _loss(model, [rows[i] for i in order[start:start + config.batch_size]], pad_id, device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if config.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(len(losses), losses[-1])
    model.eval()
    return losses


def roc_auc(scores: Sequence[float], labels: Sequence[float]) -> float:
    """Area under the ROC curve (ties count half); labels > 0.5 are positives. NaN with one class."""
    pairs = sorted(zip(scores, labels), key=lambda p: p[0])
    pos = sum(1 for _, y in pairs if y > 0.5)
    neg = len(pairs) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid_rank = (i + j + 1) / 2  # 1-based average rank of the tie group
        rank_sum += mid_rank * sum(1 for _, y in pairs[i:j] if y > 0.5)
        i = j
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)
