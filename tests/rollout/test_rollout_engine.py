"""The built-in transformers engine on a tiny random model."""
import pytest
import torch

from rltrain.batching import plan_batches
from rltrain.data import encode_prompts
from rltrain.models.tiny import build_tiny
from rltrain.rollout import HFRolloutEngine, RolloutOutput, SamplingParams
from teacher_forcing import teacher_forced_logprobs

QUESTIONS = ["1+1?", "What is twelve plus seven, times three? Think step by step.", "Add 4 and 5."]


@pytest.fixture(scope="module")
def tiny():
    model, tok = build_tiny(seed=0)
    return model, tok, encode_prompts(tok, QUESTIONS)


@pytest.fixture
def engine(tiny):
    model, tok, _ = tiny
    return HFRolloutEngine.from_tokenizer(model, tok)


def test_sampling_shapes(tiny, engine):
    _, tok, prompts = tiny
    out = engine.generate(prompts, SamplingParams(n=3, temperature=1.0, max_new_tokens=9, seed=0))
    assert len(out) == 3 and all(len(per) == 3 for per in out)
    for per in out:
        for o in per:
            assert isinstance(o, RolloutOutput) and 1 <= len(o.token_ids) <= 9
            assert o.logprobs.dtype == torch.float32 and o.logprobs.shape == (len(o.token_ids),)
            assert bool((o.logprobs <= 0).all())
            stopped = o.token_ids[-1] == tok.eos_token_id
            assert o.finish_reason == ("stop" if stopped else "length")
            assert tok.eos_token_id not in o.token_ids[:-1]
            assert stopped or len(o.token_ids) == 9


@pytest.mark.parametrize("temperature, top_p, budget", [(1.0, 1.0, 100_000), (0.7, 0.9, 100_000), (0.0, 1.0, 100_000),
                                                        (1.3, 0.8, 120)])
def test_logprobs_equal_teacher_forced(tiny, temperature, top_p, budget):
    model, tok, prompts = tiny
    engine = HFRolloutEngine.from_tokenizer(model, tok, token_budget=budget)  # left-padded mixed lengths
    params = SamplingParams(n=2, temperature=temperature, top_p=top_p, max_new_tokens=10, seed=3)
    for prompt, per in zip(prompts, engine.generate(prompts, params)):
        for o in per:
            expected = teacher_forced_logprobs(model, prompt, o.token_ids, temperature)
            torch.testing.assert_close(o.logprobs, expected, atol=2e-5, rtol=1e-5)


def test_greedy_is_the_argmax_and_identical_across_samples(tiny, engine):
    model, _, prompts = tiny
    out = engine.generate(prompts[:1], SamplingParams(n=2, temperature=0.0, max_new_tokens=5))[0]
    assert out[0].token_ids == out[1].token_ids
    ids = torch.tensor([prompts[0] + out[0].token_ids])
    with torch.no_grad():
        argmax = model(ids).logits[0, len(prompts[0]) - 1:-1].argmax(-1).tolist()
    assert argmax == out[0].token_ids


def test_stop_tokens_end_a_sample_and_are_kept(tiny, engine):
    _, _, prompts = tiny
    free = engine.generate(prompts[:1], SamplingParams(n=1, temperature=0.0, max_new_tokens=6))[0][0]
    stop_at = free.token_ids[2]
    first = free.token_ids.index(stop_at)
    stopped = engine.generate(prompts[:1], SamplingParams(n=1, temperature=0.0, max_new_tokens=6,
                                                          stop_token_ids=(stop_at,)))[0][0]
    assert stopped.token_ids == free.token_ids[:first + 1] and stopped.finish_reason == "stop"
    assert free.finish_reason in ("stop", "length")


def test_seed_reproducible_and_seeds_differ(tiny, engine):
    _, _, prompts = tiny
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=8, seed=11)
    a = engine.generate(prompts, params)
    b = engine.generate(prompts, params)
    c = engine.generate(prompts, SamplingParams(n=4, temperature=1.0, max_new_tokens=8, seed=12))
    ids = lambda out: [o.token_ids for per in out for o in per]  # noqa: E731
    assert ids(a) == ids(b) and ids(a) != ids(c)
    state = torch.random.get_rng_state()
    engine.generate(prompts[:1], params)
    assert torch.equal(state, torch.random.get_rng_state())  # a seeded call leaves the global RNG alone


def test_update_weights(tiny):
    model, tok, prompts = tiny
    fresh, _ = build_tiny(seed=1)
    engine = HFRolloutEngine.from_tokenizer(build_tiny(seed=0)[0], tok)
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=6)
    engine.update_weights(fresh.state_dict().items())
    reference = HFRolloutEngine.from_tokenizer(fresh, tok).generate(prompts, params)
    assert [o.token_ids for per in engine.generate(prompts, params) for o in per] == \
        [o.token_ids for per in reference for o in per]
    with pytest.raises(ValueError, match="unknown tensor name"):
        engine.update_weights([("nope.weight", torch.zeros(1))])
    with pytest.raises(ValueError, match="shape"):
        engine.update_weights([("lm_head.weight", torch.zeros(3, 3))])


def test_plan_batches_respects_the_token_budget():
    lengths = [5, 50, 7, 30, 5, 200]
    batches = plan_batches(lengths, max_new_tokens=10, token_budget=100)
    assert sorted(i for b in batches for i in b) == list(range(6))
    for b in batches:
        assert len(b) == 1 or len(b) * (max(lengths[i] for i in b) + 10) <= 100


@pytest.mark.parametrize("kwargs, name", [({"n": 0}, "n"), ({"temperature": -1.0}, "temperature"),
                                          ({"top_p": 0.0}, "top_p"), ({"max_new_tokens": 0}, "max_new_tokens"),
                                          ({"stop_token_ids": (-1,)}, "stop_token_ids"), ({"seed": 1.5}, "seed")])
def test_sampling_params_validation(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SamplingParams(**kwargs)


def test_bad_prompts(engine):
    with pytest.raises(ValueError, match=r"prompts\[1\]"):
        engine.generate([[1, 2], []], SamplingParams())
    with pytest.raises(ValueError, match="outside"):
        engine.generate([[10**7]], SamplingParams())
