"""Learned PRM / ORM scorers implementing the `base.py` protocols, and factories that load them.

    prm = load_prm("ckpt/prm", policy_tokenizer=tok, device="cuda")   # step-tag or value-head, auto
    step_scores = prm.score_steps(batch)                               # [B, K] float32, CPU
    orm = load_orm("ckpt/orm", policy_tokenizer=tok)
    outcome = orm.score(batch)                                         # [B] float32, CPU

Every scorer renders `batch.step_texts` (no special tokens) in its own tokenizer with the
functions that build its training rows (`render.py`): step-tag PRMs insert the tag after each
step, value-head models read each step's last token. Column k is step k of the policy's
segmentation.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import nn

from rltrain.rewards.base import ScoringBatch
from rltrain.rewards.batched import read_logits, to_step_matrix
from rltrain.rewards.render import RenderConfig, Row, encode_prompt, render_outcome, render_steps
from rltrain.rewards.step_tag import DEFAULT_BAD, DEFAULT_GOOD, DEFAULT_STEP_TAG, StepTagLM, StepTagTokens
from rltrain.rewards.value_head import ValueHeadModel, default_dtype, has_value_head, resolve_model_path

PRM_KINDS = ("auto", "step-tag", "value-head")


class _Scorer:
    """Shared state: the token-logit model, its tokenizer, device, token budget, prompt formatting."""

    def __init__(self, model: nn.Module, tokenizer, *, token_budget: int = 16384,
                 prompt_format: Callable[[str], str] | None = None, device: str | torch.device | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.token_budget = token_budget
        self.prompt_format = prompt_format or (lambda p: p)
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = 0 if pad is None else int(pad)

    def _prompt_ids(self, batch: ScoringBatch) -> list[list[int]]:
        return [encode_prompt(self.tokenizer, self.prompt_format(p)) for p in batch.prompts]

    def _read(self, rows: Sequence[Row]) -> list[torch.Tensor]:
        return [torch.sigmoid(x) for x in read_logits(self.model, rows, pad_id=self.pad_id,
                                                       token_budget=self.token_budget, device=self.device)]


class ProcessRewardScorer(_Scorer):
    """`score_steps(batch) -> [B, K]`: sigmoid of the model's logit at each step's read position.

    tag_id: the step tag (step-tag PRM) or None (value-head PRM); render: how texts are joined.
    """

    def __init__(self, model: nn.Module, tokenizer, *, tag_id: int | None = None,
                 render: RenderConfig = RenderConfig(), **kwargs):
        super().__init__(model, tokenizer, **kwargs)
        self.tag_id = tag_id
        self.render = render

    def rows(self, batch: ScoringBatch) -> list[Row]:
        prompt_ids = self._prompt_ids(batch)
        return [render_steps(self.tokenizer, "", steps, self.render, self.tag_id, prompt_ids=p)
                for p, steps in zip(prompt_ids, batch.step_texts)]

    def score_steps(self, batch: ScoringBatch) -> torch.Tensor:
        num_steps = batch.segments.num_steps.tolist()
        for b, (steps, n) in enumerate(zip(batch.step_texts, num_steps)):
            if len(steps) != n:
                raise ValueError(f"score_steps: row {b} has {len(steps)} step texts for {n} steps")
        return to_step_matrix(self._read(self.rows(batch)), num_steps)


class OutcomeRewardScorer(_Scorer):
    """`score(batch) -> [B]`: sigmoid of the value head at the last token of prompt + response."""

    def rows(self, batch: ScoringBatch) -> list[Row]:
        prompt_ids = self._prompt_ids(batch)
        return [render_outcome(self.tokenizer, "", "".join(steps), prompt_ids=p)
                for p, steps in zip(prompt_ids, batch.step_texts)]

    def score(self, batch: ScoringBatch) -> torch.Tensor:
        return torch.cat(self._read(self.rows(batch))) if batch.size else torch.zeros(0)


def _load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def load_prm(path: str | Path, *, kind: str = "auto", policy_tokenizer=None, device: str | torch.device = "cpu",
             dtype: torch.dtype | None = None, token_budget: int = 16384, step_tag: str = DEFAULT_STEP_TAG,
             good_token: str = DEFAULT_GOOD, bad_token: str = DEFAULT_BAD,
             prompt_format: Callable[[str], str] | None = None, allow_download: bool = False) -> ProcessRewardScorer:
    """A PRM scorer from a model folder (or a Hub id with allow_download=True).

    kind "auto": value-head PRM when the folder has value_head.safetensors, else step-tag PRM.
    policy_tokenizer: part of the scorer-loader protocol (`factory.py`), not needed here: step
    texts are always rendered in the PRM's own tokenizer. dtype defaults to bfloat16 on CUDA, float32 elsewhere.
    """
    if kind not in PRM_KINDS:
        raise ValueError(f"load_prm: `kind` must be one of {PRM_KINDS}, got {kind!r}")
    folder = resolve_model_path(path, allow_download=allow_download)
    tokenizer = _load_tokenizer(folder)
    common = dict(token_budget=token_budget, prompt_format=prompt_format, device=device)
    if kind == "value-head" or (kind == "auto" and has_value_head(folder)):
        model = ValueHeadModel.from_pretrained(folder, dtype=dtype, device=device)
        render = RenderConfig(**model.metadata.get("render", {}))
        return ProcessRewardScorer(model, tokenizer, render=render, **common)
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype or default_dtype(device), local_files_only=True)
    tokens = StepTagTokens.resolve(tokenizer, step_tag, good_token, bad_token,
                                   vocab_size=lm.get_input_embeddings().weight.shape[0])
    return ProcessRewardScorer(StepTagLM(lm.to(device), tokens), tokenizer, tag_id=tokens.tag,
                               render=RenderConfig.math_shepherd(), **common)


def load_orm(path: str | Path, *, policy_tokenizer=None, device: str | torch.device = "cpu",
             dtype: torch.dtype | None = None, token_budget: int = 16384,
             prompt_format: Callable[[str], str] | None = None, allow_download: bool = False) -> OutcomeRewardScorer:
    """An ORM scorer from a value-head checkpoint (MissingValueHeadError for a plain model)."""
    folder = resolve_model_path(path, allow_download=allow_download)
    model = ValueHeadModel.from_pretrained(folder, dtype=dtype, device=device)
    tokenizer = _load_tokenizer(folder)
    return OutcomeRewardScorer(model, tokenizer, token_budget=token_budget, prompt_format=prompt_format,
                               device=device)
