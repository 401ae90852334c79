"""Microbenchmarks of `rltrain_kernels.fused_reward_advantages` (GRPO, RLOO) against the Python loops of
the public trainers (bench/estimator_baselines.py).

    TRITON_INTERPRET=0 OMP_NUM_THREADS=1 pytest bench/test_bench_reward_advantages.py --benchmark-only

On a GPU: Triton, the torch reference and the loop at 1024 x 4096 (and smaller); on CPU: the
torch reference and the loop at 256 x 2048 (the Triton interpreter is a correctness tool, not a
timing one). The fused op does more than the loop: step segmentation (a plain id set, "ids", or a
text delimiter over token texts, "text": `rltrain_kernels.StepDelimiter`), Clip-Delta shaping of the
PRM's step scores, the KL penalty, the return-to-go, the grouped statistics and the advantages,
in one call; 8 samples per prompt.
"""
from __future__ import annotations

import pytest
import torch

import rltrain_kernels
from bench.estimator_baselines import loop_group_advantages
from bench.test_bench_reward_gae import TEXT_STEPS, bytes_moved, make_inputs
from bench.timing import record_bandwidth, synchronized

GPU_SIZES = [(256, 2048), (1024, 4096)]
CPU_SIZES = [(64, 512), (256, 2048)]
SIZES = GPU_SIZES if torch.cuda.is_available() else CPU_SIZES
KERNELS = (["triton"] if torch.cuda.is_available() else []) + ["torch"]
IMPLS = [f"{k}-{sep}" for k in KERNELS for sep in ("ids", "text")] + ["loop"]
GROUP = 8


@pytest.mark.parametrize("estimator", ["grpo", "rloo"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("B,T", SIZES, ids=[f"{b}x{t}" for b, t in SIZES])
def test_reward_advantages(benchmark, bench_device, estimator, impl, B, T):
    inputs = make_inputs(B, T, bench_device)
    if impl != "loop":
        backend, sep = impl.split("-")
        fn = lambda: rltrain_kernels.fused_reward_advantages(  # noqa: E731
            inputs["token_ids"], inputs["mask"], inputs["outcome"], estimator=estimator, group_size=GROUP,
            separator_ids=[1, 2] if sep == "ids" else TEXT_STEPS, step_scores=inputs["step_scores"],
            logprobs=inputs["logprobs"], ref_logprobs=inputs["ref_logprobs"], shaping="clip_delta", kl_coef=0.05,
            backend=backend)
    else:
        fn = lambda: loop_group_advantages(inputs["mask"], inputs["outcome"], inputs["logprobs"],  # noqa: E731
                                           inputs["ref_logprobs"], 0.05, 1.0, GROUP, estimator)
    benchmark.group = f"reward_advantages {estimator} {B}x{T} ({bench_device.type})"
    benchmark.pedantic(synchronized(fn, bench_device), warmup_rounds=1, rounds=3 if impl == "loop" else 10,
                       iterations=1)
    nbytes = bytes_moved({k: v for k, v in inputs.items() if k != "values"})
    record_bandwidth(benchmark, nbytes)


def test_loop_baseline_agrees_with_the_op_without_process_reward():
    """The loop and the op compute the same advantages where they do the same work (no PRM)."""
    inputs = make_inputs(16, 64, torch.device("cpu"))
    for estimator in ("grpo", "rloo"):
        want, returns = loop_group_advantages(inputs["mask"], inputs["outcome"], inputs["logprobs"],
                                              inputs["ref_logprobs"], 0.05, 1.0, GROUP, estimator)
        got = rltrain_kernels.fused_reward_advantages(inputs["token_ids"], inputs["mask"], inputs["outcome"],
                                              estimator=estimator, group_size=GROUP, logprobs=inputs["logprobs"],
                                              ref_logprobs=inputs["ref_logprobs"], kl_coef=0.05, std_floor=1e-6,
                                              backend="torch")
        torch.testing.assert_close(got.returns, returns, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got.advantages, want, rtol=1e-4, atol=1e-4)
