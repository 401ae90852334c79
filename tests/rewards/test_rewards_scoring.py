"""PRM / ORM scorers: tag placement and read-out positions, re-tokenization, padding, zero- and
one-step responses, value-head save / load, bad input."""
import pytest
import torch
from rm_synthetic import word_tokenizer
from scoring_batches import policy_batch
from torch import nn

from rltrain.data import separator_token_ids
from rltrain.models.tiny import TinyModelConfig, build_tiny_model, build_tiny_tokenizer, save_tiny
from rltrain.rewards import (MissingTokenError, MissingValueHeadError, OutcomeRewardScorer, ProcessRewardScorer,
                             RenderConfig, StepTagLM, StepTagTokens, UnknownRewardModelError, ValueHeadModel, load_orm,
                             load_prm)

SMALL = TinyModelConfig(hidden_size=64, intermediate_size=64, num_hidden_layers=1)
RESPONSES = ["1 + 2 = 3\n\n3 * 2 = 6\n\n\\boxed{6}", "5 - 1 = 4", "", "7 + 1 = 8\n\n\\boxed{8}"]
PROMPTS = ["Start with 1. Add 2, then multiply by 2.", "Start with 5. Subtract 1.", "Empty.", "Start with 7."]


class Probe(nn.Module):
    """A token-logit model whose logit at t is token_id[t] / 2000 (+ the number of tags seen
    so far), so a score read back names the token (and tag count) it was read at."""

    def __init__(self, tag_id=None):
        super().__init__()
        self.tag_id = tag_id
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, ids, mask):
        z = ids.float() / 2000
        if self.tag_id is not None:
            z = z + torch.cumsum((ids == self.tag_id).float(), dim=1)
        return z


def read_back(scores):
    return torch.logit(scores.double())


@pytest.fixture(scope="module")
def policy_tok():
    tok = build_tiny_tokenizer()
    tok.add_tokens([" ки"])
    return tok


def make_batch(tok, responses=RESPONSES, prompts=PROMPTS, stop=False):
    """The responses as token ids; stop=True ends each with the stop (EOS) token, as a sampler does."""
    return policy_batch(tok, responses, prompts, stop=stop)


def test_step_tag_placement_and_read_positions(policy_tok):
    tag = policy_tok.encode(" ки")[0]
    batch = make_batch(policy_tok)
    assert batch.segments.num_steps.tolist() == [3, 1, 0, 2]
    scorer = ProcessRewardScorer(Probe(tag), policy_tok, tag_id=tag, render=RenderConfig.math_shepherd())
    rows = scorer.rows(batch)
    text = policy_tok.decode(rows[0].input_ids)
    assert text == PROMPTS[0] + " 1 + 2 = 3 ки\n3 * 2 = 6 ки\n\\boxed{6} ки"
    scores = scorer.score_steps(batch)
    assert scores.shape == (4, 3) and scores.dtype == torch.float32
    z = read_back(scores)
    for b, n in enumerate(batch.segments.num_steps.tolist()):
        for k in range(n):  # read at the (k+1)-th tag, and at a tag token
            assert z[b, k].item() == pytest.approx((k + 1) + tag / 2000, abs=2e-4)
        assert (scores[b, n:] == 0).all()


@pytest.mark.parametrize("kind", ["value-head", "step-tag"])
def test_scoring_rows_are_the_training_rows_without_special_tokens(policy_tok, kind):
    """At PPO time a reward model reads exactly the rows its training data builds (no stop token)."""
    from rltrain.rewards.render import split_steps
    from rltrain.reward_training.training import (OutcomeExample, StepExample, encode_outcome_examples,
                                          encode_step_examples)

    batch = make_batch(policy_tok, stop=True)
    assert batch.segments.num_steps.tolist() == [3, 1, 1, 2]  # the stop token joins the last step
    special = set(policy_tok.all_special_ids)
    for b, steps in enumerate(batch.step_texts):
        assert "".join(steps) == RESPONSES[b] == policy_tok.decode(batch.response_ids[b], skip_special_tokens=True)
        assert steps == (split_steps(RESPONSES[b]) or [""])
        last = int(torch.nonzero(batch.segments.is_boundary[b]).flatten()[-1])
        assert int(batch.response_ids[b, last]) == policy_tok.eos_token_id  # the reward still lands there
    tag = policy_tok.encode(" ки")[0] if kind == "step-tag" else None
    render = RenderConfig.math_shepherd() if tag is not None else RenderConfig()
    scorer = ProcessRewardScorer(Probe(tag), policy_tok, tag_id=tag, render=render)
    examples = [StepExample(p, list(steps), [1.0] * len(steps)) for p, steps in zip(PROMPTS, batch.step_texts)]
    training = encode_step_examples(policy_tok, examples, render, tag)
    assert [r.row for r in training] == scorer.rows(batch)
    for row in scorer.rows(batch):
        assert not special & set(row.input_ids)
    orm_rows = OutcomeRewardScorer(Probe(), policy_tok).rows(batch)
    outcome = encode_outcome_examples(policy_tok, [OutcomeExample(p, r, 1.0) for p, r in zip(PROMPTS, RESPONSES)])
    assert [r.row for r in outcome] == orm_rows


