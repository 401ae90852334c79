"""Reward-model checkpoint formats as data: one `RewardFormat` row per layout, read by the config's
`reward.prm_format` / `reward.orm_format` choices, the folder detection (`rltrain.rewards.formats`)
and the loaders (`rltrain.rewards.scorers`), which import a format's module only when it is used.
Imports no torch. The layouts, checkpoints and read-outs: docs/reward_models.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

ROLES = ("prm", "orm")
VALUE_HEAD_FILE = "value_head.safetensors"  # rltrain.rewards.value_head.HEAD_WEIGHTS


@dataclass(frozen=True)
class RewardFormat:
    """roles: "prm" and / or "orm"; loader: "module:function" returning the scorer's parts,
    function(folder, tokenizer, role, options: rltrain.rewards.loading.LoadOptions) -> ScorerParts;
    detection (tried in the table's order, files first): `marker_file` present in the folder, or a
    config.json architecture ending in `architecture` (the suffixes are disjoint, so a folder
    matches at most one); neither: never detected, only forced."""

    roles: tuple[str, ...]
    loader: str
    description: str
    marker_file: str | None = None
    architecture: str | None = None

    def __post_init__(self) -> None:
        if not self.roles or set(self.roles) - set(ROLES):
            raise ValueError(f"RewardFormat: roles must be a non-empty subset of {ROLES}, got {self.roles}")


REWARD_FORMATS: Mapping[str, RewardFormat] = MappingProxyType({
    "value-head": RewardFormat(("prm", "orm"), "rltrain.rewards.value_head:scorer_parts",
                               "rltrain's own: any HF backbone + value_head.safetensors (rm_train writes it)",
                               marker_file=VALUE_HEAD_FILE),
    "step-tag": RewardFormat(("prm",), "rltrain.rewards.step_tag:scorer_parts", "Math-Shepherd step-tag PRM",
                             architecture="ForCausalLM"),
    "qwen-prm": RewardFormat(("prm",), "rltrain.rewards.qwen_prm:scorer_parts", "Qwen2.5-Math-PRM",
                             architecture="ForProcessRewardModel"),
    "token-classification": RewardFormat(("prm",), "rltrain.rewards.classifier_rm:token_classifier_parts",
                                         "token-classification PRM", architecture="ForTokenClassification"),
    "implicit": RewardFormat(("prm",), "rltrain.rewards.implicit_prm:scorer_parts",
                             "implicit PRM (PRIME / EurusPRM): a causal LM and its reference LM"),
    "sequence-classification": RewardFormat(("orm",), "rltrain.rewards.classifier_rm:sequence_classifier_parts",
                                            "sequence-classification ORM", architecture="ForSequenceClassification"),
})


def formats_for(role: str) -> tuple[str, ...]:
    """The format names of `role`, in detection order."""
    return tuple(name for name, fmt in REWARD_FORMATS.items() if role in fmt.roles)


PRM_FORMATS = formats_for("prm")
ORM_FORMATS = formats_for("orm")
