"""The segmentation and fused reward/GAE kernels (the shared reward pass with values) compile for
an H100 (sm_90) without a GPU."""
from __future__ import annotations

import pytest

from triton_aot import aot_compile, run_compile_script

pytestmark = pytest.mark.slow  # starts processes or trains models

REWARD_FLAGS = [  # HAS_SCORES, HAS_KL, CLIP, DELTA, MIN_FORM, SIMPLE: each branch compiled at least once, on and off
    (True, True, True, True, False, True), (True, False, False, True, False, False),
    (True, True, True, False, False, True), (False, True, False, False, False, False),
    (False, False, False, False, False, True), (True, True, True, True, True, False),
]
GAE = {"HAS_VALUES": True, "ROW_STATS": False, "PER_REWARD": False}
TYPES = {"tok_ptr": "*i64", "mask_ptr": "*u8", "table_ptr": "*i64", "values_ptr": "*bf16", "logp_ptr": "*fp32",
         "ref_ptr": "*fp32", "nsteps_ptr": "*i32", "process_ptr": "*fp32", "gaps_ptr": "*i32", "status_ptr": "*i32",
         "step_ptr": "*i32", "bnd_ptr": "*i8", "table_size": "i32", "run": "i32", "T": "i32", "K_cols": "i32",
         "B": "i32", "group_size": "i32"}
TYPES.update({name: "i64" for name in ("stride_tok", "stride_mask", "stride_val", "stride_scores", "stride_logp",
                                       "stride_ref", "stride_out")})


def _compile_all() -> None:
    from rltrain_kernels.rewards import triton_backend as rewards_triton
    from rltrain_kernels.steps import triton_backend as steps_triton

    for simple in (True, False):
        aot_compile(steps_triton._segment_kernel, TYPES, {"SIMPLE": simple, "BLOCK": 1024})
    for flags in REWARD_FLAGS:
        constexprs = dict(zip(("HAS_SCORES", "HAS_KL", "CLIP", "DELTA", "MIN_FORM", "SIMPLE"), flags), **GAE,
                          BLOCK=1024, KBLOCK=64)
        aot_compile(rewards_triton.reward_pass_kernel, TYPES, constexprs)


def test_kernels_compile_for_sm90():
    run_compile_script(__file__, expected=2 + len(REWARD_FLAGS))


if __name__ == "__main__":
    _compile_all()
