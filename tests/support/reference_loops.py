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


def _min_form(c, K):
    """PURE's min-form credit: m_k = min(c_k, ..., c_{K-1}), m_K = 0, step k gets m_k - m_{k+1}."""
    m = [0.0] * (K + 1)
    for k in range(K):
        m[k] = min(c[j] for j in range(k, K))
    return [m[k] - m[k + 1] for k in range(K)]


def loop_shaped(scores, K, shaping, eta):
    """Shaped rewards of one row's K steps, each mode written out from DESIGN.md. A mode added
    to kernels/rltrain_kernels/options.py needs its own definition here (KeyError until then)."""
    s = [float(x) for x in scores[:K]]
    clipped = [min(x - eta, 0.0) for x in s]
    modes = {
        "none": lambda: s,
        "clip": lambda: clipped,
        "delta": lambda: _telescoped(s, K),
        "clip_delta": lambda: _telescoped(clipped, K),
        "min_form": lambda: _min_form(s, K),
        "clip_min_form": lambda: _min_form(clipped, K),
    }
    if shaping not in modes:
        raise KeyError(f"tests/support/reference_loops.py has no definition of shaping mode {shaping!r}")
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


def _sample_std_stats(vals, scale_std, std_floor):
    """(mean, scale) of a list of values: sample std (ddof 1) floored at std_floor; (0, 1) for <= 1 value."""
    if len(vals) <= 1:
        return 0.0, 1.0
    mean = sum(vals) / len(vals)
    std = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5
    return mean, (1.0 / max(std, std_floor) if scale_std else 1.0)


def loop_critic_free(tokens, lengths, outcome, separators=(), scores=None, logp=None, ref=None,
                     shaping="clip_delta", eta=0.0, prm_coef=1.0, kl_coef=0.0, gamma=1.0, estimator="grpo",
                     group_size=None, scale_std=True, normalize="returns", std_floor=0.1):
    """numpy float64 in, (rewards, advantages, returns, num_steps) out: the critic-free estimators of
    docs/estimators.md written token by token. A row's rewards are events (position, value): each
    step's prm_coef * shaped_k at its boundary and the outcome at the last token; the KL penalty is
    a per-token term beside them."""
    B, T = tokens.shape
    kl = np.zeros((B, T))
    events = [[] for _ in range(B)]
    num_steps = np.zeros(B, dtype=np.int64)
    for b in range(B):
        L = int(lengths[b])
        bounds = loop_segments(tokens[b], L, separators)
        num_steps[b] = len(bounds)
        if logp is not None:
            for t in range(L):
                kl[b, t] = -kl_coef * (float(logp[b, t]) - float(ref[b, t]))
        if scores is not None:
            for t, shaped in zip(bounds, loop_shaped(scores[b], len(bounds), shaping, eta)):
                events[b].append((t, prm_coef * shaped))
        if L > 0:
            events[b].append((L - 1, float(outcome[b])))
    rewards = kl.copy()
    for b in range(B):
        for t, v in events[b]:
            rewards[b, t] += v

    def return_to_go(r, b):
        out, running = np.zeros(T), 0.0
        for t in reversed(range(int(lengths[b]))):
            running = r[t] + gamma * running
            out[t] = running
        return out

    returns = np.stack([return_to_go(rewards[b], b) for b in range(B)]) if B else np.zeros((0, T))
    full = [returns[b, 0] if int(lengths[b]) > 0 else 0.0 for b in range(B)]
    n = B if estimator == "reinforce_pp" else group_size
    adv = np.zeros((B, T))
    for first in range(0, B, max(n, 1)):
        group = list(range(first, first + n))
        if estimator == "rloo":
            for b in group:
                others = [full[j] for j in group if j != b]
                base = sum(others) / len(others) if others else 0.0
                adv[b, :int(lengths[b])] = returns[b, :int(lengths[b])] - base
        elif normalize == "rewards":
            mean, scale = _sample_std_stats([v for j in group for _, v in events[j]], scale_std, std_floor)
            for b in group:
                normalised = kl[b].copy()
                for t, v in events[b]:
                    normalised[t] += (v - mean) * scale
                adv[b] = return_to_go(normalised, b)
        else:
            mean, scale = _sample_std_stats([full[j] for j in group], scale_std or estimator == "reinforce_pp",
                                            std_floor)
            for b in group:
                adv[b, :int(lengths[b])] = (returns[b, :int(lengths[b])] - mean) * scale
    return rewards, adv, returns, num_steps
