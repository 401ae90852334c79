"""Which no-grad scoring forwards one PPO iteration needs before training (docs/trainer.md
"Scoring passes"): a model pass is run only when something reads its output.

- The reference model's log-probs are read only by a KL term: the KL penalty in the reward
  (kl.coef > 0, or kl.adaptive, whose coefficient moves) or the k3 term in the loss (kl.loss_coef > 0).
- The actor's old log-probs of the first mini-batch of the first epoch equal the log-probs of that
  mini-batch's own training forward (no optimizer step has happened yet), so they can come from it,
  provided nothing before training reads them: the rewards and advantages read old log-probs only
  through the KL penalty in the reward. The other rows keep their separate pass, before any step.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoringPasses:
    """reference: run the reference model's forward; reuse_first_minibatch: take the first
    mini-batch's old log-probs (and entropy) from its training forward instead of a scoring pass."""

    reference: bool
    reuse_first_minibatch: bool


def scoring_passes(kl_coef: float, kl_adaptive: bool, kl_loss_coef: float) -> ScoringPasses:
    """kl_coef: the current KL-in-reward coefficient; kl_adaptive: whether a controller moves it;
    kl_loss_coef: the k3 coefficient in the policy loss."""
    reward_reads_logprobs = kl_adaptive or kl_coef > 0
    return ScoringPasses(reference=reward_reads_logprobs or kl_loss_coef > 0,
                         reuse_first_minibatch=not reward_reads_logprobs)
