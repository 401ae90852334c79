"""Policy-loss benchmarks: forward + backward time (and peak memory on CUDA).

    pytest bench/test_bench_policy_loss.py --benchmark-only

CUDA (the issue's targets): N=16384 tokens, V=151936, bf16, H in {1536, 3584}: the fused
linear loss vs (a) eager PyTorch (lm_head matmul -> log_softmax -> gather, softmax
entropy, PPO formula), (b) torch.compile of (a), (c) Liger-Kernel's fused linear GRPO loss
(per-sequence advantages; skipped when liger-kernel is not importable); and the fused
logits loss vs eager on precomputed logits. extra_info holds peak extra memory and the
GEMM rate. CPU: small shapes, the torch reference (the CPU fallback) vs eager.
"""
from __future__ import annotations

import inspect

import pytest
import torch

from rltrain_kernels import linear_ppo_policy_loss, ppo_policy_loss

CLIP, ENTROPY_COEF = 0.2, 0.01
CUDA_N, CUDA_V = 16384, 151936
CPU_N, CPU_V, CPU_H = 1024, 16384, 256
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (the targets are for an H100/H200)")


def eager_policy_loss(logits, targets, old_logprobs, advantages, mask):
    """The unfused PyTorch baseline: float32 log_softmax + gather, softmax entropy, PPO."""
    logp_all = torch.log_softmax(logits.float(), dim=-1)
    logp = logp_all.gather(-1, targets[:, None]).squeeze(-1)
    entropy = -(torch.softmax(logits.float(), dim=-1) * logp_all).sum(-1)
    ratio = torch.exp(logp - old_logprobs)
    pg = torch.maximum(-advantages * ratio, -advantages * ratio.clamp(1 - CLIP, 1 + CLIP))
    m = mask.float()
    return ((pg - ENTROPY_COEF * entropy) * m).sum() / m.sum().clamp(min=1)


def eager_linear_policy_loss(hidden, weight, *tokens):
    return eager_policy_loss(hidden @ weight.T, *tokens)


def _tokens(n: int, v: int, device: str):
    g = torch.Generator(device=device).manual_seed(0)
    targets = torch.randint(0, v, (n,), device=device, generator=g)
    old = -torch.rand(n, device=device, generator=g) * 4 - 6  # ~ log(1/V) scale
    adv = torch.randn(n, device=device, generator=g)
    mask = torch.rand(n, device=device, generator=g) < 0.9
    return targets, old, adv, mask


def _fwd_bwd(fn, leaves, *args):
    def step():
        for x in leaves:
            x.grad = None
        fn(*leaves, *args).backward()
    return step


def _fused_linear(backend: str):
    def fn(hidden, weight, targets, old, adv, mask):
        return linear_ppo_policy_loss(hidden, weight, targets, old, adv, mask, clip_low=CLIP, clip_high=CLIP,
                                      entropy_coef=ENTROPY_COEF, backend=backend).loss
    return fn


def _fused_logits(backend: str):
    def fn(logits, targets, old, adv, mask):
        return ppo_policy_loss(logits, targets, old, adv, mask, clip_low=CLIP, clip_high=CLIP,
                               entropy_coef=ENTROPY_COEF, backend=backend).loss
    return fn


def _liger_linear():
    chunked = pytest.importorskip("liger_kernel.chunked_loss", reason="liger-kernel is not installed")
    loss_cls = chunked.LigerFusedLinearGRPOLoss
    params = inspect.signature(loss_cls.forward).parameters
    if "selected_token_ids" not in params or "old_per_token_logps" not in params:
        pytest.skip("this liger-kernel version's GRPO loss takes no token ids / old log-probs")
    module = loss_cls(beta=0.0, use_ref_model=False, epsilon_low=CLIP, epsilon_high=CLIP)

    def fn(hidden, weight, targets, old, adv, mask):
        # Liger wants [B, T, H] with one advantage per sequence: 16 sequences of N/16 tokens
        B = 16
        out = module(_input=hidden.view(B, -1, hidden.shape[-1]), lin_weight=weight,
                     selected_token_ids=targets.view(B, -1), attention_mask=mask.view(B, -1).long(),
                     advantages=adv.view(B, -1)[:, 0].contiguous(), old_per_token_logps=old.view(B, -1))
        return out[0] if isinstance(out, tuple) else out
    return fn


