"""The one backend dispatch of every public op: "auto" | "triton" | "torch".

Each op family (steps, rewards, policy_loss) has a `torch_backend` and a `triton_backend`
module with the same functions; `backend_module` picks one for the tensors' device and the
op calls it.

`auto` runs Triton on CUDA tensors; on CPU tensors it runs Triton's interpreter when
TRITON_INTERPRET=1 (read when the Triton kernels are first imported), else the torch
reference. Asking for "triton" where it cannot run is a ValueError, never a silent fallback.
The Triton modules are imported only when chosen, so the torch path never imports triton.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import os
from types import ModuleType

import torch

from rltrain_kernels.options import BACKENDS

FAMILIES = ("steps", "rewards", "policy_loss")


@functools.lru_cache(maxsize=None)
def triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def triton_interpreting() -> bool:
    """True when Triton kernels run in the CPU interpreter (TRITON_INTERPRET=1)."""
    if not triton_installed():
        return False
    import triton  # noqa: F401  (triton.knobs exists from 3.2 on)

    knobs = getattr(triton, "knobs", None)
    if knobs is not None:
        return bool(knobs.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def resolve_backend(backend: str, device: torch.device, op: str) -> str:
    """Return "triton" or "torch" for tensors on `device`, or raise ValueError."""
    if backend not in BACKENDS:
        raise ValueError(f"{op}: backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch":
        return "torch"
    on_cuda = device.type == "cuda"
    can_triton = triton_installed() and (on_cuda or (device.type == "cpu" and triton_interpreting()))
    if backend == "auto":
        return "triton" if can_triton else "torch"
    if not triton_installed():
        raise ValueError(f"{op}: backend='triton' needs the `triton` package, which is not installed")
    if not can_triton:
        raise ValueError(
            f"{op}: backend='triton' needs CUDA tensors, or TRITON_INTERPRET=1 for CPU tensors "
            f"(got tensors on {device})"
        )
    return "triton"


def backend_module(family: str, backend: str, device: torch.device, op: str) -> ModuleType:
    """The `torch_backend` or `triton_backend` module of op family `family` for tensors on
    `device` (`resolve_backend`'s choice); ValueError as `resolve_backend`."""
    if family not in FAMILIES:
        raise ValueError(f"{op}: unknown op family {family!r} (one of {FAMILIES})")
    choice = resolve_backend(backend, device, op)
    return importlib.import_module(f"rltrain_kernels.{family}.{choice}_backend")
