"""Kernel measurements against the device's ceilings: fused reward/GAE, the PPO loss from logits,
the fused linear PPO loss (each beside eager PyTorch, and Liger-Kernel where it is installed)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

import rltrain_kernels
from bench.gae_baselines import loop_reward_gae
from bench.gpu.rows import Row
from bench.gpu.timing import median_seconds, peak_extra_gib
from bench.test_bench_policy_loss import CLIP, ENTROPY_COEF, _liger_linear, _tokens, eager_policy_loss
from bench.test_bench_reward_gae import TEXT_STEPS, bytes_moved, make_inputs


@dataclass(frozen=True)
class Sizes:
    """Shapes of the measurements: reward/GAE [gae_b, gae_t]; loss from logits [logits_n, vocab];
    linear loss [linear_n, hidden] x [vocab, hidden]."""

    gae_b: int = 1024
    gae_t: int = 4096
    logits_n: int = 8192
    linear_n: int = 16384
    hidden: int = 1536
    vocab: int = 151936

    @classmethod
    def tiny(cls) -> "Sizes":
        return cls(gae_b=16, gae_t=256, logits_n=256, linear_n=256, hidden=64, vocab=4096)


def _backend(device: torch.device) -> str:
    return "triton" if device.type == "cuda" else "torch"


def reward_gae_rows(device: torch.device, sizes: Sizes, copy_gbs: float) -> list[Row]:
    inputs = make_inputs(sizes.gae_b, sizes.gae_t, device)
    kw = dict(kl_coef=0.05, gamma=1.0, lam=0.95)

    def fused():
        return rltrain_kernels.fused_reward_gae(
            inputs["token_ids"], inputs["mask"], inputs["values"], inputs["outcome"], separator_ids=TEXT_STEPS,
            step_scores=inputs["step_scores"], logprobs=inputs["logprobs"], ref_logprobs=inputs["ref_logprobs"],
            shaping="clip_delta", backend=_backend(device), **kw)

    fused_s = median_seconds(fused, device, repeats=10, warmup=2)
    loop_s = median_seconds(lambda: loop_reward_gae(inputs["mask"], inputs["values"], inputs["outcome"],
                                                    inputs["logprobs"], inputs["ref_logprobs"], **kw),
                            device, repeats=2, warmup=1)
    gbs = bytes_moved(inputs) / fused_s / 1e9
    shape = f"{sizes.gae_b} x {sizes.gae_t}"
    return [
        Row(f"fused_reward_gae {shape}, text delimiter, KL, clip_delta", fused_s * 1e3, "ms",
            detail=f"{gbs:.3g} GB/s moved"),
        Row("fused_reward_gae / copy bandwidth", gbs / copy_gbs, "fraction", ">= 0.60", gbs / copy_gbs >= 0.60,
            f"copy {copy_gbs:.3g} GB/s measured in this run"),
        Row("per-step GAE loop / fused_reward_gae", loop_s / fused_s, "x", ">= 500", loop_s / fused_s >= 500,
            f"loop {loop_s * 1e3:.1f} ms (GAE only, no segmentation or PRM)"),
    ]


def _fwd_bwd(fn, leaves, *args):
    def step():
        for x in leaves:
            x.grad = None
        fn(*leaves, *args).backward()
    return step


def logits_loss_rows(device: torch.device, sizes: Sizes, copy_gbs: float) -> list[Row]:
    g = torch.Generator(device=device).manual_seed(2)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    logits = torch.randn(sizes.logits_n, sizes.vocab, device=device, generator=g).to(dtype).requires_grad_()
    tokens = _tokens(sizes.logits_n, sizes.vocab, device.type)

    def fused(lg, *t):
        return rltrain_kernels.ppo_policy_loss(lg, *t, clip_low=CLIP, clip_high=CLIP, entropy_coef=ENTROPY_COEF,
                                       backend=_backend(device)).loss

    fused_s = median_seconds(_fwd_bwd(fused, [logits], *tokens), device)
    eager_s = median_seconds(_fwd_bwd(eager_policy_loss, [logits], *tokens), device)
    gbs = 3 * logits.numel() * logits.element_size() / fused_s / 1e9  # read twice, d logits written once
    return [
        Row(f"ppo_policy_loss fwd+bwd, logits [{sizes.logits_n}, {sizes.vocab}] {str(dtype)[6:]}", fused_s * 1e3, "ms",
            detail=f"eager PyTorch {eager_s * 1e3:.1f} ms"),
        Row("ppo_policy_loss / copy bandwidth", gbs / copy_gbs, "fraction", ">= 0.70", gbs / copy_gbs >= 0.70,
            f"{gbs:.3g} GB/s effective (logits read twice, gradient written once)"),
    ]


def linear_loss_rows(device: torch.device, sizes: Sizes, matmul_tflops: float) -> list[Row]:
    g = torch.Generator(device=device).manual_seed(1)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    n, h, v = sizes.linear_n, sizes.hidden, sizes.vocab
    hidden = (torch.randn(n, h, device=device, generator=g) * 0.5).to(dtype).requires_grad_()
    weight = (torch.randn(v, h, device=device, generator=g) * 0.02).to(dtype).requires_grad_()
    tokens = _tokens(n, v, device.type)

    def fused(hd, w, *t):
        return rltrain_kernels.linear_ppo_policy_loss(hd, w, *t, clip_low=CLIP, clip_high=CLIP, entropy_coef=ENTROPY_COEF,
                                              backend=_backend(device)).loss

    def eager(hd, w, *t):
        return eager_policy_loss(hd @ w.T, *t)

    impls = {"fused": fused, "eager": eager}
    try:
        impls["liger"] = _liger_linear()
    except BaseException:  # noqa: BLE001 - pytest's Skipped when liger-kernel is absent or too old
        pass
    flops = 6.0 * n * h * v  # logits, d hidden, d weight
    times, memory = {}, {}
    for name, fn in impls.items():
        step = _fwd_bwd(fn, [hidden, weight], *tokens)
        try:
            times[name] = median_seconds(step, device, repeats=3)
            memory[name] = peak_extra_gib(step, device)
        except torch.cuda.OutOfMemoryError:
            times[name], memory[name] = float("nan"), None
            torch.cuda.empty_cache()
    rate = flops / times["fused"] / 1e12
    shape = f"N={n}, H={h}, V={v} {str(dtype)[6:]}"
    rows = [Row(f"linear_ppo_policy_loss fwd+bwd, {shape}", times["fused"] * 1e3, "ms",
                detail=", ".join(f"{k} {t * 1e3:.1f} ms" for k, t in times.items() if k != "fused")),
            Row("linear_ppo_policy_loss / matmul peak", rate / matmul_tflops, "fraction", ">= 0.55",
                rate / matmul_tflops >= 0.55, f"{rate:.3g} TFLOP/s of {matmul_tflops:.3g} measured")]
    if memory.get("fused") is not None and memory.get("eager"):
        ratio = memory["fused"] / memory["eager"]
        rows.append(Row("linear_ppo_policy_loss peak memory / eager", ratio, "fraction", "<= 0.10", ratio <= 0.10,
                        ", ".join(f"{k} {m:.2f} GiB" for k, m in memory.items() if m is not None)))
    return rows
