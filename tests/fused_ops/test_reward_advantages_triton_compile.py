"""The critic-free estimator kernels compile for an H100 (sm_90) without a GPU: the shared reward
pass without values (return-to-go, row statistics, the per-reward sums) and the group pass."""
from __future__ import annotations

import pytest

from test_reward_gae_triton_compile import TYPES
from triton_aot import aot_compile, run_compile_script

pytestmark = pytest.mark.slow  # starts processes or trains models

PASS_FLAGS = [  # HAS_SCORES, HAS_KL, CLIP, DELTA, MIN_FORM, PER_REWARD, SIMPLE
    (True, True, True, True, False, False, True), (True, False, False, True, True, False, False),
    (True, True, True, False, False, True, True), (False, True, False, False, False, True, False),
    (True, False, True, True, True, True, True),
]
GROUP_FLAGS = [  # LEAVE_ONE_OUT, PER_REWARD, SCALE_STD
    (False, False, True), (False, False, False), (True, False, False), (False, True, True),
]


def _compile_all() -> None:
    from rltrain_kernels.rewards import triton_backend as rewards_triton

    for flags in PASS_FLAGS:
        constexprs = dict(zip(("HAS_SCORES", "HAS_KL", "CLIP", "DELTA", "MIN_FORM", "PER_REWARD", "SIMPLE"), flags),
                          HAS_VALUES=False, ROW_STATS=True, BLOCK=1024, KBLOCK=64)
        aot_compile(rewards_triton.reward_pass_kernel, TYPES, constexprs)
    for flags in GROUP_FLAGS:
        constexprs = dict(zip(("LEAVE_ONE_OUT", "PER_REWARD", "SCALE_STD"), flags), GBLOCK=64, BLOCK=1024)
        aot_compile(rewards_triton._group_advantage_kernel, TYPES, constexprs)


def test_kernels_compile_for_sm90():
    run_compile_script(__file__, expected=len(PASS_FLAGS) + len(GROUP_FLAGS))


if __name__ == "__main__":
    _compile_all()
