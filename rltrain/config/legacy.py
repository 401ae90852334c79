"""Keys of earlier releases, read into today's layout before validation, each with a one-line notice.

The estimator's options were flat keys of `ppo` (ppo.lam, ppo.grpo_scale_std, ...); they now live
in the `ppo.estimator` section (rltrain.config.estimators). `lift` moves them there in each source
(the YAML file, the overrides) on its own, so a later source overrides an earlier one as before;
`settle` then checks them against the estimator the merged config chooses: an old key the estimator
takes stays, one it does not take had no effect before and is dropped, except a changed grpo_* key,
which was an error for another estimator and still is.
"""
from __future__ import annotations

from rltrain.config.errors import ConfigError
from rltrain.config.estimators import ESTIMATOR_CONFIGS

# old ppo.<key> -> ppo.estimator.<key>
ESTIMATOR_KEYS = {"lam": "lam", "whiten_advantages": "whiten_advantages", "critic_lr": "critic_lr",
                  "vf_coef": "vf_coef", "value_clip": "value_clip", "std_floor": "std_floor",
                  "grpo_scale_std": "scale_std", "grpo_normalize": "normalize"}
_GRPO_ONLY = ("grpo_scale_std", "grpo_normalize")
DEFAULT_ESTIMATOR = "gae"


def lift(data: dict) -> tuple[dict, dict[str, str]]:
    """One source's nested mapping with its old keys moved into `ppo.estimator`, and {new key: old key}."""
    ppo = data.get("ppo")
    if not isinstance(ppo, dict) or not any(key in ppo for key in ESTIMATOR_KEYS):
        return data, {}
    ppo, moved = dict(ppo), {}
    estimator = ppo.get("estimator", {})
    if not isinstance(estimator, dict):
        return data, {}  # validation names what is wrong with it
    estimator = dict(estimator)
    for old, new in ESTIMATOR_KEYS.items():
        if old in ppo:
            if new in estimator:
                raise ConfigError(f"config key `ppo.{old}`: given twice, also as `ppo.estimator.{new}` (keep that one)")
            estimator[new], moved[new] = ppo.pop(old), old
    ppo["estimator"] = estimator
    return {**data, "ppo": ppo}, moved


def settle(data: dict, moved: dict[str, str]) -> tuple[dict, list[str]]:
    """The merged mapping with each lifted key checked against the chosen estimator, and the notices."""
    estimator = data["ppo"]["estimator"] if moved else None
    if not isinstance(estimator, dict):
        return data, []  # nothing lifted, or a later source replaced the section: validation names what is wrong
    estimator = dict(estimator)
    kind = estimator.get("type", DEFAULT_ESTIMATOR)
    variant = ESTIMATOR_CONFIGS.get(kind) if isinstance(kind, str) else None
    if variant is None:
        return data, []  # validation names the unknown type
    notices = []
    for new, old in moved.items():
        if new in variant.model_fields:
            notices.append(f"config key `ppo.{old}` is deprecated: it is now `ppo.estimator.{new}`")
            continue
        value = estimator.pop(new, None)
        if old in _GRPO_ONLY and value is not None and value != ESTIMATOR_CONFIGS["grpo"].model_fields[new].default:
            raise ConfigError(f"config key `ppo.{old}`: applies to ppo.estimator=grpo, not {kind}")
        notices.append(f"config key `ppo.{old}` is deprecated and has no effect with ppo.estimator={kind}; remove it")
    return {**data, "ppo": {**data["ppo"], "estimator": estimator}}, notices
