"""Build the configured PRM / ORM scorers, importing learned ones lazily.

`reward.prm = "none" | "rule" | <path or Hub id>` and `reward.orm = "none" | <path or Hub id>`; a Hub id is
downloaded (Hugging Face cache) only with `reward.allow_download`. Learned
scorers live in `rltrain.rewards.<reward.scorer_module>` (default `scorers`)
which must offer `load_prm(path, policy_tokenizer=..., device=...)` / `load_orm(...)`
returning objects that satisfy `rltrain.rewards.base` (`score_steps -> [B, K]`, `score -> [B]`).
The default module also gets the reward models' options (`scorer_options`): the format
(`reward.prm_format` / `orm_format`), `reward.scoring` (dtype, token budget, FSDP2 sharding),
`reward.scalar_head` and the implicit PRM's reference and beta.
"""
from __future__ import annotations

import importlib

import torch

from rltrain.config.sources import BUILTIN_SCORERS, looks_local
from rltrain.config.schema import RewardConfig


class ScorerUnavailable(RuntimeError):
    pass


def scorer_options(cfg: RewardConfig, kind: str, device: torch.device) -> dict:
    """Keyword arguments of the default module's `load_prm` / `load_orm` from the reward config
    (dtype None = "auto": bfloat16 on CUDA, float32 elsewhere)."""
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}.get(cfg.scoring.dtype)
    options = dict(format=cfg.prm_format if kind == "prm" else cfg.orm_format, dtype=dtype,
                   token_budget=cfg.scoring.token_budget, shard=cfg.scoring.shard,
                   pack_sequences=cfg.scoring.pack_sequences, scalar_head=cfg.scalar_head,
                   allow_download=cfg.allow_download)
    if kind == "prm":
        options.update(implicit_reference=cfg.implicit_reference, implicit_beta=cfg.implicit_beta)
    return options


def _load_learned(cfg: RewardConfig, path: str, kind: str, device: torch.device, tokenizer):
    module_name, allow_download = cfg.scorer_module, cfg.allow_download
    full = f"rltrain.rewards.{module_name}"
    if allow_download and not looks_local(path):  # a Hub id: the loader gets the downloaded folder
        from rltrain.rewards.value_head import resolve_model_path

        path = str(resolve_model_path(path, allow_download=True))
    try:
        module = importlib.import_module(full)
    except ImportError as exc:
        raise ScorerUnavailable(
            f"reward.{kind}={path!r} needs the learned {kind.upper()} scorer module `{full}`, which cannot be "
            f"imported ({exc}); install / merge it, or set reward.{kind}=none") from exc
    loader = getattr(module, f"load_{kind}", None)
    if loader is None:
        raise ScorerUnavailable(f"`{full}` has no `load_{kind}(path, policy_tokenizer=..., device=...)` "
                                "(reward.scorer_module)")
    extra = scorer_options(cfg, kind, device) if module_name == BUILTIN_SCORERS else {}
    return loader(path, policy_tokenizer=tokenizer, device=device, **extra)


def build_prm(cfg: RewardConfig, device: torch.device, tokenizer=None):
    """None, the rule-based step checker, or a learned PRM (checked against the contract)."""
    from rltrain.rewards.base import ProcessRewardModel

    if cfg.prm == "none":
        return None
    if cfg.prm == "rule":
        from rltrain.rewards.step_checker import ArithmeticStepChecker

        return ArithmeticStepChecker()
    scorer = _load_learned(cfg, cfg.prm, "prm", device, tokenizer)
    if not isinstance(scorer, ProcessRewardModel):
        raise ScorerUnavailable(f"rltrain.rewards.{cfg.scorer_module}.load_prm returned no ProcessRewardModel")
    return scorer


def build_orm(cfg: RewardConfig, device: torch.device, tokenizer=None):
    from rltrain.rewards.base import OutcomeRewardModel

    if cfg.orm == "none":
        return None
    scorer = _load_learned(cfg, cfg.orm, "orm", device, tokenizer)
    if not isinstance(scorer, OutcomeRewardModel):
        raise ScorerUnavailable(f"rltrain.rewards.{cfg.scorer_module}.load_orm returned no OutcomeRewardModel")
    return scorer
