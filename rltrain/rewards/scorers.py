"""Load a PRM / ORM scorer from a checkpoint folder, in any of the formats of `formats.py`.

    prm = load_prm("ckpt/prm", policy_tokenizer=tok, device="cuda")    # format detected from the folder
    prm = load_prm("Qwen2.5-Math-PRM-7B", format="qwen-prm", dtype=torch.bfloat16, shard=True)
    orm = load_orm("Skywork-Reward-Llama-3.1-8B", scalar_head="raw")
    step_scores = prm.score_steps(batch)                                # [B, K] float32, CPU
    outcome = orm.score(batch)                                          # [B] float32, CPU

This is the trainer's default scorer module (`reward.scorer_module=scorers`, `factory.py`). No
checkpoint's own Python code is ever executed (`trust_remote_code` stays off); a Qwen2.5-Math-PRM
is rebuilt from transformers' Qwen2Model and its head tensors (`qwen_prm.py`). Each format's loader
is its `rltrain.config.reward_formats.REWARD_FORMATS` row's (`loading.load_parts`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from rltrain.rewards.formats import check_format, detect_format
from rltrain.rewards.loading import LoadOptions, load_parts
from rltrain.rewards.readouts import sigmoid
from rltrain.rewards.scoring import OutcomeRewardScorer, ProcessRewardScorer
from rltrain.rewards.sharded import shard_reward_model
from rltrain.rewards.step_tag import DEFAULT_BAD, DEFAULT_GOOD, DEFAULT_STEP_TAG
from rltrain.rewards.value_head import default_dtype, resolve_model_path

__all__ = ["OutcomeRewardScorer", "ProcessRewardScorer", "load_orm", "load_prm"]


def _load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)


def _format(folder: Path, fmt: str, role: str) -> str:
    check_format(fmt, role)
    return detect_format(folder, role) if fmt == "auto" else fmt


def load_prm(path: str | Path, *, format: str = "auto", policy_tokenizer=None, device: str | torch.device = "cpu",
             dtype: torch.dtype | None = None, token_budget: int = 16384, shard: bool = False,
             scalar_head: str = "sigmoid", step_tag: str = DEFAULT_STEP_TAG, good_token: str = DEFAULT_GOOD,
             bad_token: str = DEFAULT_BAD, implicit_reference: str | Path | None = None, implicit_beta: float = 0.001,
             prompt_format: Callable[[str], str] | None = None, allow_download: bool = False,
             attn_implementation: str = "sdpa", pack_sequences: bool = True) -> ProcessRewardScorer:
    """A PRM scorer from a model folder (or a Hub id with allow_download=True).

    format: "auto" (detected: `formats.detect_format`) or one of `formats.PRM_FORMATS`; "implicit"
    needs `implicit_reference` (the reference LM's folder). policy_tokenizer: part of the
    scorer-loader protocol (`factory.py`), not needed: step texts are always rendered in the PRM's
    own tokenizer. dtype: bfloat16 on CUDA, float32 elsewhere by default. shard: FSDP2 over the
    ranks of the running process group (`sharded.py`). scalar_head: "sigmoid" | "raw", the score of
    a 1-label token-classification head. pack_sequences: score each micro-batch padding-free
    (`batched.read_logits`).
    """
    folder = resolve_model_path(path, allow_download=allow_download)
    fmt = _format(folder, format, "prm")
    tokenizer = _load_tokenizer(folder)
    options = LoadOptions(device=device, dtype=dtype or default_dtype(device), attn_implementation=attn_implementation,
                          scalar_head=scalar_head, step_tag=step_tag, good_token=good_token, bad_token=bad_token,
                          implicit_reference=implicit_reference, implicit_beta=implicit_beta,
                          allow_download=allow_download)
    parts = load_parts(fmt, folder, tokenizer, "prm", options)
    model, renderer, readout = parts.model, parts.renderer, parts.readout or sigmoid
    model, collective = shard_reward_model(model, device) if shard else (model, False)
    return ProcessRewardScorer(model, tokenizer, renderer=renderer, readout=readout, token_budget=token_budget,
                               prompt_format=prompt_format, device=device, collective=collective,
                               pack_sequences=pack_sequences)


def load_orm(path: str | Path, *, format: str = "auto", policy_tokenizer=None, device: str | torch.device = "cpu",
             dtype: torch.dtype | None = None, token_budget: int = 16384, shard: bool = False,
             scalar_head: str = "sigmoid", prompt_format: Callable[[str], str] | None = None,
             allow_download: bool = False, attn_implementation: str = "sdpa",
             pack_sequences: bool = True) -> OutcomeRewardScorer:
    """An ORM scorer: a value-head checkpoint (rm_train) or a sequence-classification one (e.g.
    Skywork-Reward; a 1-label head is read `scalar_head` = "sigmoid" | "raw", a 2-label head as the
    positive label's probability). Other arguments as `load_prm`."""
    folder = resolve_model_path(path, allow_download=allow_download)
    fmt = _format(folder, format, "orm")
    tokenizer = _load_tokenizer(folder)
    options = LoadOptions(device=device, dtype=dtype or default_dtype(device), attn_implementation=attn_implementation,
                          scalar_head=scalar_head, allow_download=allow_download)
    parts = load_parts(fmt, folder, tokenizer, "orm", options)
    common = dict(token_budget=token_budget, prompt_format=prompt_format, device=device, pack_sequences=pack_sequences)
    extra = {k: v for k, v in (("renderer", parts.renderer), ("readout", parts.readout)) if v is not None}
    model = parts.model
    model, collective = shard_reward_model(model, device) if shard else (model, False)
    return OutcomeRewardScorer(model, tokenizer, collective=collective, **extra, **common)
