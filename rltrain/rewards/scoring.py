"""Learned PRM / ORM scorers implementing the `base.py` protocols, whatever the checkpoint's format.

    step_scores = prm.score_steps(batch)     # [B, K] float32, CPU
    outcome = orm.score(batch)               # [B] float32, CPU

A scorer = a token-logit model (`token_model.TokenScoreModel`), a renderer (`renderers.py`: the
model's own input format and tokenizer) and a read-out (`readouts.py`: numbers read -> scores).
Every renderer builds its rows from `batch.step_texts` (no special tokens), so column k is step k
of the policy's segmentation whatever tokenizer the reward model has. Rows are scored in
token-budget micro-batches (`batched.read_logits`; `collective=True` when the model is sharded
over the ranks with FSDP2, `sharded.py`). `scorers.load_prm` / `load_orm` build them from folders.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from rltrain.rewards.base import ScoringBatch
from rltrain.rewards.batched import read_logits, to_step_matrix
from rltrain.rewards.readouts import ReadOut, sigmoid
from rltrain.rewards.render import RenderConfig, Row
from rltrain.rewards.renderers import OutcomeRenderer, StepRenderer, TextOutcomeRenderer, TextStepRenderer


class _Scorer:
    """Shared state: the token-logit model, its tokenizer, device, token budget, prompt formatting, read-out."""

    def __init__(self, model: nn.Module, tokenizer, *, token_budget: int = 16384,
                 prompt_format: Callable[[str], str] | None = None, device: str | torch.device | None = None,
                 readout: ReadOut = sigmoid, collective: bool = False, pack_sequences: bool = True):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.token_budget = token_budget
        self.prompt_format = prompt_format or (lambda p: p)
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.readout = readout
        self.collective = collective
        self.pack_sequences = pack_sequences
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = 0 if pad is None else int(pad)

    def _texts(self, batch: ScoringBatch) -> list[tuple[str, str]]:
        """(prompt, question) per row: the formatted prompt, and the bare question (the prompt without one)."""
        prompts = [self.prompt_format(p) for p in batch.prompts]
        questions = list(batch.questions) if batch.questions is not None else prompts
        return list(zip(prompts, questions))

    def _read(self, rows: Sequence[Row]) -> list[torch.Tensor]:
        values = read_logits(self.model, rows, pad_id=self.pad_id, token_budget=self.token_budget, device=self.device,
                             collective=self.collective, pack=self.pack_sequences)
        return [self.readout(v) for v in values]


class ProcessRewardScorer(_Scorer):
    """`score_steps(batch) -> [B, K]`: the read-out of the model's values at each row's read positions.

    renderer: the model's input format; by default the text renderer with `render` joiners and the
    step tag `tag_id` (step-tag PRM, reads the bare question) or without a tag (value-head PRM, reads
    the policy prompt).
    """

    def __init__(self, model: nn.Module, tokenizer, *, tag_id: int | None = None,
                 render: RenderConfig = RenderConfig(), renderer: StepRenderer | None = None, **kwargs):
        super().__init__(model, tokenizer, **kwargs)
        self.renderer = renderer or TextStepRenderer(render, tag_id, question_only=tag_id is not None)

    @property
    def tag_id(self) -> int | None:
        """The step tag of a step-tag PRM (None for other formats)."""
        return self.renderer.tag_id if isinstance(self.renderer, TextStepRenderer) else None

    def rows(self, batch: ScoringBatch) -> list[Row]:
        return [self.renderer.steps_row(self.tokenizer, p, q, steps)
                for (p, q), steps in zip(self._texts(batch), batch.step_texts)]

    def score_steps(self, batch: ScoringBatch) -> torch.Tensor:
        num_steps = batch.segments.num_steps.tolist()
        for b, (steps, n) in enumerate(zip(batch.step_texts, num_steps)):
            if len(steps) != n:
                raise ValueError(f"score_steps: row {b} has {len(steps)} step texts for {n} steps")
        return to_step_matrix(self._read(self.rows(batch)), num_steps)


class OutcomeRewardScorer(_Scorer):
    """`score(batch) -> [B]`: the read-out of the model's value at the last token of each row."""

    def __init__(self, model: nn.Module, tokenizer, *, renderer: OutcomeRenderer | None = None, **kwargs):
        super().__init__(model, tokenizer, **kwargs)
        self.renderer = renderer or TextOutcomeRenderer()

    def rows(self, batch: ScoringBatch) -> list[Row]:
        return [self.renderer.outcome_row(self.tokenizer, p, q, "".join(steps))
                for (p, q), steps in zip(self._texts(batch), batch.step_texts)]

    def score(self, batch: ScoringBatch) -> torch.Tensor:
        values = self._read(self.rows(batch))  # also with no rows: a sharded model's forwards are collectives
        return torch.cat(values) if values else torch.zeros(0)