def test_retokenization_maps_scores_back_when_tokenizers_differ(policy_tok):
    batch = make_batch(policy_tok)
    prm_tok = word_tokenizer()
    scorer = ProcessRewardScorer(Probe(), prm_tok)
    z = read_back(scorer.score_steps(batch))
    for b, steps in enumerate(batch.step_texts):
        for k, step in enumerate(steps):  # step k is read at the last word-level token of step k's text
            last = prm_tok(step, add_special_tokens=False)["input_ids"][-1]
            assert z[b, k].item() == pytest.approx(last / 2000, abs=2e-4)
    assert scorer.rows(batch)[0].input_ids == prm_tok(PROMPTS[0] + RESPONSES[0])["input_ids"]


def test_padding_and_micro_batches_do_not_change_scores(policy_tok):
    torch.manual_seed(0)
    backbone = build_tiny_model(len(policy_tok), SMALL, pad_token_id=policy_tok.pad_token_id).model
    model = ValueHeadModel(backbone)
    batch = make_batch(policy_tok)
    whole = ProcessRewardScorer(model, policy_tok, token_budget=100_000).score_steps(batch)
    tiny_budget = ProcessRewardScorer(model, policy_tok, token_budget=1).score_steps(batch)
    torch.testing.assert_close(whole, tiny_budget, atol=1e-5, rtol=1e-5)
    for b in range(batch.size):  # each response alone
        alone = make_batch(policy_tok, RESPONSES[b:b + 1], PROMPTS[b:b + 1])
        one = ProcessRewardScorer(model, policy_tok).score_steps(alone)
        n = max(1, int(batch.segments.num_steps[b]))
        torch.testing.assert_close(one[0, :n], whole[b, :n], atol=1e-5, rtol=1e-5)
    orm = OutcomeRewardScorer(model, policy_tok, token_budget=1)
    out = orm.score(batch)
    assert out.shape == (4,) and ((out > 0) & (out < 1)).all()
    torch.testing.assert_close(out, OutcomeRewardScorer(model, policy_tok).score(make_batch(policy_tok, stop=True)),
                               atol=1e-5, rtol=1e-5)  # a trailing stop token changes nothing


def test_zero_and_one_step_batches(policy_tok):
    scorer = ProcessRewardScorer(Probe(), policy_tok)
    empty = make_batch(policy_tok, ["", ""], ["a", "b"])
    assert torch.equal(scorer.score_steps(empty), torch.zeros(2, 1))
    one = make_batch(policy_tok, ["5 - 1 = 4"], ["a"])
    assert scorer.score_steps(one).shape == (1, 1)
    orm = OutcomeRewardScorer(Probe(), policy_tok)  # an empty response is read at the prompt's last token
    last_prompt = policy_tok("b", add_special_tokens=False)["input_ids"][-1]
    assert read_back(orm.score(empty))[1].item() == pytest.approx(last_prompt / 2000, abs=2e-4)


def test_step_tag_lm_is_the_softmax_over_the_two_label_logits(policy_tok):
    lm = build_tiny_model(len(policy_tok), SMALL, seed=3, pad_token_id=policy_tok.pad_token_id)
    tokens = StepTagTokens.resolve(policy_tok, vocab_size=len(policy_tok))
    batch = make_batch(policy_tok)
    scorer = ProcessRewardScorer(StepTagLM(lm, tokens), policy_tok, tag_id=tokens.tag,
                                 render=RenderConfig.math_shepherd())
    scores = scorer.score_steps(batch)
    for b, row in enumerate(scorer.rows(batch)):
        with torch.no_grad():
            logits = lm(torch.tensor([row.input_ids])).logits[0]
        ref = logits[row.positions][:, [tokens.good, tokens.bad]].softmax(-1)[:, 0]
        torch.testing.assert_close(scores[b, :len(ref)], ref, atol=1e-5, rtol=1e-5)


