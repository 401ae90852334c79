"""The model phases of one PPO iteration, micro-batched by a token budget.

Every rank runs the same number of FSDP2 forwards / backwards per phase (the micro-batch
count is the max over ranks), since each one holds collectives.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.distributed as dist

from rltrain_kernels import PPOOptions
from rltrain.batching import balanced_groups, even_groups, plan_batches, plan_packed
from rltrain.distributed.setup import all_reduce_max, all_reduce_sum
from rltrain.ppo.experience import Experience, PPOBatch
from rltrain.ppo.losses import clipped_value_loss


@dataclass(frozen=True)
class ValueLossOptions:
    """The critic's clipped value loss: clip range (return units) and weight."""

    value_clip: float = 0.2
    vf_coef: float = 1.0


@dataclass
class Learner:
    """The modules an optimizer step updates and their optimizers; critic and critic_opt are None
    for the critic-free estimators."""

    actor: torch.nn.Module
    actor_opt: torch.optim.Optimizer
    critic: torch.nn.Module | None = None
    critic_opt: torch.optim.Optimizer | None = None


def _world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def _groups(exp: Experience, token_budget: int, packed: bool) -> list[list[int]]:
    """This rank's micro-batches: as many as the most any rank needs within the token budget (real
    tokens when the module packs its rows, padded tokens otherwise)."""
    lengths = exp.attention_mask.sum(1).tolist()
    plan = plan_packed(lengths, token_budget) if packed else plan_batches(lengths, 0, token_budget)
    count = all_reduce_max(len(plan), exp.input_ids.device)
    if count == 0:  # no rows on any rank
        return []
    return balanced_groups(lengths, count) if packed else even_groups(lengths, count)


def _packs(module) -> bool:
    return bool(getattr(module, "packed", False))


@torch.no_grad()
def score_policy(module, exp: Experience, token_budget: int, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(logprobs, entropy) [B, T] of the responses under `module` (actor or reference)."""
    logp = torch.zeros(exp.response_ids.shape, dtype=torch.float32, device=exp.input_ids.device)
    ent = torch.zeros_like(logp)
    for rows in _groups(exp, token_budget, _packs(module)):
        sub = exp.select(rows)
        lp, en = module(sub.input_ids, sub.attention_mask, sub.gather_index, sub.response_ids, sub.response_mask,
                        temperature=temperature)
        t = sub.response_ids.shape[1]
        logp[rows, :t], ent[rows, :t] = lp.float(), en.float()
    return logp, ent


@torch.no_grad()
def score_values(critic, exp: Experience, token_budget: int) -> torch.Tensor:
    """values [B, T] float32 (0 at padding)."""
    values = torch.zeros(exp.response_ids.shape, dtype=torch.float32, device=exp.input_ids.device)
    for rows in _groups(exp, token_budget, _packs(critic)):
        sub = exp.select(rows)
        v = critic(sub.input_ids, sub.attention_mask, sub.gather_index)
        values[rows, :v.shape[1]] = v * sub.response_mask
    return values


@dataclass
class TrainStats:
    """This rank's sums over the PPO epochs: losses (per optimizer step), entropy / clipped /
    value-clipped token counts, trained tokens, grad norms (per optimizer step) and the step count."""

    policy_loss: float = 0.0
    value_loss: float = 0.0
    entropy_sum: float = 0.0
    clipped_sum: float = 0.0
    value_clipped_sum: float = 0.0
    tokens: float = 0.0
    actor_grad_norm: float = 0.0
    critic_grad_norm: float = 0.0
    optimizer_steps: int = 0


def _grad_norm(params, max_norm: float) -> float:
    norm = torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], max_norm)
    if hasattr(norm, "full_tensor"):
        norm = norm.full_tensor()
    return float(norm)


def train_minibatch(learner: Learner, batch: PPOBatch, *, policy: PPOOptions, value: ValueLossOptions,
                    token_budget: int, max_grad_norm: float, stats: TrainStats,
                    on_policy: bool = False) -> tuple[torch.Tensor, torch.Tensor] | None:
    """One optimizer step of the learner's actor and critic on `batch` (this rank's share of a
    mini-batch); without a critic (the critic-free estimators) there is no value loss. policy: the
    policy loss's options (`rltrain_kernels.ppo_policy_loss`'s, and the temperature log-probs are
    taken at).

    on_policy=True: the actor has not changed since the rollout (the first mini-batch of the first
    epoch), so its old log-probs are this forward's own (`PolicyModule`, ratio exactly 1) and
    batch.old_logprobs is not read; returns (old log-probs, entropy) [b, T] float32 of `batch`'s
    rows (before the step, 0 at padding) for the caller to record. Otherwise returns None.

    Losses are sums over tokens divided by the global token count; FSDP2 averages gradients
    over ranks, so each rank's loss is scaled by the world size to make the step the global
    token mean.
    """
    actor, critic = learner.actor, learner.critic
    loss_kwargs = asdict(policy)
    temperature = loss_kwargs.pop("temperature")
    world = _world()
    normalizer = max(all_reduce_sum([float(batch.response_mask.sum())], batch.input_ids.device)[0], 1.0)
    seen = torch.zeros(batch.response_ids.shape, dtype=torch.float32, device=batch.input_ids.device)
    seen_entropy = torch.zeros_like(seen)
    for rows in _groups(batch, token_budget, _packs(actor)):
        sub = batch.select(rows)
        pl = actor(sub.input_ids, sub.attention_mask, sub.gather_index, sub.response_ids, sub.response_mask,
                   old_logprobs=None if on_policy else sub.old_logprobs, advantages=sub.advantages,
                   ref_logprobs=sub.ref_logprobs if policy.kl_loss_coef > 0 else None,
                   normalizer=normalizer, temperature=temperature, on_policy=on_policy, **loss_kwargs)
        (pl.loss * world).backward()
        if on_policy:
            t = sub.response_ids.shape[1]
            seen[rows, :t], seen_entropy[rows, :t] = pl.logprobs, pl.entropy
        if critic is not None:
            values = critic(sub.input_ids, sub.attention_mask, sub.gather_index)
            vl, vclipped = clipped_value_loss(values, sub.values, sub.returns, sub.response_mask, value.value_clip,
                                              normalizer)
            (vl * value.vf_coef * world).backward()
            stats.value_loss += float(vl.detach())
            stats.value_clipped_sum += float(vclipped)
        m = sub.response_mask.float()
        stats.policy_loss += float(pl.loss.detach())
        stats.entropy_sum += float((pl.entropy * m).sum())
        stats.clipped_sum += float((pl.clipped.float() * m).sum())
        stats.tokens += float(m.sum())
    stats.actor_grad_norm += _grad_norm(actor.parameters(), max_grad_norm)
    learner.actor_opt.step()
    learner.actor_opt.zero_grad(set_to_none=True)
    if critic is not None:
        stats.critic_grad_norm += _grad_norm(critic.parameters(), max_grad_norm)
        learner.critic_opt.step()
        learner.critic_opt.zero_grad(set_to_none=True)
    stats.optimizer_steps += 1
    return (seen, seen_entropy) if on_policy else None
