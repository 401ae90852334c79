"""Which reward-model layout a checkpoint folder holds, read from its files (no model is loaded).

PRM formats (`reward.prm_format`):
    value-head            rltrain's own: any HF backbone + value_head.safetensors (rm_train writes it)
    step-tag              Math-Shepherd: a causal LM ("*ForCausalLM"); "+"/"-" logits at " ки" tags
    qwen-prm              Qwen2.5-Math-PRM: "*ForProcessRewardModel" (Qwen2 backbone + score.0/score.2
                          head, 2 labels); steps joined by "<extra_0>" in the chat template
    token-classification  "*ForTokenClassification" (TRL's PRMTrainer layout); read at the separator
                          after each step
    implicit              PRIME / EurusPRM: a causal LM and a reference LM (reward.implicit_reference);
                          never detected (its folder is an ordinary causal LM): forced only
ORM formats (`reward.orm_format`):
    value-head            as above
    sequence-classification  "*ForSequenceClassification" (Skywork-Reward style, TRL's RewardTrainer)

`detect_format(folder, role)` applies the rules of `rltrain.config.reward_formats.REWARD_FORMATS`
(marker files first, then architectures, in the table's order); a folder that matches none raises
`UnknownRewardModelError`, one line saying what was looked for and what was found. Imports no torch.
"""
from __future__ import annotations

import json
from pathlib import Path

from rltrain.config.reward_formats import ORM_FORMATS, PRM_FORMATS, REWARD_FORMATS
from rltrain.errors import UserError

FORMATS = {"prm": PRM_FORMATS, "orm": ORM_FORMATS}


class UnknownRewardModelError(UserError, ValueError):
    """A folder none of the known reward-model layouts matches (or one that contradicts a forced format)."""


def read_config(folder: str | Path) -> dict:
    """config.json of a model folder ({} when absent)."""
    f = Path(folder) / "config.json"
    if not f.is_file():
        return {}
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UnknownRewardModelError(f"{f}: not valid JSON ({exc.msg})") from None


def architectures(folder: str | Path) -> list[str]:
    return [str(a) for a in read_config(folder).get("architectures") or []]


def _rules(role: str) -> list[tuple[str, str, str]]:
    """(kind "file" | "architecture", what to look for, format) for `role`, in the order they are tried."""
    rows = [(name, fmt) for name, fmt in REWARD_FORMATS.items() if role in fmt.roles]
    return ([("file", f.marker_file, name) for name, f in rows if f.marker_file]
            + [("architecture", f.architecture, name) for name, f in rows if f.architecture])


def _looked_for(role: str) -> str:
    return "; ".join(f"{what} ({fmt})" if kind == "file" else
                     f"architectures *{what} ({fmt}: {REWARD_FORMATS[fmt].description})"
                     for kind, what, fmt in _rules(role))


def _found(folder: Path) -> str:
    files = sorted(p.name for p in folder.iterdir())[:12] if folder.is_dir() else []
    config = read_config(folder)
    return (f"architectures={config.get('architectures')}, model_type={config.get('model_type')!r}, "
            f"files={files}")


def detect_format(folder: str | Path, role: str) -> str:
    """The format of a `role` ("prm" | "orm") checkpoint folder, by the rules of this module's docstring."""
    if role not in FORMATS:
        raise ValueError(f"detect_format: role must be 'prm' or 'orm', got {role!r}")
    folder = Path(folder)
    rules = _rules(role)
    for kind, what, fmt in rules:
        if kind == "file" and (folder / what).is_file():
            return fmt
    model_type = str(read_config(folder).get("model_type", ""))
    for arch in architectures(folder):
        for kind, what, fmt in rules:
            if kind == "architecture" and arch.endswith(what):
                check_decoder(folder, model_type)
                return fmt
    key = f"reward.{role}_format"
    raise UnknownRewardModelError(
        f"{folder}: not {'an' if role == 'orm' else 'a'} {role.upper()} layout rltrain knows; looked for {_looked_for(role)}; found {_found(folder)}"
        f"; to force a format set {key} to one of {FORMATS[role]}")


# Bidirectional encoders: their classification heads read a pooled [CLS] state, not a token of a
# causal model, so rltrain's per-token read-out would score them wrongly.
ENCODER_MODEL_TYPES = frozenset({"albert", "bert", "big_bird", "camembert", "deberta", "deberta-v2", "distilbert",
                                 "electra", "longformer", "modernbert", "mpnet", "roberta", "xlm-roberta"})


def check_decoder(folder: Path, model_type: str) -> None:
    """UnknownRewardModelError for an encoder checkpoint (ENCODER_MODEL_TYPES)."""
    if model_type in ENCODER_MODEL_TYPES:
        raise UnknownRewardModelError(
            f"{folder}: model_type {model_type!r} is a bidirectional encoder; rltrain reads classification heads of "
            "decoder (causal) models at a token, which an encoder's pooled [CLS] head is not")


def check_format(fmt: str, role: str) -> str:
    allowed = ("auto",) + FORMATS[role]
    if fmt not in allowed:
        raise ValueError(f"reward.{role}_format must be one of {allowed}, got {fmt!r}")
    return fmt
