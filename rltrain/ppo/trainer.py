"""One PPO iteration (DESIGN.md "data flow") and the state a checkpoint must hold.

`PPOTrainer.step` runs the phases in order, each returning a typed result (`rltrain/ppo/iteration.py`):

    _rollout  -> Rollout     prompts, rollout.n samples each, their padded rows (Experience)
    _score    -> Scores      grader success, PRM step scores, ORM scores, outcome reward
    _estimate -> Estimates   old / ref log-probs (only the passes something reads: scoring_passes.py),
                             then ppo.estimator: gae = values, rltrain_kernels.fused_reward_gae, whitening;
                             grpo / rloo / reinforce_pp = rltrain_kernels.fused_reward_advantages (PPOBatch)
    _train    -> TrainStats  PPO epochs over mini-batches (the first one's old log-probs from its own
                             forward when nothing before training read them)
    sync_engine              the actor's weights into the rollout engine
    iteration_metrics        the metrics.jsonl line, reduced over ranks by name
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import torch

import rltrain_kernels
from rltrain_kernels import PPOOptions
from rltrain.preflight import check_world_size
from rltrain.config.schema import Config
from rltrain.data.prompts import bound_prompts, format_prompt
from rltrain.data.records import MathProblem
from rltrain.data.separators import separator_token_ids
from rltrain.distributed.setup import DistInfo, all_reduce_max, all_reduce_sum
from rltrain.grading import Grader
from rltrain.grading.responses import grade_responses, number_fallback_for
from rltrain.metrics.sampler_gap import SamplerGapWarning, default_threshold, likely_causes
from rltrain.models.build import build_models, pretrained_policy
from rltrain.ppo.experience import PPOBatch, build_experience
from rltrain.ppo.iteration import Estimates, Rollout, Scores
from rltrain.ppo.iteration_metrics import iteration_metrics
from rltrain.ppo.kl_controller import KLController
from rltrain.ppo.losses import whiten_global, whiten_returns_global
from rltrain.ppo.phases import Learner, TrainStats, ValueLossOptions, score_policy, score_values, train_minibatch
from rltrain.ppo.prompts import PromptStream, load_problems, prompt_config
from rltrain.ppo.scoring_passes import ScoringPasses, scoring_passes
from rltrain.ppo.signal import NoSignalWarning, signal_extremes
from rltrain.rewards.base import build_scoring_batch
from rltrain.rewards.factory import build_orm, build_prm
from rltrain.rollout.engine_dtype import engine_dtype
from rltrain.rollout.factory import build_engine
from rltrain.rollout.types import SamplingParams
from rltrain.rollout.weight_sync import sync_weights
from rltrain.tasks.builtin import builtin_policy


@contextmanager
def _timed(times: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    times[name] = time.perf_counter() - start


def peak_memory_gib(device: torch.device) -> float:
    """The peak allocated CUDA memory since the last call (GiB), max over ranks; resets the peak."""
    peak = all_reduce_max(torch.cuda.max_memory_allocated(device), device)
    torch.cuda.reset_peak_memory_stats(device)
    return peak / 2 ** 30


def _warmup_lambda(steps: int):
    return lambda s: min(1.0, (s + 1) / steps) if steps > 0 else 1.0


class PPOTrainer:
    def __init__(self, cfg: Config, info: DistInfo, run_dir: Path,
                 problems: tuple[list[MathProblem], list[MathProblem]] | None = None):
        """problems: (train pool, eval problems) already loaded (`load_problems(cfg)`), else loaded here."""
        self.cfg, self.info, self.run_dir = cfg, info, run_dir
        check_world_size(cfg, info.world_size)
        self.train_pool, self.eval_problems = problems if problems is not None else load_problems(cfg)
        policy = (builtin_policy(cfg, run_dir, info.is_main) if cfg.model.policy == "builtin"
                  else pretrained_policy(cfg, info.device))
        models = build_models(cfg, policy, info.device)
        self.actor, self.critic, self.reference = models.actor, models.critic, models.reference
        self.rollout_lm, self.tokenizer, self.warmup_losses = models.rollout_lm, models.tokenizer, models.warmup_losses
        self.separators = separator_token_ids(self.tokenizer, cfg.reward.step_delimiter)
        model_dir = run_dir / "init_model" if cfg.model.policy == "builtin" else cfg.model.policy
        say = (lambda line: print(f"[rltrain] {line}", flush=True)) if info.is_main else None
        self.engine = build_engine(cfg, self.rollout_lm, self.tokenizer, model_dir, device_type=info.device.type,
                                   log=say)
        self.gap_warning = self._gap_warning()
        self.signal_warning = NoSignalWarning(enabled=info.is_main)
        self._cut_noted: set[str] = set()
        self.grader = Grader(cfg.grading.grader_config(cfg.data.dataset))
        self.prm = build_prm(cfg.reward, info.device, self.tokenizer)
        self.orm = build_orm(cfg.reward, info.device, self.tokenizer)
        p = cfg.ppo
        self.actor_opt = torch.optim.AdamW(self.actor.parameters(), lr=p.actor_lr, weight_decay=p.weight_decay)
        self.actor_sched = torch.optim.lr_scheduler.LambdaLR(self.actor_opt, _warmup_lambda(p.warmup_steps))
        self.critic_opt = self.critic_sched = None  # the critic-free estimators have no critic
        if self.critic is not None:
            self.critic_opt = torch.optim.AdamW(self.critic.parameters(), lr=p.estimator.critic_lr,
                                                weight_decay=p.weight_decay)
            self.critic_sched = torch.optim.lr_scheduler.LambdaLR(self.critic_opt, _warmup_lambda(p.warmup_steps))
        self.kl = KLController(cfg.kl.coef, cfg.kl.adaptive, cfg.kl.target, cfg.kl.horizon)
        self.stream = PromptStream(self.train_pool, cfg.rollout.prompts, cfg.run.seed)
        self.prompt_cfg = prompt_config(cfg)
        self.iteration = 0  # completed iterations
        if info.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(info.device)  # the first iteration's peak leaves out start-up

    def _gap_warning(self) -> SamplerGapWarning:
        """Warns (rank 0, once) when sampler_logprob_gap exceeds rollout.sampler_logprob_gap_warn."""
        dtype = engine_dtype(self.cfg, self.info.device.type)
        threshold = self.cfg.rollout.sampler_logprob_gap_warn
        if threshold is None:
            threshold = default_threshold(dtype.trainer)
        causes = likely_causes(dtype, self.cfg.rollout.top_p, self.cfg.rollout.engine)
        return SamplerGapWarning(threshold, causes, enabled=self.info.is_main)

    # ---- rollout ---------------------------------------------------------------------------
    def _sampling(self, iteration: int, n: int, temperature: float, salt: int = 0) -> SamplingParams:
        seed = (self.cfg.run.seed * 1_000_003 + iteration * 7919 + salt) * 64 + self.info.rank
        r = self.cfg.rollout
        return SamplingParams(n=n, temperature=temperature, top_p=r.top_p if temperature > 0 else 1.0,
                              max_new_tokens=r.max_new_tokens, seed=seed % (2 ** 31))

    def _prompts(self, problems: Sequence[MathProblem]) -> tuple[list[str], list[list[int]]]:
        """The formatted prompt texts and their token ids, bounded to their end (the last
        data.max_prompt_tokens tokens; `bound_prompts`); a cut is noted once per problem on stderr."""
        texts = [format_prompt(self.tokenizer, p.question, self.prompt_cfg) for p in problems]
        limit = self.cfg.data.max_prompt_tokens
        texts, ids, cuts = bound_prompts(self.tokenizer, texts, limit)
        for cut in cuts:
            uid = problems[cut.index].uid
            if uid not in self._cut_noted:
                self._cut_noted.add(uid)
                print(f"[rltrain] note: {cut.describe(uid, f'data.max_prompt_tokens={limit}')}", file=sys.stderr,
                      flush=True)
        return texts, ids

    def _grade(self, problems, outputs) -> tuple[torch.Tensor, list[str]]:
        """success [B] (rltrain.grading.responses: 0 for truncated responses, as in eval) and the texts."""
        flat = [(p, o) for p, outs in zip(problems, outputs) for o in outs]
        texts = self.tokenizer.batch_decode([o.token_ids for _, o in flat], skip_special_tokens=True)
        grades = grade_responses(self.grader, texts, [p.answer for p, _ in flat], [o.finish_reason for _, o in flat],
                                 number_fallback=number_fallback_for(self.cfg.data.dataset))
        return torch.tensor([g.score for g in grades], dtype=torch.float32), texts

    # ---- one iteration ---------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        """One PPO iteration; returns its metrics (the same on every rank)."""
        times: dict[str, float] = {}
        with _timed(times, "iteration"):
            with _timed(times, "rollout"):
                rollout = self._rollout()
            with _timed(times, "scoring"):
                scores = self._score(rollout)
            with _timed(times, "training"):
                plan = self._minibatch_plan(rollout.experience.size)
                estimates = self._estimate(rollout, scores, first_minibatch=plan[0][0])
                stats = self._train(estimates, plan)
            with _timed(times, "sync"):
                self.sync_engine()
        metrics = iteration_metrics(scores, estimates, stats, world=self.info.world_size, kl_coef=self.kl.coef,
                                    actor_lr=self.actor_opt.param_groups[0]["lr"], times=times,
                                    critic=self.critic is not None)
        self.gap_warning.check(metrics["sampler_logprob_gap"], self.iteration + 1)
        batch = estimates.batch
        extremes = signal_extremes(scores.outcome + estimates.process_return, batch.advantages, batch.response_mask)
        self.signal_warning.check(self.iteration + 1, int(metrics["samples"]), metrics["success_rate"], *extremes)
        if self.kl.adaptive:  # adaptive implies the reference ran, so kl_per_response is reported
            self.kl.update(metrics["kl_per_response"], int(metrics["samples"]))
        if self.info.device.type == "cuda":
            metrics["gpu_peak_memory_gib"] = peak_memory_gib(self.info.device)
        self.iteration += 1
        return metrics

    def _rollout(self) -> Rollout:
        """This rank's prompts of the iteration and rollout.n samples of each; the engine sleeps after."""
        cfg, it = self.cfg, self.iteration
        problems = self.stream.batch(it, self.info.rank, self.info.world_size)
        texts, prompt_ids = self._prompts(problems)
        outputs = self.engine.generate(prompt_ids, self._sampling(it, cfg.rollout.n, cfg.rollout.temperature))
        self.engine.sleep()
        return Rollout(problems, texts, outputs, build_experience(prompt_ids, outputs, self.tokenizer.pad_token_id))

    def _score(self, rollout: Rollout) -> Scores:
        """Success from the grader, PRM / ORM scores of the rollout's rows, and the outcome reward."""
        dev, exp = self.info.device, rollout.experience
        success, _ = self._grade(rollout.problems, rollout.outputs)
        scoring = build_scoring_batch(rollout.row_prompts(), exp.response_ids, exp.response_mask, self.separators,
                                      self.tokenizer, questions=rollout.row_questions())
        step_scores = self.prm.score_steps(scoring).to(dev) if self.prm is not None else None
        orm = self.orm.score(scoring).float() if self.orm is not None else torch.zeros(exp.size)
        outcome = (success * self.cfg.reward.success + self.cfg.reward.orm_coef * orm).to(dev)
        return Scores(success, orm, outcome, step_scores, scoring)

    def _passes(self) -> ScoringPasses:
        return scoring_passes(self.kl.coef, self.kl.adaptive, self.cfg.kl.loss_coef)

    def _minibatch_plan(self, size: int) -> list[list[torch.Tensor]]:
        """The rows of each mini-batch, per epoch: ppo.epochs random orders of range(size), each cut
        into ppo.mini_batches parts (int64 on CPU; drawn from this iteration's seeded generator)."""
        p = self.cfg.ppo
        gen = torch.Generator().manual_seed(self.cfg.run.seed * 7 + self.iteration * 31 + self.info.rank)
        return [list(torch.tensor_split(torch.randperm(size, generator=gen), p.mini_batches))
                for _ in range(p.epochs)]

    def _old_logprobs(self, exp, skip: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(old log-probs, entropy) [B, T] of the actor; the rows in `skip` are left 0 (their training
        forward fills them)."""
        budget, temp = self.cfg.ppo.micro_tokens, self.cfg.rollout.temperature
        if skip is None:
            return score_policy(self.actor, exp, budget, temp)
        keep = torch.ones(exp.size, dtype=torch.bool)
        keep[skip] = False
        rest = keep.nonzero().squeeze(1)
        logp = torch.zeros(exp.response_ids.shape, dtype=torch.float32, device=exp.input_ids.device)
        entropy = torch.zeros_like(logp)
        if len(rest):  # the same count on every rank (equal rows per rank), so the collectives match
            part_logp, part_entropy = score_policy(self.actor, exp.select(rest), budget, temp)
            t = part_logp.shape[1]
            logp[rest, :t], entropy[rest, :t] = part_logp, part_entropy
        return logp, entropy

    def _estimate(self, rollout: Rollout, scores: Scores, first_minibatch: torch.Tensor | None = None) -> Estimates:
        """Old / reference log-probs of the rows (and, for gae, the critic's values), then rewards,
        advantages and returns: one fused kernel either way (docs/estimators.md).

        first_minibatch: the rows of the first mini-batch of the first epoch; when the rewards do not
        read old log-probs (`scoring_passes`), those rows are not scored here (`_train` fills them).
        The reference runs only when a KL term reads it."""
        cfg, rw, p = self.cfg, self.cfg.reward, self.cfg.ppo
        est = p.estimator
        exp = rollout.experience.to(self.info.device)
        budget, temp = p.micro_tokens, cfg.rollout.temperature
        passes = self._passes()
        skip = first_minibatch if passes.reuse_first_minibatch else None
        old_logp, entropy = self._old_logprobs(exp, skip)
        if passes.reference:
            ref_logp, _ = score_policy(self.reference, exp, budget, temp)
        else:
            ref_logp = torch.full_like(old_logp, float("nan"))
        kl = dict(logprobs=old_logp, ref_logprobs=ref_logp) if self.kl.adaptive or self.kl.coef > 0 else {}
        rewards = dict(separator_ids=self.separators, step_scores=scores.step_scores, kl_coef=self.kl.coef,
                       shaping=rw.shaping, eta=rw.eta, prm_coef=rw.prm_coef, gamma=p.gamma, **kl)
        if self.critic is not None:
            values = score_values(self.critic, exp, budget)
            out = rltrain_kernels.fused_reward_gae(exp.response_ids, exp.response_mask, values, scores.outcome,
                                                   lam=est.lam, **rewards)
            adv = whiten_global(out.advantages, exp.response_mask) if est.whiten_advantages else out.advantages
        else:
            spec = est.spec
            out = rltrain_kernels.fused_reward_advantages(
                exp.response_ids, exp.response_mask, scores.outcome, estimator=est.type,
                group_size=cfg.rollout.n if spec.grouped else None, **est.kernel_options(), **rewards)
            adv = out.advantages
            if not spec.grouped and self.info.world_size > 1:  # the global batch's statistics, not this rank's
                adv = whiten_returns_global(out.returns, exp.response_mask, est.std_floor)
            values = torch.zeros_like(adv)
        batch = PPOBatch.of(exp, old_logprobs=old_logp, ref_logprobs=ref_logp, values=values, returns=out.returns,
                            advantages=adv)
        return Estimates(batch, entropy, out.process_return, reference=passes.reference, on_policy_rows=skip)

    def _train(self, estimates: Estimates, plan: list[list[torch.Tensor]]) -> TrainStats:
        """The mini-batches of `plan` (`_minibatch_plan`) in order, one optimizer step each. The first
        one's old log-probs and entropy, when `_estimate` left them out, come from its own forward
        (ratio exactly 1) and are written into the batch before its step, for later epochs and metrics."""
        p, stats, batch = self.cfg.ppo, TrainStats(), estimates.batch
        policy = PPOOptions(clip_low=p.clip_low, clip_high=p.clip_high, dual_clip=p.dual_clip,
                            entropy_coef=p.entropy_coef, kl_loss_coef=self.cfg.kl.loss_coef,
                            temperature=self.cfg.rollout.temperature)
        est = p.estimator
        value = ValueLossOptions(est.value_clip, est.vf_coef) if est.critic else ValueLossOptions()
        learner = Learner(self.actor, self.actor_opt, self.critic, self.critic_opt)
        pending = estimates.on_policy_rows
        for epoch, minibatches in enumerate(plan):
            for index, rows in enumerate(minibatches):
                on_policy = pending is not None and epoch == 0 and index == 0
                if on_policy and not torch.equal(rows, pending):
                    raise RuntimeError("the first mini-batch is not the one whose old log-probs were left out")
                seen = train_minibatch(learner, batch.select(rows), policy=policy, value=value,
                                       token_budget=p.micro_tokens, max_grad_norm=p.max_grad_norm, stats=stats,
                                       on_policy=on_policy)
                if seen is not None:
                    t = seen[0].shape[1]
                    batch.old_logprobs[rows, :t], estimates.entropy[rows, :t] = seen
                self.actor_sched.step()
                if self.critic_sched is not None:
                    self.critic_sched.step()
        return stats

    def sync_engine(self) -> None:
        """Push the actor's full weights into the rollout engine, gathered from FSDP2 one bucket
        (whole decoder layers, <= rollout.vllm.bucket_mb) at a time; wakes a sleeping engine first."""
        self.engine.wake_up()
        sync_weights(self.engine, self.actor.lm, bucket_bytes=self.cfg.rollout.vllm.bucket_mb << 20)

    # ---- evaluation ------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Greedy and sampling success on the held-out problems (split over ranks)."""
        mine = self.eval_problems[self.info.rank::self.info.world_size]
        _, ids = self._prompts(mine)
        out = {}
        for name, temp in (("greedy", 0.0), ("sampling", self.cfg.rollout.temperature)):
            outputs = self.engine.generate(ids, self._sampling(self.iteration, 1, temp, salt=17)) if ids else []
            ok, _ = self._grade(mine, outputs) if ids else (torch.zeros(0), [])
            total, count = all_reduce_sum([float(ok.sum()), float(len(ok))], self.info.device)
            out[f"{name}_success"] = total / max(count, 1)
        return out

    def close(self) -> None:
        """Release the grader's workers and the rollout engine. vLLM's shutdown also tears down the
        default process group, so this is the last collective-free step before exit."""
        self.grader.close()
        self.engine.shutdown()


def rank_param_spread(trainer: PPOTrainer) -> float:
    """max - min over ranks of a fingerprint of the rollout copy's full weights (0 = identical)."""
    import torch.distributed as dist

    if trainer.rollout_lm is None or not dist.is_initialized() or dist.get_world_size() == 1:
        return 0.0
    total = torch.zeros(1, dtype=torch.float64, device=trainer.info.device)
    for i, p in enumerate(trainer.rollout_lm.parameters()):
        total += p.detach().double().abs().sum() * (i + 1)
    gathered = [torch.zeros_like(total) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, total)
    values = [float(g) for g in gathered]
    return max(values) - min(values)