def _cuda_measure(benchmark, fn, leaves, args, gemm_flops: float) -> None:
    torch.cuda.synchronize()
    step = _fwd_bwd(fn, leaves, *args)
    try:
        step()  # warm-up / compile
    except torch.cuda.OutOfMemoryError:
        pytest.skip(f"out of GPU memory at N={CUDA_N}, V={CUDA_V} on {torch.cuda.get_device_name()}")
    for x in leaves:
        x.grad = None
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    benchmark.extra_info["peak_extra_GiB"] = (torch.cuda.max_memory_allocated() - base) / 2**30
    benchmark.extra_info["device"] = torch.cuda.get_device_name()

    def timed():
        step()
        torch.cuda.synchronize()
    benchmark.pedantic(timed, rounds=5, warmup_rounds=1)
    if gemm_flops:
        benchmark.extra_info["gemm_TFLOPs"] = gemm_flops / benchmark.stats.stats.median / 1e12


@needs_cuda
@pytest.mark.parametrize("hidden_size", [1536, 3584])
@pytest.mark.parametrize("impl", ["fused", "eager", "compile", "liger"])
def test_cuda_linear_policy_loss(benchmark, impl, hidden_size):
    benchmark.group = f"cuda-linear-H{hidden_size}"
    fn = {"fused": lambda: _fused_linear("triton"), "eager": lambda: eager_linear_policy_loss,
          "compile": lambda: torch.compile(eager_linear_policy_loss), "liger": _liger_linear}[impl]()
    g = torch.Generator(device="cuda").manual_seed(1)
    hidden = (torch.randn(CUDA_N, hidden_size, device="cuda", generator=g) * 0.5).bfloat16().requires_grad_()
    weight = (torch.randn(CUDA_V, hidden_size, device="cuda", generator=g) * 0.02).bfloat16().requires_grad_()
    # fwd + bwd GEMMs: logits, d hidden, d weight (2 N V H flops each)
    _cuda_measure(benchmark, fn, [hidden, weight], _tokens(CUDA_N, CUDA_V, "cuda"), 6.0 * CUDA_N * CUDA_V * hidden_size)


@needs_cuda
@pytest.mark.parametrize("impl", ["fused", "eager", "compile"])
def test_cuda_logits_policy_loss(benchmark, impl):
    benchmark.group = "cuda-logits"
    fn = {"fused": _fused_logits("triton"), "eager": eager_policy_loss,
          "compile": torch.compile(eager_policy_loss)}[impl]
    g = torch.Generator(device="cuda").manual_seed(2)
    logits = torch.randn(CUDA_N, CUDA_V, device="cuda", generator=g).bfloat16().requires_grad_()
    _cuda_measure(benchmark, fn, [logits], _tokens(CUDA_N, CUDA_V, "cuda"), 0.0)
    # the fused path reads the logits twice and writes d logits once
    benchmark.extra_info["effective_GBps"] = 3 * logits.numel() * 2 / benchmark.stats.stats.median / 1e9


@pytest.mark.parametrize("impl", ["torch_reference", "eager"])
def test_cpu_logits_policy_loss(benchmark, impl):
    benchmark.group = "cpu-logits"
    fn = _fused_logits("torch") if impl == "torch_reference" else eager_policy_loss
    logits = torch.randn(CPU_N, CPU_V, generator=torch.Generator().manual_seed(3)).requires_grad_()
    benchmark.pedantic(_fwd_bwd(fn, [logits], *_tokens(CPU_N, CPU_V, "cpu")), rounds=10, warmup_rounds=2)


@pytest.mark.parametrize("impl", ["torch_reference", "eager"])
def test_cpu_linear_policy_loss(benchmark, impl):
    benchmark.group = "cpu-linear"
    fn = _fused_linear("torch") if impl == "torch_reference" else eager_linear_policy_loss
    g = torch.Generator().manual_seed(4)
    hidden = torch.randn(CPU_N, CPU_H, generator=g).requires_grad_()
    weight = (torch.randn(CPU_V, CPU_H, generator=g) * 0.05).requires_grad_()
    benchmark.pedantic(_fwd_bwd(fn, [hidden, weight], *_tokens(CPU_N, CPU_V, "cpu")), rounds=10, warmup_rounds=2)
