"""One PPO iteration (DESIGN.md "data flow") and the state a checkpoint must hold.

    rollout -> grade -> PRM / ORM -> old / ref log-probs, values -> kernels.fused_reward_gae
    -> global advantage whitening -> PPO epochs -> update_weights on the rollout engine
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

import kernels
from rltrain.config.schema import Config
from rltrain.data.prompts import encode_prompts, format_prompt
from rltrain.data.separators import separator_token_ids
from rltrain.distributed.setup import DistInfo, all_reduce_sum
from rltrain.grading import Grader, GraderConfig
from rltrain.grading.responses import grade_responses, number_fallback_for
from rltrain.metrics.response_stats import repeated_steps
from rltrain.metrics.sampler_gap import SamplerGapWarning, default_threshold, likely_causes
from rltrain.models.build import build_models
from rltrain.ppo.experience import build_experience
from rltrain.ppo.kl_controller import KLController
from rltrain.ppo.losses import explained_variance, whiten_global
from rltrain.ppo.phases import TrainStats, score_policy, score_values, train_minibatch
from rltrain.ppo.prompts import PromptStream, load_problems, prompt_config
from rltrain.rewards.base import build_scoring_batch
from rltrain.rewards.factory import build_orm, build_prm
from rltrain.rollout.engine_dtype import engine_dtype
from rltrain.rollout.factory import build_engine
from rltrain.rollout.types import SamplingParams
from rltrain.rollout.weight_sync import sync_weights


def _warmup_lambda(steps: int):
    return lambda s: min(1.0, (s + 1) / steps) if steps > 0 else 1.0


class PPOTrainer:
    def __init__(self, cfg: Config, info: DistInfo, run_dir: Path):
        self.cfg, self.info, self.run_dir = cfg, info, run_dir
        if cfg.rollout.prompts % info.world_size:
            raise ValueError(f"config key `rollout.prompts`: {cfg.rollout.prompts} is not divisible by the "
                             f"world size {info.world_size}")
        self.train_pool, self.eval_problems = load_problems(cfg)
        models = build_models(cfg, run_dir, info.device, info.is_main)
        self.actor, self.critic, self.reference = models.actor, models.critic, models.reference
        self.rollout_lm, self.tokenizer, self.warmup_losses = models.rollout_lm, models.tokenizer, models.warmup_losses
        self.separators = separator_token_ids(self.tokenizer, cfg.reward.step_delimiter)
        model_dir = run_dir / "init_model" if cfg.model.policy == "builtin" else cfg.model.policy
        say = (lambda line: print(f"[rltrain] {line}", flush=True)) if info.is_main else None
        self.engine = build_engine(cfg, self.rollout_lm, self.tokenizer, model_dir, device_type=info.device.type,
                                   log=say)
        self.gap_warning = self._gap_warning()
        self.grader = Grader(cfg.grading.grader_config(cfg.data.dataset))
        self.prm = build_prm(cfg.reward, info.device, self.tokenizer)
        self.orm = build_orm(cfg.reward, info.device, self.tokenizer)
        p = cfg.ppo
        self.actor_opt = torch.optim.AdamW(self.actor.parameters(), lr=p.actor_lr, weight_decay=p.weight_decay)
        self.critic_opt = torch.optim.AdamW(self.critic.parameters(), lr=p.critic_lr, weight_decay=p.weight_decay)
        self.actor_sched = torch.optim.lr_scheduler.LambdaLR(self.actor_opt, _warmup_lambda(p.warmup_steps))
        self.critic_sched = torch.optim.lr_scheduler.LambdaLR(self.critic_opt, _warmup_lambda(p.warmup_steps))
        self.kl = KLController(cfg.kl.coef, cfg.kl.adaptive, cfg.kl.target, cfg.kl.horizon)
        self.stream = PromptStream(self.train_pool, cfg.rollout.prompts, cfg.run.seed)
        self.prompt_cfg = prompt_config(cfg)
        self.iteration = 0  # completed iterations

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

    def _encode(self, problems):
        ids = encode_prompts(self.tokenizer, [p.question for p in problems], self.prompt_cfg)
        limit = self.cfg.data.max_prompt_tokens
        return [x[-limit:] for x in ids]

    def _grade(self, problems, outputs) -> tuple[torch.Tensor, list[str]]:
        """success [B] (rltrain.grading.responses: 0 for truncated responses, as in eval) and the texts."""
        flat = [(p, o) for p, outs in zip(problems, outputs) for o in outs]
        texts = self.tokenizer.batch_decode([o.token_ids for _, o in flat], skip_special_tokens=True)
        grades = grade_responses(self.grader, texts, [p.answer for p, _ in flat], [o.finish_reason for _, o in flat],
                                 number_fallback=number_fallback_for(self.cfg.data.dataset))
        return torch.tensor([g.score for g in grades], dtype=torch.float32), texts

    # ---- one iteration ---------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        cfg, dev, it = self.cfg, self.info.device, self.iteration
        times, t0 = {}, time.perf_counter()
        problems = self.stream.batch(it, self.info.rank, self.info.world_size)
        prompt_ids = self._encode(problems)
        outputs = self.engine.generate(prompt_ids, self._sampling(it, cfg.rollout.n, cfg.rollout.temperature))
        if hasattr(self.engine, "sleep"):
            self.engine.sleep()  # vLLM on GPU frees its memory for training (a no-op elsewhere)
        exp = build_experience(prompt_ids, outputs, self.tokenizer.pad_token_id).to(dev)
        times["rollout"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        success, _ = self._grade(problems, outputs)
        prompt_texts = [format_prompt(self.tokenizer, p.question, self.prompt_cfg) for p in problems
                        for _ in range(cfg.rollout.n)]
        batch = build_scoring_batch(prompt_texts, exp.response_ids.cpu(), exp.response_mask.cpu(), self.separators,
                                    self.tokenizer)
        step_scores = self.prm.score_steps(batch).to(dev) if self.prm is not None else None
        orm_scores = self.orm.score(batch).float() if self.orm is not None else torch.zeros(exp.size)
        outcome = (success * cfg.reward.success + cfg.reward.orm_coef * orm_scores).to(dev)
        times["scoring"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        budget, temp = cfg.ppo.micro_tokens, cfg.rollout.temperature
        old_logp, entropy = score_policy(self.actor, exp, budget, temp)
        ref_logp, _ = score_policy(self.reference, exp, budget, temp)
        values = score_values(self.critic, exp, budget)
        rw = cfg.reward
        gae = kernels.fused_reward_gae(
            exp.response_ids, exp.response_mask, values, outcome, separator_ids=self.separators,
            step_scores=step_scores, logprobs=old_logp, ref_logprobs=ref_logp, kl_coef=self.kl.coef,
            shaping=rw.shaping, eta=rw.eta, prm_coef=rw.prm_coef, gamma=cfg.ppo.gamma, lam=cfg.ppo.lam)
        adv = whiten_global(gae.advantages, exp.response_mask) if cfg.ppo.whiten_advantages else gae.advantages
        exp.extras.update(old_logprobs=old_logp, ref_logprobs=ref_logp, values=values, returns=gae.returns,
                          advantages=adv)
        stats = self._train(exp)
        times["training"] = time.perf_counter() - t2

        t3 = time.perf_counter()
        self.sync_engine()
        times["sync"] = time.perf_counter() - t3
        times["iteration"] = time.perf_counter() - t0

        metrics = self._metrics(exp, success, orm_scores, step_scores, batch, old_logp, ref_logp, entropy,
                                values, gae.returns, stats, times)
        self.gap_warning.check(metrics["sampler_logprob_gap"], it + 1)
        kl_per_response = metrics["kl_per_response"]
        self.kl.update(kl_per_response, int(metrics["samples"]))
        self.iteration += 1
        return metrics

    def _train(self, exp) -> TrainStats:
        p, stats = self.cfg.ppo, TrainStats()
        opts = dict(clip_low=p.clip_low, clip_high=p.clip_high, dual_clip=p.dual_clip, entropy_coef=p.entropy_coef,
                    kl_loss_coef=self.cfg.kl.loss_coef)
        gen = torch.Generator().manual_seed(self.cfg.run.seed * 7 + self.iteration * 31 + self.info.rank)
        for _ in range(p.epochs):
            order = torch.randperm(exp.size, generator=gen)
            for rows in torch.tensor_split(order, p.mini_batches):
                train_minibatch(self.actor, self.critic, self.actor_opt, self.critic_opt, exp.select(rows),
                                loss_kwargs=opts, temperature=self.cfg.rollout.temperature, token_budget=p.micro_tokens, value_clip=p.value_clip,
                                vf_coef=p.vf_coef, max_grad_norm=p.max_grad_norm, stats=stats)
                self.actor_sched.step()
                self.critic_sched.step()
        return stats

    def sync_engine(self) -> None:
        """Push the actor's full weights into the rollout engine, gathered from FSDP2 one bucket
        (whole decoder layers, <= rollout.vllm.bucket_mb) at a time; wakes a sleeping engine first."""
        if hasattr(self.engine, "wake_up"):
            self.engine.wake_up()
        sync_weights(self.engine, self.actor.lm, bucket_bytes=self.cfg.rollout.vllm.bucket_mb << 20)

    def _shaped_prm_return(self, exp, step_scores) -> torch.Tensor:
        """[B] sum of prm_coef * shaped step rewards (the kernel with no outcome, KL or values)."""
        zeros = torch.zeros(exp.response_ids.shape, dtype=torch.float32, device=exp.input_ids.device)
        out = kernels.fused_reward_gae(exp.response_ids, exp.response_mask, zeros, torch.zeros(exp.size, device=zeros.device),
                                       separator_ids=self.separators, step_scores=step_scores,
                                       shaping=self.cfg.reward.shaping, eta=self.cfg.reward.eta,
                                       prm_coef=self.cfg.reward.prm_coef)
        return out.rewards.sum(1)

    def _metrics(self, exp, success, orm_scores, step_scores, batch, old_logp, ref_logp, entropy, values,
                 returns, stats: TrainStats, times) -> dict[str, float]:
        m = exp.response_mask.float()
        lengths = m.sum(1)
        num_steps = batch.segments.num_steps.float()
        if step_scores is not None:
            k = torch.arange(step_scores.shape[1], device=step_scores.device)
            valid = (k[None, :] < num_steps.to(step_scores.device)[:, None]).float()
            raw = (step_scores * valid).sum(1).cpu()
            shaped = self._shaped_prm_return(exp, step_scores).cpu()
        else:
            raw = shaped = torch.zeros(exp.size)
        rep, total_steps = repeated_steps(batch.step_texts)
        kl_tok = ((old_logp - ref_logp) * m).sum(1)
        gap = ((old_logp - exp.sampler_logprobs).abs() * m).sum()  # engine vs trainer: weight-sync check
        sums = all_reduce_sum([
            exp.size, float(success.sum()), float(raw.sum()), float(shaped.sum()), float(orm_scores.sum()),
            float(kl_tok.sum()), float(m.sum()), float((entropy * m).sum()), float(lengths.sum()),
            float(num_steps.sum()), rep, total_steps, float(exp.truncated.float().sum()),
            stats.policy_loss, stats.value_loss, stats.clipped_sum, stats.value_clipped_sum, stats.tokens,
            stats.actor_grad_norm, stats.critic_grad_norm, float(gap),
        ], exp.input_ids.device)
        (n, succ, raw_s, shaped_s, orm_s, kl_s, tok, ent_s, len_s, steps_s, rep_s, tot_steps, trunc,
         pol, val, clip_s, vclip_s, train_tok, agn, cgn, gap_s) = sums
        world, opt_steps = self.info.world_size, max(stats.optimizer_steps, 1)
        return {
            "samples": n, "success_rate": succ / n, "prm_return_raw": raw_s / n, "prm_return_shaped": shaped_s / n,
            "orm_score": orm_s / n, "kl_per_response": kl_s / n, "kl_per_token": kl_s / max(tok, 1),
            "kl_coef": self.kl.coef, "entropy": ent_s / max(tok, 1), "response_length": len_s / n,
            "steps_per_response": steps_s / n, "repeated_step_fraction": rep_s / max(tot_steps, 1),
            "truncated_fraction": trunc / n, "policy_loss": pol / opt_steps, "value_loss": val / opt_steps,
            "clip_fraction": clip_s / max(train_tok, 1), "value_clip_fraction": vclip_s / max(train_tok, 1),
            "actor_grad_norm": agn / (opt_steps * world), "critic_grad_norm": cgn / (opt_steps * world),
            "explained_variance": explained_variance(values, returns, exp.response_mask),
            "sampler_logprob_gap": gap_s / max(tok, 1),
            "actor_lr": self.actor_opt.param_groups[0]["lr"],
            **{f"time_{k}": v for k, v in times.items()},
            "tokens_per_s": tok / max(times["iteration"], 1e-9),
            "rollout_tokens_per_s": tok / max(times["rollout"], 1e-9),
        }

    # ---- evaluation ------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Greedy and sampling success on the held-out problems (split over ranks)."""
        mine = self.eval_problems[self.info.rank::self.info.world_size]
        ids = self._encode(mine)
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
        if hasattr(self.engine, "shutdown"):
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
