"""rltrain's fused ops: `import rltrain_kernels` (source in the repository's `kernels/` folder).

Op families, each a subpackage with its public API, its torch reference (`torch_backend.py`)
and its Triton code (`triton_backend.py`), the two backends exposing the same functions:

    steps/         segment_steps, StepSegments; delimiter.py: StepDelimiter, split_text
    rewards/       fused_reward_gae (gae.py), fused_reward_advantages (advantages.py), their
                   packed (cu_seqlens) forms (packed.py); the token rewards both share
    policy_loss/   ppo_policy_loss (loss.py), linear_ppo_policy_loss / linear_logprobs
                   (linear.py: from hidden states, logits never materialised whole)
    scans/         the in-block scans the step and reward backends build on

Shared: dispatch.py (`backend_module`, the one backend dispatch: "auto" | "triton" |
"torch"), checks.py (argument checks), options.py (every registry and limit a config reads,
imports no torch). Backends import checks, options, scans and other backends of their own
kind, never an API module (tests/fused_ops/test_kernels_layout.py checks this). This package never
imports `rltrain`. Names load on first use, so `from rltrain_kernels.options import
SHAPING_MODES` (or `rltrain_kernels.SHAPING_MODES`) imports no torch.

Semantics: ../shared/DESIGN.md "Kernel semantics"; the library's page: kernels/README.md.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rltrain_kernels.dispatch import resolve_backend
    from rltrain_kernels.options import (BACKENDS, DEFAULT_STD_FLOOR, ESTIMATOR_SPECS, ESTIMATORS, GROUPED,
                                         MAX_STEP_DELIMITER_BYTES, NORMALIZATIONS, SHAPING_MODES, SHAPING_SPECS,
                                         EstimatorSpec, ShapingSpec)
    from rltrain_kernels.policy_loss.linear import linear_logprobs, linear_ppo_policy_loss
    from rltrain_kernels.policy_loss.loss import PolicyLoss, ppo_policy_loss
    from rltrain_kernels.policy_loss.terms import PPOOptions
    from rltrain_kernels.rewards.advantages import RewardAdvantages, fused_reward_advantages
    from rltrain_kernels.rewards.gae import RewardGAE, fused_reward_gae
    from rltrain_kernels.rewards.packed import (fused_reward_advantages_packed, fused_reward_gae_packed,
                                                pack_tokens, unpack_tokens)
    from rltrain_kernels.steps.delimiter import StepDelimiter, delimiter_bytes, split_text
    from rltrain_kernels.steps.segment import StepSegments, segment_steps

_HOME = {  # public name -> the module that defines it
    "BACKENDS": "options",
    "DEFAULT_STD_FLOOR": "options",
    "ESTIMATORS": "options",
    "ESTIMATOR_SPECS": "options",
    "EstimatorSpec": "options",
    "GROUPED": "options",
    "MAX_STEP_DELIMITER_BYTES": "options",
    "NORMALIZATIONS": "options",
    "SHAPING_MODES": "options",
    "SHAPING_SPECS": "options",
    "ShapingSpec": "options",
    "resolve_backend": "dispatch",
    "StepDelimiter": "steps.delimiter",
    "delimiter_bytes": "steps.delimiter",
    "split_text": "steps.delimiter",
    "StepSegments": "steps.segment",
    "segment_steps": "steps.segment",
    "RewardGAE": "rewards.gae",
    "fused_reward_gae": "rewards.gae",
    "RewardAdvantages": "rewards.advantages",
    "fused_reward_advantages": "rewards.advantages",
    "fused_reward_gae_packed": "rewards.packed",
    "fused_reward_advantages_packed": "rewards.packed",
    "pack_tokens": "rewards.packed",
    "unpack_tokens": "rewards.packed",
    "PolicyLoss": "policy_loss.loss",
    "PPOOptions": "policy_loss.terms",
    "ppo_policy_loss": "policy_loss.loss",
    "linear_logprobs": "policy_loss.linear",
    "linear_ppo_policy_loss": "policy_loss.linear",
}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    """Import the defining submodule on first access of a public name (PEP 562)."""
    home = _HOME.get(name)
    if home is None:  # also how `from rltrain_kernels import <submodule>` finds submodules
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
