"""The policy-loss Triton kernels compile for an H100 (sm_90) without a GPU.

The interpreter runs the kernels' math in the other tests but accepts code that the
compiler rejects (non-constexpr globals, type mismatches). This compiles them ahead of
time to cubin for every flag combination the wrappers launch. It runs in a subprocess
without TRITON_INTERPRET, because Triton fixes interpreted-vs-compiled at import.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SKIP_EXIT = 3
FORWARD_FLAGS = [  # HAS_VALID, PPO, HAS_REF, HAS_DUAL, WRITE_GRAD
    (True, True, True, True, False),  # ppo_policy_loss forward
    (True, True, False, False, False),
    (False, True, True, True, True),  # linear_ppo_policy_loss chunk: loss + in-place grad
    (False, False, False, False, False),  # linear_logprobs
]


def _compile_all() -> None:
    import triton

    try:
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
    except ImportError as err:
        print(f"this Triton has no ASTSource / GPUTarget for ahead-of-time compiles: {err}")
        sys.exit(SKIP_EXIT)
    from kernels import policy_loss_triton as plt

    pointers = {"logits_ptr": "*bf16", "grad_ptr": "*bf16", "targets_ptr": "*i64", "valid_ptr": "*i8",
                "clipped_ptr": "*i8"}
    scalars = {"N": "i32", "V": "i32", "stride_l": "i64", "stride_g": "i64"}
    jobs = [(plt._fwd_kernel, dict(zip(("HAS_VALID", "PPO", "HAS_REF", "HAS_DUAL", "WRITE_GRAD"), flags)))
            for flags in FORWARD_FLAGS] + [(plt._bwd_kernel, {})]
    for kernel, flags in jobs:
        constexprs = dict(flags, BLOCK_N=1, BLOCK_V=4096)
        signature = {name: "constexpr" if name in constexprs else
                     (pointers.get(name, "*fp32") if name.endswith("_ptr") else scalars.get(name, "fp32"))
                     for name in kernel.arg_names}
        try:
            compiled = triton.compile(ASTSource(kernel, signature, constexprs=constexprs),
                                      target=GPUTarget("cuda", 90, 32), options={"num_warps": 8})
        except RuntimeError as err:
            if "ptxas" in str(err).lower():
                print(f"no usable ptxas in this Triton install: {err}")
                sys.exit(SKIP_EXIT)
            raise
        assert compiled.asm["cubin"], (kernel, flags)
        print("compiled", kernel.__name__, flags)


def test_kernels_compile_for_sm90():
    pytest.importorskip("triton", reason="needs the triton package")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = env.get("TRITON_DEFAULT_FP_FUSION", "1")
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode == SKIP_EXIT:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("compiled") == len(FORWARD_FLAGS) + 1


if __name__ == "__main__":
    _compile_all()
