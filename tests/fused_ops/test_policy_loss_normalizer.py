"""A tensor `normalizer` <= 0 (or NaN / inf) would flip the loss's sign or blow it up: both policy-loss
front ends raise, in the one host sync they make anyway, before any loss is returned."""
from __future__ import annotations

import pytest
import torch

from rltrain_kernels import linear_ppo_policy_loss, ppo_policy_loss
from policy_loss_reference import BACKENDS, FULL, make_tokens

SHAPE, HIDDEN, VOCAB = (2, 5), 8, 37


def _inputs():
    g = torch.Generator().manual_seed(5)
    hidden, weight = torch.randn(*SHAPE, HIDDEN, generator=g), torch.randn(VOCAB, HIDDEN, generator=g)
    tokens = make_tokens(SHAPE, VOCAB, lambda: hidden.double() @ weight.double().T, temperature=FULL["temperature"],
                         seed=5)
    return hidden.requires_grad_(), weight.requires_grad_(), tokens


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [0.0, -3.0, float("nan"), float("inf")])
def test_bad_tensor_normalizer_raises(backend, value):
    hidden, weight, tokens = _inputs()
    normalizer = torch.tensor(value)
    message = rf"`normalizer` must be a finite number > 0, got {value} \(a tensor\)"
    with pytest.raises(ValueError, match=rf"^ppo_policy_loss: {message}"):
        ppo_policy_loss(hidden @ weight.T, **tokens, **FULL, normalizer=normalizer, backend=backend)
    with pytest.raises(ValueError, match=rf"^linear_ppo_policy_loss: {message}"):
        linear_ppo_policy_loss(hidden, weight, **tokens, **FULL, normalizer=normalizer, backend=backend)
    assert hidden.grad is None and weight.grad is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_good_tensor_normalizer_matches_the_number(backend):
    hidden, weight, tokens = _inputs()
    as_tensor = ppo_policy_loss(hidden @ weight.T, **tokens, **FULL, normalizer=torch.tensor(7), backend=backend)
    as_number = ppo_policy_loss(hidden @ weight.T, **tokens, **FULL, normalizer=7.0, backend=backend)
    torch.testing.assert_close(as_tensor.loss, as_number.loss, rtol=0, atol=0)
