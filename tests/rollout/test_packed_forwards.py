"""Padding-free (packed) forwards: the actor, critic and reward models give the same log-probs,
losses, values, scores and gradients packed as padded, and the packed micro-batch plans keep
every row once within the budget."""
import pytest
import torch

from rltrain.batching import balanced_groups, plan_packed
from rltrain.models.heads import CriticModule, PolicyModule
from rltrain.models.packing import VARLEN_ATTENTION, pack_lists, pack_padded
from rltrain.models.tiny import build_tiny_model
from rltrain.config.tiny_model import TinyModelConfig
from rltrain.ppo.experience import build_experience
from rltrain.ppo.phases import score_policy, score_values
from rltrain.rewards.batched import read_logits
from rltrain.rewards.render import Row
from rltrain.rollout.types import RolloutOutput

VOCAB = 61
SIZE = TinyModelConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=2,
                       num_key_value_heads=1, tie_word_embeddings=False)


def experience(seed: int):
    """Prompts of 1-9 tokens, 1-3 samples each, responses of 0-8 tokens (a long, a short and an empty one)."""
    gen = torch.Generator().manual_seed(seed)
    prompts, outputs = [], []
    for i in range(4):
        prompts.append(torch.randint(3, VOCAB, (int(torch.randint(1, 10, (1,), generator=gen)),), generator=gen).tolist())
        outs = []
        for j in range(1 + i % 3):
            n = [8, 1, 0, 5, 3, 7][(i + j) % 6]
            ids = torch.randint(3, VOCAB, (n,), generator=gen).tolist()
            outs.append(RolloutOutput(ids, torch.zeros(n), "stop"))
        outputs.append(outs)
    return build_experience(prompts, outputs, pad_token_id=0)


def test_pack_positions_bounds_and_starts():
    ids = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0], [9, 10, 0, 0], [11, 12, 13, 0]])
    mask = (ids != 0).long()
    rows = pack_padded(ids, mask)
    assert rows.input_ids.tolist() == [[5, 6, 7, 8, 9, 10, 11, 12, 13]]
    assert rows.position_ids.tolist() == [[0, 1, 2, 0, 0, 1, 0, 1, 2]]
    assert rows.cu_seqlens.tolist() == [0, 3, 4, 6, 9] and rows.cu_seqlens.dtype == torch.int32
    assert rows.starts.tolist() == [0, 3, 4, 6] and rows.max_length == 3
    assert set(rows.forward_kwargs()) == {"position_ids", "cu_seq_lens_q", "cu_seq_lens_k", "max_length_q",
                                          "max_length_k"}
    lists = pack_lists([[5, 6, 7], [8], [9, 10], [11, 12, 13]])
    assert torch.equal(lists.input_ids, rows.input_ids) and torch.equal(lists.position_ids, rows.position_ids)
    with pytest.raises(ValueError, match="right-padded"):
        pack_padded(ids, torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0]]))
    with pytest.raises(ValueError, match="one token per row"):
        pack_lists([[1], []])


def test_models_with_other_attention_stay_padded():
    lm = build_tiny_model(VOCAB, SIZE, seed=0)
    lm.config.layer_types = ["sliding_attention", "full_attention"]
    assert not PolicyModule(lm).packed and lm.config._attn_implementation == "sdpa"
    assert PolicyModule(build_tiny_model(VOCAB, SIZE, seed=0), packed=False).packed is False
    varlen = build_tiny_model(VOCAB, SIZE, seed=0)
    assert PolicyModule(varlen).packed and varlen.model.config._attn_implementation == VARLEN_ATTENTION


@pytest.mark.parametrize("seed", range(5))
def test_packed_plans_hold_every_row_once_within_the_budget(seed):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 40, (int(torch.randint(1, 30, (1,), generator=gen)),), generator=gen).tolist()
    budget = int(torch.randint(20, 120, (1,), generator=gen))
    plan = plan_packed(lengths, budget)
    assert sorted(i for b in plan for i in b) == list(range(len(lengths)))
    for batch in plan:
        assert len(batch) == 1 or sum(lengths[i] for i in batch) <= budget
    count = min(len(lengths), 1 + seed)
    groups = balanced_groups(lengths, count)
    assert len(groups) == count and all(groups) and sorted(i for g in groups for i in g) == list(range(len(lengths)))
    loads = [sum(lengths[i] for i in g) for g in groups]
    assert max(loads) - min(loads) <= max(lengths)  # longest-first to the lightest group


