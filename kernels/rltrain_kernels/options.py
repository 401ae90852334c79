"""Every registry and limit of the fused ops that a config reads; imports no torch.

`from rltrain_kernels.options import SHAPING_MODES, ESTIMATORS, ...` costs no torch import, so
a config can validate its keys before any model or tensor library loads.

Shaping modes (process-reward shaping, `fused_reward_gae(shaping=...)` and
`fused_reward_advantages(shaping=...)`).

For a response with K steps and PRM step scores s_0..s_{K-1}, a mode is two switches
(Gao et al. 2024, "On Designing Effective RL Reward at Training Time for LLM Reasoning",
arXiv 2410.15115, sec. 4):

    clip   c_k = min(s_k - eta, 0)   (Clip: a step can only lose reward, so the policy
           gains nothing by producing more high-scoring steps); off: c_k = s_k
    delta  shaped_k = c_k - c_{k+1} for k < K-1, shaped_{K-1} = c_{K-1}   (Delta: the
           sum telescopes to c_0 and the return-to-go from step k is c_k); off: shaped_k = c_k
    min_form  (with delta) c_k is first replaced by m_k = min_{j >= k} c_j, so shaped_k =
           m_k - m_{k+1} (m_K = 0) and the return-to-go from step k is m_k, the worst score
           at or after step k (PURE, Cheng et al. 2025, "Stop Summation: Min-Form Credit
           Assignment Is All Process Reward Model Needs for Reasoning", arXiv 2504.15275)

`clip_min_form` composes both: clipping is monotone, so min_j min(s_j - eta, 0) =
min(min_j s_j - eta, 0): the min-form return clipped at eta (never positive, as under Clip).

The step reward added at the boundary of step k is prm_coef * shaped_k. Both reward backends
(rewards/torch_backend.py, and rewards/triton_backend.py with one constexpr per switch) read
these specs; the reward ops accept exactly the names of SHAPING_MODES.

Estimators (`fused_reward_advantages(estimator=...)`, one `EstimatorSpec` each in ESTIMATOR_SPECS,
read by the argument checks and both backends; formulas and sources: docs/estimators.md):

    grpo          groups = consecutive rows (the samples of one prompt); advantage of token t of
                  row i: (G_{i,t} - mean_g G) / max(std_g G, std_floor), G_{i,t} its return-to-go
                  and mean_g / std_g over the group's full returns G_j = G_{j,0}
                  (normalize="returns", the default); or DeepSeekMath's process supervision,
                  every step reward and outcome of the group normalised by the group's mean and
                  std over those rewards, the advantage the sum of the normalised rewards at or
                  after t (normalize="rewards")
    rloo          G_{i,t} - mean of the other samples' full returns
    reinforce_pp  (G_{i,t} - mean G) / max(std G, std_floor) over the whole batch's full returns

Limits: a step delimiter is at most MAX_STEP_DELIMITER_BYTES UTF-8 bytes (the step automaton has
MAX_STATES states: one per matched byte, plus "run"); token ids are at most MAX_TOKEN_ID.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class ShapingSpec:
    """How one shaping mode turns step scores into step rewards (see the module docstring)."""

    clip: bool
    delta: bool
    min_form: bool = False

    def __post_init__(self) -> None:
        if self.min_form and not self.delta:
            raise ValueError("ShapingSpec: min_form telescopes the suffix minima, so it needs delta=True "
                             "(summing them would let every extra step add reward)")


SHAPING_SPECS: Mapping[str, ShapingSpec] = MappingProxyType({
    "none": ShapingSpec(clip=False, delta=False),
    "clip": ShapingSpec(clip=True, delta=False),
    "delta": ShapingSpec(clip=False, delta=True),
    "clip_delta": ShapingSpec(clip=True, delta=True),
    "min_form": ShapingSpec(clip=False, delta=True, min_form=True),
    "clip_min_form": ShapingSpec(clip=True, delta=True, min_form=True),
})
SHAPING_MODES: tuple[str, ...] = tuple(SHAPING_SPECS)


def shaping_spec(op: str, shaping: object) -> ShapingSpec:
    """The spec of mode `shaping`; ValueError (naming `op`) for an unknown mode."""
    spec = SHAPING_SPECS.get(shaping) if isinstance(shaping, str) else None
    if spec is None:
        raise ValueError(f"{op}: `shaping` must be one of {SHAPING_MODES}, got {shaping!r}")
    return spec


BACKENDS: tuple[str, ...] = ("auto", "triton", "torch")

STD_SCALINGS: tuple[str, ...] = ("option", "always", "never")
NORMALIZATIONS: tuple[str, ...] = ("returns", "rewards")  # grpo: normalise full returns, or each reward
DEFAULT_STD_FLOOR = 0.1


@dataclass(frozen=True)
class EstimatorSpec:
    """How one critic-free estimator turns returns into advantages (see the module docstring).

    grouped: statistics over groups of `group_size` consecutive rows (the samples of one prompt),
    else over the whole batch; leave_one_out: the baseline is the mean of the other rows' full
    returns (never scaled), else the mean of all; std_scaling: whether advantages are divided by
    max(std, std_floor): "option" (`scale_std` chooses), "always" or "never"; per_reward: accepts
    normalize="rewards". `options` are the keyword arguments of `fused_reward_advantages` it reads.
    """

    grouped: bool
    leave_one_out: bool
    std_scaling: str
    per_reward: bool = False

    def __post_init__(self) -> None:
        if self.std_scaling not in STD_SCALINGS:
            raise ValueError(f"EstimatorSpec: std_scaling must be one of {STD_SCALINGS}, got {self.std_scaling!r}")
        if self.leave_one_out and self.std_scaling != "never":
            raise ValueError("EstimatorSpec: a leave-one-out baseline is never scaled (std_scaling='never')")
        if self.per_reward and not (self.grouped and not self.leave_one_out):
            raise ValueError("EstimatorSpec: per-reward normalisation is over a group's mean and std")

    @property
    def options(self) -> tuple[str, ...]:
        return ((("scale_std",) if self.std_scaling == "option" else ())
                + (("normalize",) if self.per_reward else ())
                + (("std_floor",) if self.std_scaling != "never" else ()))

    def scales(self, scale_std: bool) -> bool:
        """Whether advantages are divided by the std, given the caller's `scale_std`."""
        return scale_std if self.std_scaling == "option" else self.std_scaling == "always"


ESTIMATOR_SPECS: Mapping[str, EstimatorSpec] = MappingProxyType({
    "grpo": EstimatorSpec(grouped=True, leave_one_out=False, std_scaling="option", per_reward=True),
    "rloo": EstimatorSpec(grouped=True, leave_one_out=True, std_scaling="never"),
    "reinforce_pp": EstimatorSpec(grouped=False, leave_one_out=False, std_scaling="always"),
})
ESTIMATORS: tuple[str, ...] = tuple(ESTIMATOR_SPECS)
GROUPED: tuple[str, ...] = tuple(name for name, spec in ESTIMATOR_SPECS.items() if spec.grouped)


def estimator_spec(op: str, estimator: object) -> EstimatorSpec:
    """The spec of `estimator`; ValueError (naming `op`) for an unknown one."""
    spec = ESTIMATOR_SPECS.get(estimator) if isinstance(estimator, str) else None
    if spec is None:
        raise ValueError(f"{op}: `estimator` must be one of {ESTIMATORS}, got {estimator!r}")
    return spec

MAX_STATES = 12
MAX_STEP_DELIMITER_BYTES = MAX_STATES - 1
MAX_TOKEN_ID = (1 << 24) - 1  # larger than any vocabulary; bounds the lookup table of an id set
