"""rltrain's fused ops: `import kernels`.

Every op takes `backend="auto" | "triton" | "torch"`; see ../shared/DESIGN.md (the
contract) and README.md ("Fused ops"). This package never imports `rltrain`.

Not to be confused with Hugging Face's `kernels` package (same import name, unrelated).
"""
from kernels.backend import BACKENDS, resolve_backend
from kernels.step_delimiter import StepDelimiter
from kernels.segmentation import StepSegments, segment_steps
from kernels.reward_gae import SHAPING_MODES, RewardGAE, fused_reward_gae
from kernels.policy_loss import PolicyLoss, ppo_policy_loss
from kernels.linear_policy_loss import linear_logprobs, linear_ppo_policy_loss

__all__ = [
    "BACKENDS",
    "PolicyLoss",
    "SHAPING_MODES",
    "RewardGAE",
    "StepDelimiter",
    "StepSegments",
    "fused_reward_gae",
    "linear_logprobs",
    "linear_ppo_policy_loss",
    "ppo_policy_loss",
    "resolve_backend",
    "segment_steps",
]
