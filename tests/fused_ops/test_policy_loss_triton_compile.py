"""The policy-loss Triton kernels compile for an H100 (sm_90) without a GPU.

The interpreter runs the kernels' math in the other tests but accepts code that the
compiler rejects (non-constexpr globals, type mismatches). This compiles them ahead of
time to cubin for every flag combination the wrappers launch. It runs in a subprocess
without TRITON_INTERPRET, because Triton fixes interpreted-vs-compiled at import.
"""
from __future__ import annotations

import pytest

from triton_aot import aot_compile, run_compile_script

pytestmark = pytest.mark.slow  # starts processes or trains models

FORWARD_FLAGS = [  # HAS_VALID, PPO, HAS_REF, HAS_DUAL, WRITE_GRAD
    (True, True, True, True, False),  # ppo_policy_loss forward
    (True, True, False, False, False),
    (False, True, True, True, True),  # linear_ppo_policy_loss chunk: loss + in-place grad
    (False, False, False, False, False),  # linear_logprobs
]


def _compile_all() -> None:
    from rltrain_kernels.policy_loss import triton_backend as plt

    types = {"logits_ptr": "*bf16", "grad_ptr": "*bf16", "targets_ptr": "*i64", "valid_ptr": "*i8",
             "clipped_ptr": "*i8", "N": "i32", "V": "i32", "stride_l": "i64", "stride_g": "i64"}
    jobs = [(plt._fwd_kernel, dict(zip(("HAS_VALID", "PPO", "HAS_REF", "HAS_DUAL", "WRITE_GRAD"), flags)))
            for flags in FORWARD_FLAGS] + [(plt._bwd_kernel, {})]
    for kernel, flags in jobs:
        aot_compile(kernel, types, dict(flags, BLOCK_N=1, BLOCK_V=4096), num_warps=8)


def test_kernels_compile_for_sm90():
    run_compile_script(__file__, expected=len(FORWARD_FLAGS) + 1)


if __name__ == "__main__":
    _compile_all()
