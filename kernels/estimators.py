"""The critic-free advantage estimators of `fused_reward_advantages`: the one registry (no torch
import, so configs can read it). Formulas, sources and the normalisation choice:
docs/estimators.md.

    grpo          groups = consecutive rows (the samples of one prompt); advantage of token t of
                  row i: (G_{i,t} - mean_g G) / max(std_g G, std_floor), G_{i,t} its return-to-go
                  and mean_g / std_g over the group's full returns G_j = G_{j,0}
                  (normalize="returns", the default); or DeepSeekMath's process supervision,
                  every step reward and outcome of the group normalised by the group's mean and
                  std over those rewards, the advantage the sum of the normalised rewards at or
                  after t (normalize="rewards")
    rloo          G_{i,t} - mean of the other samples' full returns
    reinforce_pp  (G_{i,t} - mean G) / max(std G, std_floor) over the whole batch's full returns
"""
from __future__ import annotations

ESTIMATORS: tuple[str, ...] = ("grpo", "rloo", "reinforce_pp")
GROUPED: tuple[str, ...] = ("grpo", "rloo")  # statistics per group of samples of one prompt
NORMALIZATIONS: tuple[str, ...] = ("returns", "rewards")  # grpo: normalise full returns, or each reward
DEFAULT_STD_FLOOR = 0.1
