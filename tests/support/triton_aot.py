"""Ahead-of-time compilation of Triton kernels for an H100 (sm_90), without a GPU.

The interpreter runs a kernel's math in the other tests but accepts code the compiler
rejects (non-constexpr globals, type mismatches, unsupported scans). Compiling to cubin
catches those. Triton fixes interpreted-vs-compiled at import, so compilation runs in a
subprocess without TRITON_INTERPRET.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SKIP_EXIT = 3


def aot_compile(kernel, types: dict[str, str], constexprs: dict, num_warps: int = 4) -> None:
    """Compile `kernel` for sm_90; argument types from `types` (default "fp32" for scalars,
    "*fp32" for *_ptr names). Exits with SKIP_EXIT when this Triton cannot compile ahead of time."""
    import triton

    try:
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
    except ImportError as err:
        print(f"this Triton has no ASTSource / GPUTarget for ahead-of-time compiles: {err}")
        sys.exit(SKIP_EXIT)
    signature = {name: "constexpr" if name in constexprs else
                 types.get(name, "*fp32" if name.endswith("_ptr") else "fp32")
                 for name in kernel.arg_names}
    try:
        compiled = triton.compile(ASTSource(kernel, signature, constexprs=constexprs),
                                  target=GPUTarget("cuda", 90, 32), options={"num_warps": num_warps})
    except RuntimeError as err:
        if "ptxas" in str(err).lower():
            print(f"no usable ptxas in this Triton install: {err}")
            sys.exit(SKIP_EXIT)
        raise
    assert compiled.asm["cubin"], (kernel, constexprs)
    print("compiled", kernel.__name__, constexprs)


def run_compile_script(script: str, expected: int) -> None:
    """Run `script` (a test file whose __main__ compiles kernels) and check `expected` compiles."""
    pytest.importorskip("triton", reason="needs the triton package")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "kernels"), str(root / "tests" / "support")] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode == SKIP_EXIT:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("compiled") == expected, proc.stdout
