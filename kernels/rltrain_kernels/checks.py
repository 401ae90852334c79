"""Argument checks shared by every op family: each failure is a ValueError naming the argument."""
from __future__ import annotations

import math
from typing import Sequence

import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
MASK_DTYPES = (torch.bool,) + INT_DTYPES + FLOAT_DTYPES


def check_tensor(
    op: str,
    name: str,
    x: object,
    *,
    ndim: int | None = None,
    shape: Sequence[int] | None = None,
    dtypes: Sequence[torch.dtype] | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{op}: `{name}` must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{op}: `{name}` must have {ndim} dimension(s), got shape {tuple(x.shape)}")
    if shape is not None and tuple(x.shape) != tuple(shape):
        raise ValueError(f"{op}: `{name}` must have shape {tuple(shape)}, got {tuple(x.shape)}")
    if dtypes is not None and x.dtype not in dtypes:
        names = ", ".join(str(d).replace("torch.", "") for d in dtypes)
        raise ValueError(f"{op}: `{name}` must have dtype in ({names}), got {x.dtype}")
    if device is not None and x.device != device:
        raise ValueError(f"{op}: `{name}` is on {x.device} but the other inputs are on {device}")
    return x


def check_finite_scalar(op: str, name: str, value: object, *, low: float | None = None,
                        high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{op}: `{name}` must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{op}: `{name}` must be finite, got {value}")
    if low is not None and value < low:
        raise ValueError(f"{op}: `{name}` must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{op}: `{name}` must be <= {high}, got {value}")
    return value
