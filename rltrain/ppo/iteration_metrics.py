"""The "train" metrics of one PPO iteration (one line of metrics.jsonl), by name.

Every metric summed over ranks is declared once in `iteration_metrics` on a `MetricSums`: a
total (`add`), a mean over a reduced count (`mean(..., per="samples" | "tokens" | ...)`) or over
a number every rank holds alike (`per=optimizer steps`). One all_reduce sums them all.
"""
from __future__ import annotations

import torch

from rltrain.metrics.response_stats import repeated_steps
from rltrain.metrics.sums import MetricSums
from rltrain.ppo.iteration import Estimates, Scores
from rltrain.ppo.losses import explained_variance
from rltrain.ppo.phases import TrainStats


def raw_prm_return(step_scores: torch.Tensor | None, num_steps: torch.Tensor) -> torch.Tensor:
    """[B] sum of the PRM's scores of each row's num_steps [B] steps (step_scores [B, K]); 0 without a PRM."""
    if step_scores is None:
        return torch.zeros(num_steps.shape[0])
    k = torch.arange(step_scores.shape[1], device=step_scores.device)
    valid = (k[None, :] < num_steps.to(step_scores.device)[:, None]).float()
    return (step_scores * valid).sum(1)


CRITIC_METRICS = ("value_loss", "value_clip_fraction", "critic_grad_norm", "explained_variance")
KL_METRICS = ("kl_per_response", "kl_per_token")


def iteration_metrics(scores: Scores, est: Estimates, stats: TrainStats, *, world: int, kl_coef: float,
                      actor_lr: float, times: dict[str, float], critic: bool = True) -> dict[str, float]:
    """{name: value} over all ranks (every rank calls it; it holds collectives).

    times: seconds per phase ("rollout", "scoring", "training", "sync", "iteration"); critic:
    whether the run has a critic (without one, the CRITIC_METRICS are not reported). Without a
    reference forward (`est.reference` False: no KL term reads it) the KL_METRICS are not reported.
    old log-probs and entropy are the actor's before the updates, whichever pass computed them.
    """
    batch = est.batch
    m = batch.response_mask.float()
    num_steps = scores.scoring.segments.num_steps.float()
    repeated, steps = repeated_steps(scores.scoring.step_texts)
    opt_steps = max(stats.optimizer_steps, 1)

    s = MetricSums()
    s.add("samples", batch.size)
    s.count("tokens", m.sum())
    s.count("steps", steps)
    s.count("train_tokens", stats.tokens)
    s.mean("success_rate", scores.success.sum(), per="samples")
    s.mean("prm_return_raw", raw_prm_return(scores.step_scores, num_steps).sum(), per="samples")
    s.mean("prm_return_shaped", est.process_return.sum(), per="samples")
    s.mean("orm_score", scores.orm.sum(), per="samples")
    if est.reference:
        kl = ((batch.old_logprobs - batch.ref_logprobs) * m).sum(1).sum()
        s.mean("kl_per_response", kl, per="samples")
        s.mean("kl_per_token", kl, per="tokens")
    s.mean("entropy", (est.entropy * m).sum(), per="tokens")
    s.mean("response_length", m.sum(1).sum(), per="samples")
    s.mean("steps_per_response", num_steps.sum(), per="samples")
    s.mean("repeated_step_fraction", repeated, per="steps")
    s.mean("truncated_fraction", batch.truncated.float().sum(), per="samples")
    s.mean("policy_loss", stats.policy_loss, per=opt_steps)
    s.mean("clip_fraction", stats.clipped_sum, per="train_tokens")
    s.mean("actor_grad_norm", stats.actor_grad_norm, per=opt_steps * world)
    if critic:
        s.mean("value_loss", stats.value_loss, per=opt_steps)
        s.mean("value_clip_fraction", stats.value_clipped_sum, per="train_tokens")
        s.mean("critic_grad_norm", stats.critic_grad_norm, per=opt_steps * world)
    s.mean("sampler_logprob_gap", ((batch.old_logprobs - batch.sampler_logprobs).abs() * m).sum(), per="tokens")
    reduced = s.reduce(batch.input_ids.device)

    tokens = reduced.totals["tokens"]
    critic_only = {"explained_variance": explained_variance(batch.values, batch.returns, batch.response_mask)}
    return {
        **reduced.metrics,
        "kl_coef": kl_coef,
        **(critic_only if critic else {}),
        "actor_lr": actor_lr,
        **{f"time_{k}": v for k, v in times.items()},
        "tokens_per_s": tokens / max(times["iteration"], 1e-9),
        "rollout_tokens_per_s": tokens / max(times["rollout"], 1e-9),
    }