@pytest.mark.parametrize("attn,chunk", [("sdpa", 512), ("eager", 512), ("sdpa", 6)])
def test_policy_packed_equals_padded_logprobs_loss_and_gradients(attn, chunk, monkeypatch):
    """chunk: rows share SDPA calls up to this many tokens (6: mostly one call per row)."""
    import rltrain.models.packing as packing

    monkeypatch.setattr(packing, "CHUNK_TOKENS", chunk)
    exp = experience(0)
    results = {}
    for packed in (False, True):
        lm = build_tiny_model(VOCAB, SIZE, seed=3)
        lm.config._attn_implementation = attn
        lm.train()
        module = PolicyModule(lm, packed=packed)
        logp, ent = module(exp.input_ids, exp.attention_mask, exp.gather_index, exp.response_ids, exp.response_mask)
        adv = torch.linspace(-1, 1, exp.response_ids.numel()).view_as(logp) * exp.response_mask
        out = module(exp.input_ids, exp.attention_mask, exp.gather_index, exp.response_ids, exp.response_mask,
                     old_logprobs=logp - 0.05, advantages=adv, entropy_coef=0.01)
        out.loss.backward()
        grads = {n: p.grad.clone() for n, p in lm.named_parameters()}
        results[packed] = (logp, ent, out.loss.detach(), grads)
    (lp0, en0, l0, g0), (lp1, en1, l1, g1) = results[False], results[True]
    assert torch.count_nonzero(lp1) > 0 and (lp1[~exp.response_mask] == 0).all()
    torch.testing.assert_close(lp1, lp0, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(en1, en0, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(l1, l0, atol=1e-6, rtol=1e-5)
    for name, grad in g0.items():
        torch.testing.assert_close(g1[name], grad, atol=2e-6 * float(grad.abs().max()), rtol=1e-4, msg=name)


def test_critic_packed_equals_padded_values_and_gradients():
    exp = experience(1)
    results = {}
    for packed in (False, True):
        critic = CriticModule(build_tiny_model(VOCAB, SIZE, seed=4).model, SIZE.hidden_size, packed=packed)
        torch.nn.init.normal_(critic.value_head.weight, generator=torch.Generator().manual_seed(0))
        values = critic(exp.input_ids, exp.attention_mask, exp.gather_index)
        (values * exp.response_mask).square().sum().backward()
        results[packed] = values.detach() * exp.response_mask, {n: p.grad.clone() for n, p in critic.named_parameters()}
    (v0, g0), (v1, g1) = results[False], results[True]
    torch.testing.assert_close(v1, v0, atol=2e-5, rtol=1e-5)
    for name, grad in g0.items():  # float32 rounding, relative to each gradient's scale
        torch.testing.assert_close(g1[name], grad, atol=2e-6 * float(grad.abs().max()), rtol=1e-4, msg=name)


def test_phases_micro_batch_packed_rows_by_real_tokens():
    """A budget below the batch's padded size: several packed micro-batches, the same numbers as one padded pass."""
    exp = experience(2)
    lm = build_tiny_model(VOCAB, SIZE, seed=5)
    calls = []
    packed = PolicyModule(lm, packed=True)
    packed.register_forward_pre_hook(lambda m, args: calls.append(args[0].shape[0]))
    logp, ent = score_policy(packed, exp, token_budget=24, temperature=0.7)
    ref_logp, ref_ent = score_policy(PolicyModule(lm, packed=False), exp, token_budget=10 ** 6, temperature=0.7)
    assert len(calls) > 1 and sum(calls) == exp.size
    torch.testing.assert_close(logp, ref_logp, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(ent, ref_ent, atol=2e-5, rtol=1e-5)
    critic = CriticModule(lm.model, SIZE.hidden_size, packed=True)
    torch.nn.init.normal_(critic.value_head.weight, generator=torch.Generator().manual_seed(1))
    critic.packed = False
    padded_values = score_values(critic, exp, token_budget=10 ** 6)
    critic.packed = True
    torch.testing.assert_close(score_values(critic, exp, token_budget=24), padded_values, atol=2e-5, rtol=1e-5)


class TokenModel(torch.nn.Module):
    """A token-score model over the tiny backbone, with the TokenScoreModel calling convention."""

    packs_sequences = True

    def __init__(self):
        super().__init__()
        self.backbone = build_tiny_model(VOCAB, SIZE, seed=6).model
        self.head = torch.nn.Linear(SIZE.hidden_size, 1)
        self.calls = []

    def forward(self, input_ids, attention_mask=None, **packing):
        self.calls.append((tuple(input_ids.shape), "cu_seq_lens_q" in packing))
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                               **packing).last_hidden_state
        return self.head(hidden).squeeze(-1)


def test_read_logits_packed_equals_padded_and_each_row_alone():
    gen = torch.Generator().manual_seed(7)
    rows = []
    for n in (9, 1, 14, 4, 6, 2):
        ids = torch.randint(3, VOCAB, (n,), generator=gen).tolist()
        rows.append(Row(ids, sorted({n - 1, n // 2})))
    rows.append(Row([5, 6], []))  # nothing to read
    model = TokenModel().eval()
    packed = read_logits(model, rows, pad_id=0, token_budget=16)
    assert len(model.calls) > 1 and all(has_positions for _, has_positions in model.calls)
    packed_tokens = sum(k * c for (k, c), _ in model.calls)
    model.calls.clear()
    padded = read_logits(model, rows, pad_id=0, token_budget=16, pack=False)
    assert not any(has_positions for _, has_positions in model.calls)
    assert packed_tokens < sum(k * c for (k, c), _ in model.calls)
    with torch.no_grad():
        alone = [model(torch.tensor([r.input_ids]))[0, r.positions] if r.positions else torch.zeros(0) for r in rows]
    for got, pad, one in zip(packed, padded, alone):
        torch.testing.assert_close(got, one, atol=2e-5, rtol=1e-5)
        torch.testing.assert_close(pad, one, atol=2e-5, rtol=1e-5)
    model.packs_sequences = False  # e.g. the implicit PRM: always padded
    model.calls.clear()
    read_logits(model, rows, pad_id=0, token_budget=16)
    assert not any(has_positions for _, has_positions in model.calls)
