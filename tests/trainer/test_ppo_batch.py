"""The padded rows of a rollout (Experience) and the PPO batch on them: row selection keeps every field aligned."""
from __future__ import annotations

import torch

from rltrain.data.records import MathProblem
from rltrain.ppo.experience import PPOBatch, build_experience
from rltrain.ppo.iteration import Rollout
from rltrain.rollout.types import RolloutOutput


def _out(tokens: list[int], finish: str = "stop") -> RolloutOutput:
    return RolloutOutput(tokens, -0.5 * torch.arange(1, len(tokens) + 1, dtype=torch.float32), finish)


PROMPTS = [[1, 2, 3], [4]]
OUTPUTS = [[_out([5, 6]), _out([7], "length")], [_out([8, 9, 10])]]


def test_rows_are_prompt_major_and_know_their_prompt():
    exp = build_experience(PROMPTS, OUTPUTS, pad_token_id=0)
    assert exp.size == 3 and exp.prompt_index.tolist() == [0, 0, 1]
    assert exp.input_ids.tolist() == [[1, 2, 3, 5, 6], [1, 2, 3, 7, 0], [4, 8, 9, 10, 0]]
    assert exp.response_ids.tolist() == [[5, 6, 0], [7, 0, 0], [8, 9, 10]]
    assert exp.gather_index[2].tolist() == [0, 1, 2] and exp.truncated.tolist() == [False, True, False]
    rollout = Rollout([MathProblem("t", "a", "q0", "1"), MathProblem("t", "b", "q1", "2")], ["P0", "P1"], OUTPUTS, exp)
    assert rollout.row_prompts() == ["P0", "P0", "P1"]


def test_select_trims_to_the_selected_rows_and_keeps_the_type():
    exp = build_experience(PROMPTS, OUTPUTS, pad_token_id=0)
    sub = exp.select([1])
    assert type(sub) is type(exp)
    assert sub.input_ids.tolist() == [[1, 2, 3, 7]] and sub.response_ids.tolist() == [[7]]
    assert sub.sampler_logprobs.tolist() == [[-0.5]] and sub.prompt_index.tolist() == [0]


def test_ppo_batch_targets_follow_their_rows():
    exp = build_experience(PROMPTS, OUTPUTS, pad_token_id=0)
    t = exp.response_ids.shape[1]
    target = [torch.arange(3 * t, dtype=torch.float32).reshape(3, t) + 100 * k for k in range(5)]
    batch = PPOBatch.of(exp, old_logprobs=target[0], ref_logprobs=target[1], values=target[2], returns=target[3],
                        advantages=target[4])
    sub = batch.select(torch.tensor([2, 0]))
    assert isinstance(sub, PPOBatch)
    assert sub.response_ids.tolist() == [[8, 9, 10], [5, 6, 0]] and sub.prompt_index.tolist() == [1, 0]
    for name, full in zip(("old_logprobs", "ref_logprobs", "values", "returns", "advantages"), target):
        assert torch.equal(getattr(sub, name), full[[2, 0]]), name
    moved = sub.to("cpu")
    assert isinstance(moved, PPOBatch) and torch.equal(moved.advantages, sub.advantages)
    short = batch.select([1])
    assert short.values.shape == (1, 1) and short.values.item() == target[2][1, 0].item()
