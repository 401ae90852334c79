"""rltrain's fused ops: `import kernels`.

Layout. Each op is three modules:

    <op>.py         public API: argument checks, backend dispatch, the result types
    <op>_torch.py   torch reference: the readable definition and the CPU fallback
    <op>_triton.py  Triton backend

segmentation (`segment_steps`), reward_gae (`fused_reward_gae`), reward_advantages
(`fused_reward_advantages`: the same token rewards with a critic-free estimator) and policy_loss
(`ppo_policy_loss`) are such ops; linear_policy_loss.py (`linear_ppo_policy_loss`,
`linear_logprobs`) is an API module that runs the policy_loss backends chunk by chunk, and
packed_rewards.py (`fused_reward_gae_packed`, `fused_reward_advantages_packed`) runs the reward
ops on packed (padding-free, `cu_seqlens`) rows.
Backends take checked tensors and return tensors (the policy loss's: a TokenTerms bundle),
which the API module wraps in its result types; they import only shared modules, never an API
module or another backend (tests/test_kernels_layout.py checks this). Shared building blocks are named for what they provide:
backend.py (backend choice), checks.py (argument checks), shaping.py (shaping modes, no
torch), estimators.py (the critic-free estimators, no torch), step_delimiter.py (delimiter
tables), policy_checks.py / policy_terms.py (the policy loss front ends' checks / the backends'
interface); building blocks of one backend carry it
as a prefix: torch_steps.py, torch_scans.py, torch_rewards.py, triton_steps.py, triton_scans.py,
triton_rewards.py (the token rewards both reward ops share, per backend).

Every op takes `backend="auto" | "triton" | "torch"`; see ../shared/DESIGN.md (the
contract) and README.md ("Fused ops"). This package never imports `rltrain`. Submodules are
imported on first use of a name, so `from kernels.shaping import SHAPING_MODES` does not
import torch.

Not to be confused with Hugging Face's `kernels` package (same import name, unrelated).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kernels.backend import BACKENDS, resolve_backend
    from kernels.estimators import ESTIMATORS
    from kernels.linear_policy_loss import linear_logprobs, linear_ppo_policy_loss
    from kernels.packed_rewards import fused_reward_advantages_packed, fused_reward_gae_packed
    from kernels.policy_loss import PolicyLoss, ppo_policy_loss
    from kernels.reward_advantages import RewardAdvantages, fused_reward_advantages
    from kernels.reward_gae import RewardGAE, fused_reward_gae
    from kernels.segmentation import StepSegments, segment_steps
    from kernels.shaping import SHAPING_MODES
    from kernels.step_delimiter import StepDelimiter

_HOME = {  # public name -> the module that defines it
    "BACKENDS": "backend",
    "resolve_backend": "backend",
    "StepDelimiter": "step_delimiter",
    "StepSegments": "segmentation",
    "segment_steps": "segmentation",
    "SHAPING_MODES": "shaping",
    "ESTIMATORS": "estimators",
    "RewardGAE": "reward_gae",
    "fused_reward_gae": "reward_gae",
    "RewardAdvantages": "reward_advantages",
    "fused_reward_advantages": "reward_advantages",
    "fused_reward_gae_packed": "packed_rewards",
    "fused_reward_advantages_packed": "packed_rewards",
    "PolicyLoss": "policy_loss",
    "ppo_policy_loss": "policy_loss",
    "linear_logprobs": "linear_policy_loss",
    "linear_ppo_policy_loss": "linear_policy_loss",
}

__all__ = [
    "BACKENDS",
    "ESTIMATORS",
    "PolicyLoss",
    "SHAPING_MODES",
    "RewardAdvantages",
    "RewardGAE",
    "StepDelimiter",
    "StepSegments",
    "fused_reward_advantages",
    "fused_reward_advantages_packed",
    "fused_reward_gae",
    "fused_reward_gae_packed",
    "linear_logprobs",
    "linear_ppo_policy_loss",
    "ppo_policy_loss",
    "resolve_backend",
    "segment_steps",
]


def __getattr__(name: str):
    """Import the defining submodule on first access of a public name (PEP 562)."""
    home = _HOME.get(name)
    if home is None:  # also how `from kernels import <submodule>` finds submodules
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