def test_missing_tag_or_label_tokens_raise():
    tok = build_tiny_tokenizer()  # no " ки" token
    with pytest.raises(MissingTokenError, match="step tag"):
        StepTagTokens.resolve(tok)
    tok.add_tokens([" ки"])
    with pytest.raises(MissingTokenError, match="good label"):
        StepTagTokens.resolve(tok, good="positive")
    with pytest.raises(MissingTokenError, match="vocabulary"):
        StepTagTokens.resolve(tok, vocab_size=10)


def test_value_head_save_load_and_plain_checkpoint_errors(policy_tok, tmp_path):
    lm = build_tiny_model(len(policy_tok), SMALL, pad_token_id=policy_tok.pad_token_id)
    plain = save_tiny(lm, policy_tok, tmp_path / "plain")
    with pytest.raises(MissingValueHeadError, match="no value head"):
        ValueHeadModel.from_pretrained(plain)
    with pytest.raises(UnknownRewardModelError, match="looked for value_head.safetensors"):
        load_orm(plain)  # a plain causal LM is no ORM layout
    with pytest.raises(FileNotFoundError, match="not found"):
        load_prm(tmp_path / "nowhere")
    step_tag = load_prm(plain, policy_tokenizer=policy_tok)  # no head: a step-tag PRM
    assert step_tag.tag_id == policy_tok.encode(" ки")[0]

    model = ValueHeadModel.from_backbone(plain, metadata={"role": "prm"})
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():  # the backbone is the LM's own base model, pretrained weights loaded
        torch.testing.assert_close(model.hidden_states(ids), lm.model(ids).last_hidden_state)
    before = model(ids, torch.ones_like(ids))
    model.save_pretrained(tmp_path / "vh", tokenizer=policy_tok)
    loaded = ValueHeadModel.from_pretrained(tmp_path / "vh")
    torch.testing.assert_close(loaded(ids, torch.ones_like(ids)), before)
    assert loaded.metadata == {"role": "prm"}
    prm = load_prm(tmp_path / "vh", policy_tokenizer=policy_tok)
    assert prm.tag_id is None
    batch = make_batch(policy_tok)
    assert load_orm(tmp_path / "vh").score(batch).shape == (4,)
    (tmp_path / "vh" / "value_head.safetensors").write_bytes(b"")
    with pytest.raises(Exception):
        ValueHeadModel.from_pretrained(tmp_path / "vh")


def test_value_head_model_trains_end_to_end_as_a_critic(policy_tok):
    lm = build_tiny_model(len(policy_tok), SMALL)
    critic = ValueHeadModel.from_causal_lm(lm)
    assert critic.backbone is lm.model and critic.head.linear.weight.dtype == torch.float32
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    values = critic(ids, (ids > 0).long())
    assert values.shape == (2, 4) and values.dtype == torch.float32
    values.sum().backward()
    assert lm.model.embed_tokens.weight.grad is not None and critic.head.linear.weight.grad is not None


@pytest.mark.parametrize("text, steps", [
    ("", []), ("a", ["a"]), ("a\n\nb", ["a\n\n", "b"]), ("a\n\n\nb\n\n", ["a\n\n\n", "b\n\n"]),
    ("\n\na", ["\n\n", "a"]),
])
def test_split_steps(text, steps):
    from rltrain.rewards.render import split_steps

    assert split_steps(text) == steps and "".join(steps) == text


def test_step_scores_feed_fused_reward_gae(policy_tok):
    import rltrain_kernels

    batch = make_batch(policy_tok)
    scores = ProcessRewardScorer(Probe(), policy_tok).score_steps(batch)
    seps = separator_token_ids(policy_tok)
    values = torch.zeros(batch.response_ids.shape)
    out = rltrain_kernels.fused_reward_gae(batch.response_ids, batch.response_mask, values, torch.zeros(batch.size),
                                   separator_ids=seps, step_scores=scores, shaping="none", backend="torch")
    assert torch.equal(out.num_steps, batch.segments.num_steps)
    for b in range(batch.size):  # with shaping "none" and no outcome, rewards are the step scores at boundaries
        ends = batch.segments.is_boundary[b]
        torch.testing.assert_close(out.rewards[b][ends], scores[b, :int(ends.sum())])
