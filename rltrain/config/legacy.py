"""Keys of earlier releases, read into today's layout before validation, each with a one-line notice.

The estimator's options were flat keys of `ppo` (ppo.lam, ppo.grpo_scale_std, ...); they now live
in the `ppo.estimator` section (rltrain.config.estimators). An old key moves there when the chosen
estimator takes it; one it does not take had no effect before and is dropped, except a changed
grpo_* key, which was an error for another estimator and still is.
"""
from __future__ import annotations

from rltrain.config.errors import ConfigError
from rltrain.config.estimators import ESTIMATOR_CONFIGS

# old ppo.<key> -> ppo.estimator.<key>
ESTIMATOR_KEYS = {"lam": "lam", "whiten_advantages": "whiten_advantages", "critic_lr": "critic_lr",
                  "vf_coef": "vf_coef", "value_clip": "value_clip", "std_floor": "std_floor",
                  "grpo_scale_std": "scale_std", "grpo_normalize": "normalize"}
_GRPO_ONLY = ("grpo_scale_std", "grpo_normalize")


def migrate(data: dict) -> tuple[dict, list[str]]:
    """`data` (a config's nested mapping, overrides applied) in today's layout, and the notices."""
    ppo = data.get("ppo")
    if not isinstance(ppo, dict) or not any(key in ppo for key in ESTIMATOR_KEYS):
        return data, []
    ppo = dict(ppo)
    estimator = ppo.get("estimator", {})
    if not isinstance(estimator, dict):
        return data, []  # validation names what is wrong with it
    estimator = dict(estimator)
    kind = estimator.get("type", "gae")
    variant = ESTIMATOR_CONFIGS.get(kind) if isinstance(kind, str) else None
    notices = []
    for old, new in ESTIMATOR_KEYS.items():
        if old not in ppo:
            continue
        value = ppo.pop(old)
        if variant is None:
            continue
        if new in variant.model_fields:
            if new in estimator:
                raise ConfigError(f"config key `ppo.{old}`: given twice, also as `ppo.estimator.{new}` (keep that one)")
            estimator[new] = value
            notices.append(f"config key `ppo.{old}` is deprecated: it is now `ppo.estimator.{new}`")
        elif old in _GRPO_ONLY and value != ESTIMATOR_CONFIGS["grpo"].model_fields[new].default:
            raise ConfigError(f"config key `ppo.{old}`: applies to ppo.estimator=grpo, not {kind}")
        else:
            notices.append(f"config key `ppo.{old}` is deprecated and has no effect with ppo.estimator={kind}; "
                           "remove it")
    ppo["estimator"] = estimator
    return {**data, "ppo": ppo}, notices
