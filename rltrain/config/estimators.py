"""The `ppo.estimator` section: one config variant per advantage estimator, keyed by `type`.

    ppo:
      estimator: {type: grpo, scale_std: false}     # or, with every option at its default: `estimator: grpo`

`gae` learns a critic (its options: lam, whiten_advantages and the critic's own); the critic-free
variants carry exactly the options their `rltrain_kernels.ESTIMATOR_SPECS` row reads
(`EstimatorSpec.options`), which `kernel_options` hands to `fused_reward_advantages`. Formulas and
sources: docs/estimators.md. The flat keys of earlier releases (ppo.lam, ppo.grpo_scale_std, ...)
are read by `rltrain.config.legacy` with a one-line notice.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Field

from rltrain.config.base import FiniteFloat, StrictModel
from rltrain_kernels.options import DEFAULT_STD_FLOOR, ESTIMATOR_SPECS, NORMALIZATIONS, EstimatorSpec

_STD_FLOOR = "the smallest std divided by, in reward units (a group whose returns are all equal)"


class GAEEstimator(StrictModel):
    """GAE advantages from a learned critic (a value head trained on the GAE returns)."""

    critic: ClassVar[bool] = True
    type: Literal["gae"] = "gae"
    lam: FiniteFloat = Field(0.95, ge=0, le=1, description="GAE lambda")
    whiten_advantages: bool = Field(True, description="normalise advantages over the global batch")
    critic_lr: FiniteFloat = Field(5e-6, gt=0, description="critic AdamW learning rate")
    vf_coef: FiniteFloat = Field(1.0, ge=0, description="weight of the value loss")
    value_clip: FiniteFloat = Field(0.2, ge=0, description="value clip range, in return units")


class CriticFreeEstimator(StrictModel):
    """A `fused_reward_advantages` estimator: no critic is built, trained or saved."""

    critic: ClassVar[bool] = False
    type: str

    @property
    def spec(self) -> EstimatorSpec:
        return ESTIMATOR_SPECS[self.type]

    def kernel_options(self) -> dict[str, Any]:
        """The keyword arguments of `fused_reward_advantages` this estimator's spec reads."""
        return {name: getattr(self, name) for name in self.spec.options}


class GRPOEstimator(CriticFreeEstimator):
    """GRPO: the group's mean (and std) of the rollout.n samples of a prompt."""

    type: Literal["grpo"] = "grpo"
    scale_std: bool = Field(True, description="divide by the group's std (false: subtract the mean only)")
    normalize: Literal[NORMALIZATIONS] = Field(  # type: ignore[valid-type]
        "returns", description="normalise full returns (keeps Clip / Delta / min-form bounded) or each "
                               "reward (DeepSeekMath's literal process supervision; length-dependent)")
    std_floor: FiniteFloat = Field(DEFAULT_STD_FLOOR, gt=0, description=_STD_FLOOR)


class RLOOEstimator(CriticFreeEstimator):
    """RLOO: the mean of the other samples' returns of the same prompt."""

    type: Literal["rloo"] = "rloo"


class ReinforcePPEstimator(CriticFreeEstimator):
    """REINFORCE++: the mean and std of the whole batch's returns (over all ranks)."""

    type: Literal["reinforce_pp"] = "reinforce_pp"
    std_floor: FiniteFloat = Field(DEFAULT_STD_FLOOR, gt=0, description=_STD_FLOOR)


ESTIMATOR_CONFIGS: dict[str, type[StrictModel]] = {
    "gae": GAEEstimator, "grpo": GRPOEstimator, "rloo": RLOOEstimator, "reinforce_pp": ReinforcePPEstimator,
}
EstimatorConfig = Annotated[Union[tuple(ESTIMATOR_CONFIGS.values())], Field(discriminator="type")]
