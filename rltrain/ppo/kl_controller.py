"""KL coefficient: fixed, or adaptive (Ziegler et al. 2019: proportional control toward a target)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class KLController:
    coef: float
    adaptive: bool = False
    target: float = 0.1
    horizon: int = 10000

    def update(self, observed_kl: float, samples: int) -> None:
        """observed_kl: mean per-response KL of the last batch; samples: its size (all ranks)."""
        if not self.adaptive:
            return
        error = max(-0.2, min(0.2, observed_kl / self.target - 1.0))
        self.coef *= 1.0 + error * samples / self.horizon

    def state_dict(self) -> dict:
        return {"coef": self.coef}

    def load_state_dict(self, state: dict) -> None:
        self.coef = float(state["coef"])
