"""Microbenchmarks of `rltrain_kernels.fused_reward_gae` against the per-time-step GAE loop.

    TRITON_INTERPRET=0 OMP_NUM_THREADS=1 pytest bench/test_bench_reward_gae.py --benchmark-only

On a GPU: Triton, the torch reference and the loops at the target sizes, plus the
device's copy bandwidth, so GB/s can be read against it (extra_info "GB/s").
On CPU: the torch reference and the loops at small sizes (the Triton interpreter is a
correctness tool, not a timing one); quote ratios from one run.
Steps come from a plain id set ("ids") or from a text delimiter over token texts ("text",
`rltrain_kernels.StepDelimiter`: ids 1 and 2 read "\n\n" and ".\n\n", id 3 reads "\n"), the
automaton the trainer runs.
"""
from __future__ import annotations

import pytest
import torch

import rltrain_kernels
from bench.gae_baselines import loop_reward_gae, verl_masked_loop_gae
from bench.timing import record_bandwidth, synchronized

GPU_SIZES = [(64, 512), (256, 2048), (1024, 4096)]
CPU_SIZES = [(64, 512), (256, 2048)]
SIZES = GPU_SIZES if torch.cuda.is_available() else CPU_SIZES
KERNELS = (["triton"] if torch.cuda.is_available() else []) + ["torch"]
IMPLS = [f"{k}-{sep}" for k in KERNELS for sep in ("ids", "text")] + ["loop", "loop_verl"]
TEXT_STEPS = rltrain_kernels.StepDelimiter.from_token_texts(
    ["w0", "\n\n", ".\n\n", "\n"] + [f" w{i}" for i in range(4, 32)], "\n\n")


def make_inputs(B: int, T: int, device: torch.device) -> dict:
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(T // 2, T + 1, (B,), generator=gen)
    tokens = torch.randint(0, 32, (B, T), generator=gen)  # ids 1, 2 are separators: ~16 steps / 256 tokens
    tokens[:, ::17] = 1
    mask = torch.arange(T)[None, :] < lengths[:, None]
    max_steps = max(int(rltrain_kernels.segment_steps(tokens, mask, sep, backend="torch").num_steps.max())
                    for sep in ([1, 2], TEXT_STEPS))
    tensors = dict(token_ids=tokens, mask=mask, values=torch.randn(B, T, generator=gen),
                   outcome=torch.randint(0, 2, (B,), generator=gen).float(),
                   step_scores=torch.rand(B, max_steps, generator=gen),
                   logprobs=-torch.rand(B, T, generator=gen), ref_logprobs=-torch.rand(B, T, generator=gen))
    return {k: v.to(device) for k, v in tensors.items()}


def bytes_moved(inputs: dict) -> int:
    """Every input read once and the three [B, T] float32 outputs written once."""
    read = sum(t.numel() * t.element_size() for t in inputs.values())
    B, T = inputs["token_ids"].shape
    return read + 3 * B * T * 4


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("B,T", SIZES, ids=[f"{b}x{t}" for b, t in SIZES])
def test_reward_gae(benchmark, bench_device, impl, B, T):
    inputs = make_inputs(B, T, bench_device)
    kw = dict(kl_coef=0.05, gamma=1.0, lam=0.95)
    if not impl.startswith("loop"):
        backend, sep = impl.split("-")
        fn = lambda: rltrain_kernels.fused_reward_gae(  # noqa: E731
            inputs["token_ids"], inputs["mask"], inputs["values"], inputs["outcome"],
            separator_ids=[1, 2] if sep == "ids" else TEXT_STEPS,
            step_scores=inputs["step_scores"], logprobs=inputs["logprobs"], ref_logprobs=inputs["ref_logprobs"],
            shaping="clip_delta", backend=backend, **kw)
    else:
        loop = loop_reward_gae if impl == "loop" else verl_masked_loop_gae
        fn = lambda: loop(inputs["mask"], inputs["values"], inputs["outcome"], inputs["logprobs"],  # noqa: E731
                          inputs["ref_logprobs"], **kw)
    benchmark.group = f"reward_gae {B}x{T} ({bench_device.type})"
    benchmark.pedantic(synchronized(fn, bench_device), warmup_rounds=1,
                       rounds=3 if impl.startswith("loop") else 10, iterations=1)
    record_bandwidth(benchmark, bytes_moved(inputs))


def test_copy_bandwidth(benchmark, bench_device):
    """Device copy bandwidth (read + write), the yardstick for the GB/s above."""
    n = (1 << 28) if bench_device.type == "cuda" else (1 << 24)
    src = torch.empty(n, dtype=torch.float32, device=bench_device).uniform_()
    dst = torch.empty_like(src)
    benchmark.group = f"copy bandwidth ({bench_device.type})"
    benchmark.pedantic(synchronized(lambda: dst.copy_(src), bench_device), warmup_rounds=2, rounds=10)
    record_bandwidth(benchmark, 2 * n * 4)
