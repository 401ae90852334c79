"""Scans inside one Triton block for the step kernels: the automaton's state maps, GAE, and the
suffix minimum of min-form shaping.

Compiled, these are `tl.associative_scan` (warp shuffles). Triton's CPU interpreter runs
`tl.associative_scan` one element at a time in Python (only cumsum / cumprod are vectorised),
which made the interpreted step kernels ~5x slower; there the same combine functions run as a
Hillis-Steele scan of log2(BLOCK) vectorised rounds, each reading the partner element with
`tl.gather`. Both give the same result for an associative combine.
"""
from __future__ import annotations

import triton
import triton.language as tl

from rltrain_kernels.options import MAX_STATES

GATHER_SCAN = tl.constexpr(bool(triton.knobs.runtime.interpret))
_MAX_LOG_BLOCK = tl.constexpr(16)
_NUM_STATES = tl.constexpr(MAX_STATES)


@triton.jit
def compose_simple(earlier, later):
    """Packed simple maps (add flag * 16 + value): a constant map resets, an add map adds
    (saturating at 15, above any run state)."""
    added = tl.minimum((earlier & 15) + (later & 15), 15) | (earlier & 16)
    return tl.where((later & 16) != 0, added, later)


@triton.jit
def compose_maps(earlier, later):
    """4-bit state maps packed in int64: (later after earlier)(s) = later(earlier(s))."""
    out = tl.zeros_like(earlier)
    for s in tl.static_range(_NUM_STATES):
        mid = (earlier >> (4 * s)) & 15
        out = out | (((later >> (4 * mid)) & 15) << (4 * s))
    return out


@triton.jit
def affine_combine(a_later, b_later, a, b):
    """Reverse scan of y_t = b_t + a_t * y_{t+1}: the first pair is the suffix already folded."""
    return a_later * a, b_later * a + b


@triton.jit
def _gather_prefix(x, combine: tl.constexpr, BLOCK: tl.constexpr):
    idx = tl.arange(0, BLOCK)
    for k in tl.static_range(_MAX_LOG_BLOCK):
        if (1 << k) < BLOCK:
            earlier = tl.gather(x, tl.maximum(idx - (1 << k), 0), 0)
            x = tl.where(idx >= (1 << k), combine(earlier, x), x)
    return x


@triton.jit
def prefix_scan_states(x, SIMPLE: tl.constexpr, BLOCK: tl.constexpr):
    """Inclusive scan along the block of packed simple maps (SIMPLE) or packed 4-bit state maps."""
    if GATHER_SCAN:
        if SIMPLE:
            return _gather_prefix(x, compose_simple, BLOCK)
        else:
            return _gather_prefix(x, compose_maps, BLOCK)
    elif SIMPLE:
        return tl.associative_scan(x, 0, compose_simple)
    else:
        return tl.associative_scan(x, 0, compose_maps)


@triton.jit
def suffix_scan_affine(a, b, BLOCK: tl.constexpr):
    """(A_t, B_t) with y_t = B_t + A_t * y_after_block for y_t = b_t + a_t * y_{t+1}."""
    if GATHER_SCAN:
        idx = tl.arange(0, BLOCK)
        for k in tl.static_range(_MAX_LOG_BLOCK):
            if (1 << k) < BLOCK:
                partner = tl.minimum(idx + (1 << k), BLOCK - 1)
                new_a, new_b = affine_combine(tl.gather(a, partner, 0), tl.gather(b, partner, 0), a, b)
                has = idx + (1 << k) < BLOCK
                a, b = tl.where(has, new_a, a), tl.where(has, new_b, b)
        return a, b
    else:
        return tl.associative_scan((a, b), 0, affine_combine, reverse=True)


@triton.jit
def _minimum(a, b):
    return tl.minimum(a, b)


@triton.jit
def suffix_min(x, BLOCK: tl.constexpr):
    """y_t = min(x_t, ..., x_{BLOCK-1}) along the block."""
    if GATHER_SCAN:
        idx = tl.arange(0, BLOCK)
        for k in tl.static_range(_MAX_LOG_BLOCK):
            if (1 << k) < BLOCK:
                later = tl.gather(x, tl.minimum(idx + (1 << k), BLOCK - 1), 0)
                x = tl.where(idx + (1 << k) < BLOCK, tl.minimum(x, later), x)
        return x
    else:
        return tl.associative_scan(x, 0, _minimum, reverse=True)
