"""Independent float64 definitions written straight from DESIGN.md, one token at a time.

Deliberately naive (Python loops over rows, steps and tokens) so that they share no code
or vectorisation trick with the backends under test.
"""
from __future__ import annotations

import numpy as np


def loop_segments(tokens, length, separators):
    """Boundary positions of one row: a step closes at the last token of a separator run, or at L-1."""
    seps = set(int(s) for s in separators)
    bounds = []
    for t in range(length):
        is_sep = int(tokens[t]) in seps
        next_is_sep = t + 1 < length and int(tokens[t + 1]) in seps
        if t == length - 1 or (is_sep and not next_is_sep):
            bounds.append(t)
    return bounds


def _telescoped(c, K):
    shaped = [0.0] * K
    for k in range(K):
        if k == K - 1:
            shaped[k] = c[k]
        else:
            shaped[k] = c[k] - c[k + 1]
    return shaped


def loop_shaped(scores, K, shaping, eta):
    """Shaped rewards of one row's K steps, each mode written out from DESIGN.md. A mode added
    to kernels/shaping.py needs its own definition here (KeyError until then)."""
    s = [float(x) for x in scores[:K]]
    clipped = [min(x - eta, 0.0) for x in s]
    modes = {
        "none": lambda: s,
        "clip": lambda: clipped,
        "delta": lambda: _telescoped(s, K),
        "clip_delta": lambda: _telescoped(clipped, K),
    }
    if shaping not in modes:
        raise KeyError(f"tests/reference_loops.py has no definition of shaping mode {shaping!r}")
    return modes[shaping]()


def loop_reward_gae(tokens, lengths, values, outcome, separators=(), scores=None, logp=None, ref=None,
                    shaping="clip_delta", eta=0.0, prm_coef=1.0, kl_coef=0.0, gamma=1.0, lam=1.0):
    """numpy float64 in, (rewards, advantages, returns, num_steps) out."""
    B, T = tokens.shape
    rewards = np.zeros((B, T))
    adv = np.zeros((B, T))
    ret = np.zeros((B, T))
    num_steps = np.zeros(B, dtype=np.int64)
    for b in range(B):
        L = int(lengths[b])
        bounds = loop_segments(tokens[b], L, separators)
        num_steps[b] = len(bounds)
        for t in range(L):
            if logp is not None:
                rewards[b, t] -= kl_coef * (float(logp[b, t]) - float(ref[b, t]))
        if scores is not None:
            shaped = loop_shaped(scores[b], len(bounds), shaping, eta)
            for k, t in enumerate(bounds):
                rewards[b, t] += prm_coef * shaped[k]
        if L > 0:
            rewards[b, L - 1] += float(outcome[b])
        running = 0.0
        for t in reversed(range(L)):
            v_next = float(values[b, t + 1]) if t + 1 < L else 0.0
            delta = rewards[b, t] + gamma * v_next - float(values[b, t])
            running = delta + gamma * lam * running
            adv[b, t] = running
            ret[b, t] = running + float(values[b, t])
    return rewards, adv, ret, num_steps


def loop_process_return(tokens, lengths, separators=(), scores=None, shaping="clip_delta", eta=0.0,
                        prm_coef=1.0):
    """[B] float64: per row, the sum over its steps of prm_coef * shaped_k (0 without scores)."""
    B = tokens.shape[0]
    out = np.zeros(B)
    if scores is None:
        return out
    for b in range(B):
        bounds = loop_segments(tokens[b], int(lengths[b]), separators)
        for shaped in loop_shaped(scores[b], len(bounds), shaping, eta):
            out[b] += prm_coef * shaped
    return out
