"""`fused_reward_advantages` refuses bad input with a ValueError naming the argument, on both backends."""
import pytest
import torch

import rltrain_kernels
from conftest import backend_params
from test_reward_gae_errors import B, INF, NAN, T, with_value
from test_reward_gae_errors import good_args as reward_gae_args


def good_args():
    """`fused_reward_gae`'s good arguments without values, as one GRPO group of two."""
    args = reward_gae_args()
    del args["values"]
    return dict(args, estimator="grpo", group_size=2)


def call(backend, **changes):
    args = good_args()
    args.update(changes)
    return rltrain_kernels.fused_reward_advantages(args.pop("token_ids"), args.pop("mask"), args.pop("outcome"),
                                           backend=backend, **args)


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("changes,name", [
    (dict(token_ids=torch.zeros(B, T)), "token_ids"),
    (dict(mask=torch.tensor([[1, 0, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]])), "right-padded"),
    (dict(outcome=torch.ones(B + 1)), "outcome"),
    (dict(step_scores=torch.rand(B, 2)), "step_scores"),
    (dict(logprobs=torch.zeros(B, T - 1)), "logprobs"),
    (dict(ref_logprobs=None), "ref_logprobs"),
    (dict(estimator="gae"), "estimator"),
    (dict(estimator="ppo"), "estimator"),
    (dict(group_size=None), "group_size"),
    (dict(group_size=0), "group_size"),
    (dict(group_size=True), "group_size"),
    (dict(group_size=2.0), "group_size"),
    (dict(group_size=3), "group_size"),
    (dict(estimator="rloo", group_size=4), "group_size"),
    (dict(estimator="reinforce_pp"), "group_size"),  # the batch is the group: group_size must be None
    (dict(normalize="tokens"), "normalize"),
    (dict(estimator="rloo", normalize="rewards"), "normalize"),
    (dict(scale_std=1), "scale_std"),
    (dict(std_floor=0.0), "std_floor"),
    (dict(std_floor=float("nan")), "std_floor"),
    (dict(shaping="min"), "shaping"),
    (dict(gamma=1.5), "gamma"),
    (dict(kl_coef=float("inf")), "kl_coef"),
])
def test_bad_input_names_the_argument(backend, changes, name):
    with pytest.raises(ValueError, match=name):
        call(backend, **changes)


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("shaping", ["clip_delta", "min_form"])
@pytest.mark.parametrize("name,index,value,row", [
    ("step_scores", (0, 2), NAN, 0),   # row 0 has 3 steps: column 2 is read
    ("step_scores", (1, 0), -INF, 1),
    ("outcome", (1,), NAN, 1),
    ("logprobs", (0, 4), NAN, 0),
    ("ref_logprobs", (1, 1), INF, 1),
])
def test_non_finite_input_names_the_argument_and_row(backend, shaping, name, index, value, row):
    bad = with_value(good_args()[name], index, value)
    with pytest.raises(ValueError, match=rf"`{name}` has a NaN or infinite value.* row {row}$"):
        call(backend, shaping=shaping, **{name: bad})


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("shaping", ["clip_delta", "min_form"])
def test_unread_non_finite_entries_are_fine(backend, shaping):
    args = good_args()
    scores = with_value(with_value(args["step_scores"], (1, 1), NAN), (1, 2), INF)  # row 1 has one step
    logp = with_value(args["logprobs"], (1, 4), -INF)  # padding
    out = call(backend, step_scores=scores, logprobs=logp, shaping=shaping)
    assert bool(torch.isfinite(out.advantages).all()) and bool(torch.isfinite(out.returns).all())
    finite = call("torch", step_scores=with_value(scores, (1, 1), 7.0).nan_to_num(posinf=7.0), shaping=shaping)
    torch.testing.assert_close(out.advantages.cpu(), finite.advantages)
