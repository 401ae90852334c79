import pytest
import torch

import rltrain_kernels
from conftest import backend_params

B, T = 2, 6


def good_args():
    tokens = torch.tensor([[4, 1, 5, 1, 6, 0], [4, 5, 6, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], dtype=torch.bool)
    return dict(token_ids=tokens, mask=mask, values=torch.zeros(B, T), outcome=torch.ones(B),
                separator_ids=[1], step_scores=torch.rand(B, 3), logprobs=torch.zeros(B, T),
                ref_logprobs=torch.zeros(B, T))


def call(backend, **changes):
    args = good_args()
    args.update(changes)
    return rltrain_kernels.fused_reward_gae(args.pop("token_ids"), args.pop("mask"), args.pop("values"),
                                    args.pop("outcome"), backend=backend, **args)


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("changes,name", [
    (dict(token_ids=torch.zeros(B, T)), "token_ids"),
    (dict(token_ids=torch.zeros(B, T, 1, dtype=torch.int64)), "token_ids"),
    (dict(mask=torch.ones(B, T + 1, dtype=torch.bool)), "mask"),
    (dict(mask=torch.tensor([[1, 0, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]])), "right-padded"),
    (dict(values=torch.zeros(B, T - 1)), "values"),
    (dict(values=torch.zeros(B, T, dtype=torch.int64)), "values"),
    (dict(values=torch.zeros(B, T, device="meta")), "values"),
    (dict(outcome=torch.ones(B + 1)), "outcome"),
    (dict(step_scores=torch.rand(B, 2)), "step_scores"),
    (dict(step_scores=torch.rand(B + 1, 3)), "step_scores"),
    (dict(step_scores=torch.rand(B)), "step_scores"),
    (dict(logprobs=torch.zeros(B, T - 1)), "logprobs"),
    (dict(ref_logprobs=None), "ref_logprobs"),
    (dict(shaping="clipped"), "shaping"),
    (dict(eta=float("nan")), "eta"),
    (dict(prm_coef=float("nan")), "prm_coef"),
    (dict(kl_coef=float("inf")), "kl_coef"),
    (dict(gamma=1.5), "gamma"),
    (dict(lam=-0.1), "lam"),
    (dict(gamma="0.9"), "gamma"),
    (dict(separator_ids=[-1]), "separator_ids"),
])
def test_bad_input_names_the_argument(backend, changes, name):
    with pytest.raises(ValueError, match=name):
        call(backend, **changes)


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        call("cuda")


def test_triton_without_gpu_or_interpreter_is_an_error(monkeypatch):
    import rltrain_kernels.dispatch as backend

    monkeypatch.setattr(backend, "triton_interpreting", lambda: False)
    with pytest.raises(ValueError, match="TRITON_INTERPRET"):
        call("triton")
    assert call("auto").advantages.shape == (B, T)  # auto falls back to the torch reference


def with_value(tensor: torch.Tensor, index: tuple, value: float) -> torch.Tensor:
    out = tensor.clone()
    out[index] = value
    return out


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("name,index,value,row", [
    ("step_scores", (0, 2), NAN, 0),   # row 0 has 3 steps: column 2 is read
    ("step_scores", (1, 0), -INF, 1),
    ("values", (1, 2), NAN, 1),
    ("values", (0, 0), INF, 0),
    ("outcome", (1,), NAN, 1),
    ("outcome", (0,), -INF, 0),
    ("logprobs", (0, 4), NAN, 0),
    ("ref_logprobs", (1, 1), INF, 1),
])
def test_non_finite_input_names_the_argument_and_row(backend, name, index, value, row):
    """A PRM, critic or sampler that emits NaN / inf is a bug to surface; both backends agree."""
    bad = with_value(good_args()[name], index, value)
    with pytest.raises(ValueError, match=rf"`{name}` has a NaN or infinite value.* row {row}$"):
        call(backend, **{name: bad})


@pytest.mark.parametrize("backend", backend_params())
def test_non_finite_values_where_nothing_reads_them_are_fine(backend):
    args = good_args()
    scores = with_value(with_value(args["step_scores"], (1, 1), NAN), (1, 2), INF)  # row 1 has one step
    values = with_value(args["values"], (0, 5), NAN)  # padding
    logp = with_value(args["logprobs"], (1, 4), -INF)  # padding
    out = call(backend, step_scores=scores, values=values, logprobs=logp)
    for t in (out.rewards, out.advantages, out.returns):
        assert bool(torch.isfinite(t).all())
    expected = call("torch")
    torch.testing.assert_close(out.advantages.cpu(), expected.advantages)


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("name,index,row", [("values", (0, 0), 0), ("outcome", (1,), 1), ("step_scores", (0, 1), 0),
                                            ("logprobs", (1, 2), 1)])
def test_float64_beyond_the_float32_range_is_non_finite_on_both_backends(backend, name, index, row):
    """The math runs in float32: 1e39 in a float64 input overflows there, so both backends refuse it."""
    bad = with_value(good_args()[name].double(), index, 1e39)
    with pytest.raises(ValueError, match=rf"`{name}` has a NaN or infinite value.* row {row}$"):
        call(backend, **{name: bad})


@pytest.mark.parametrize("backend", backend_params())
def test_several_bad_inputs_are_reported_in_the_same_order_by_both_backends(backend):
    args = good_args()
    with pytest.raises(ValueError, match="`outcome`"):
        call(backend, values=with_value(args["values"], (1, 2), NAN), outcome=with_value(args["outcome"], (1,), NAN))
    with pytest.raises(ValueError, match="`logprobs`"):
        call(backend, values=with_value(args["values"], (1, 2), NAN), logprobs=with_value(args["logprobs"], (0, 0), NAN))
    with pytest.raises(ValueError, match="`step_scores`"):
        call(backend, values=with_value(args["values"], (1, 2), NAN), step_scores=with_value(args["step_scores"], (1, 0), NAN))


def test_separator_ids_beyond_any_vocabulary_are_refused():
    with pytest.raises(ValueError, match="separator_ids"):
        call("torch", separator_ids=[10 ** 9])
