"""Steps follow the text, however it is split into tokens (DESIGN.md "Step segmentation").

The expected steps come from an independent definition (regular expressions over the text's
bytes); the kernels see only token ids and a `StepDelimiter` built from the token texts.
Tokenizations are random (cuts anywhere, also inside multi-byte characters) except that no
step end may fall strictly inside a token: that is the one split the token level cannot
express (README "Fused ops").
"""
import random
import re

import pytest
import torch

import rltrain_kernels
from conftest import backend_params
from rltrain_kernels.steps.delimiter import MAX_STATES, StepDelimiter, split_text

REPEATED = ["\n\n", "\n", "\n\n\n"]
GENERAL = ["ки", " ки", "<s>", "aba", "\n\nS"]
PIECES = ["a", "b", "Step 1", " ", ".", "\n", "\n", "\n\n", "к", "и", "ки", "<s>", "ab", "\t", "S"]


def reference_cuts(data: bytes, delimiter: bytes) -> list[int]:
    """Byte offsets where a step ends: after each maximal run of a repeated-byte delimiter
    (or each non-overlapping occurrence of any other), when non-blank text follows."""
    if len(set(delimiter)) == 1:
        pattern = re.escape(delimiter[:1]) + b"{%d,}" % len(delimiter)
    else:
        pattern = re.escape(delimiter)
    return [m.end() for m in re.finditer(pattern, data) if data[m.end():].strip()]


def random_text(rng: random.Random, delimiter: str, n: int) -> str:
    return "".join(rng.choice(PIECES + [delimiter] * 3) for _ in range(n))


def random_tokens(rng: random.Random, data: bytes, required: list[int]) -> list[bytes]:
    """A random split of `data` whose cuts include `required` (cuts may split UTF-8 characters)."""
    extra = [i for i in range(1, len(data)) if rng.random() < 0.45]
    cuts = sorted(set(required) | set(extra) | {0, len(data)})
    return [data[a:b] for a, b in zip(cuts, cuts[1:])]


def encode_rows(rows: list[list[bytes]], stop_rows: set[int]):
    """Token ids over a vocabulary of the distinct pieces (id 0 = a special stop token, text "")."""
    vocab: dict[bytes, int] = {b"<stop>": 0}
    ids = [[vocab.setdefault(p, len(vocab)) for p in row] + ([0] if r in stop_rows else [])
           for r, row in enumerate(rows)]
    texts = [b""] + [p for p in vocab if p != b"<stop>"]
    T = max([1] + [len(r) for r in ids])
    tok = torch.full((len(ids), T), -1, dtype=torch.int64)
    mask = torch.zeros((len(ids), T), dtype=torch.bool)
    for b, r in enumerate(ids):
        tok[b, :len(r)] = torch.tensor(r, dtype=torch.int64)
        mask[b, :len(r)] = True
    return tok, mask, texts


def expected_boundaries(row: list[bytes], cuts: list[int], has_stop: bool) -> list[int]:
    ends, pos = [], 0
    for piece in row:
        pos += len(piece)
        ends.append(pos)
    n = len(row) + int(has_stop)
    bounds = [t for t, e in enumerate(ends) if e in set(cuts)]
    return bounds + [n - 1] if n else []


@pytest.mark.parametrize("delimiter", REPEATED + GENERAL)
def test_split_text_matches_the_reference_definition(delimiter):
    rng = random.Random(hash(delimiter) % 1000)
    for _ in range(300):
        text = random_text(rng, delimiter, rng.randint(0, 14))
        data = text.encode()
        bounds = [0, *reference_cuts(data, delimiter.encode()), len(data)]
        expected = [data[a:b].decode() for a, b in zip(bounds, bounds[1:]) if b > a]
        assert split_text(text, delimiter) == expected, text


def test_split_text_examples():
    assert split_text("Step 1: 12 + 7 = 19.\n\nStep 2: 19 * 2 = 38.", "\n\n") == [
        "Step 1: 12 + 7 = 19.\n\n", "Step 2: 19 * 2 = 38."]
    assert split_text("a\n\n\n\nb\n\n", "\n\n") == ["a\n\n\n\n", "b\n\n"]  # one run, no empty last step
    assert split_text("a\n\n  \n", "\n\n") == ["a\n\n  \n"]  # only blanks after the run
    assert split_text("\n\nabc", "\n\n") == ["\n\n", "abc"]
    assert split_text("xкикиy", "ки") == ["xки", "ки", "y"]
    assert split_text("", "\n\n") == []
    with pytest.raises(ValueError, match="delimiter"):
        split_text("a", "")
    with pytest.raises(ValueError, match="at most"):
        split_text("a", "x" * MAX_STATES)


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("delimiter", REPEATED + GENERAL)
def test_kernels_follow_the_text_for_random_splits(backend, delimiter, device, monkeypatch):
    if backend == "triton":
        import rltrain_kernels.rewards.triton_backend as gae_mod
        import rltrain_kernels.steps.triton_backend as seg_mod

        for mod in (seg_mod, gae_mod):  # several blocks per row: the automaton's state crosses block edges
            monkeypatch.setattr(mod, "block_size", lambda T: 16)
    rng = random.Random(7 + len(delimiter))
    raw = delimiter.encode()
    rows, cuts_per_row = [], []
    for b in range(7):
        text = "" if b == 0 else random_text(rng, delimiter, rng.randint(1, 12))
        data = text.encode()
        cuts = reference_cuts(data, raw)
        rows.append(random_tokens(rng, data, cuts))
        cuts_per_row.append(cuts)
    stop_rows = {1, 3, 5}
    tok, mask, texts = encode_rows(rows, stop_rows)
    delim = StepDelimiter.from_token_texts(texts, delimiter)
    assert delim.simple == (len(set(raw)) == 1)
    seg = rltrain_kernels.segment_steps(tok.to(device), mask.to(device), delim, backend=backend)
    B, T = tok.shape
    K = T + 1
    scores = torch.arange(B * K, dtype=torch.float32).reshape(B, K) / (B * K)
    gae = rltrain_kernels.fused_reward_gae(tok.to(device), mask.to(device), torch.zeros(B, T, device=device),
                                   torch.zeros(B, device=device), separator_ids=delim,
                                   step_scores=scores.to(device), shaping="none", backend=backend)
    for b, (row, cuts) in enumerate(zip(rows, cuts_per_row)):
        bounds = expected_boundaries(row, cuts, b in stop_rows)
        got = torch.nonzero(seg.is_boundary[b].cpu()).flatten().tolist()
        assert got == bounds, (row, cuts)
        assert int(seg.num_steps[b]) == len(bounds) == int(gae.num_steps[b])
        steps = [b"".join(texts[i] for i in tok[b, s:e + 1].tolist())
                 for s, e in zip([0] + [e + 1 for e in bounds[:-1]], bounds)]
        assert [s.decode() for s in steps] == split_text(b"".join(row).decode(), delimiter)
        expected_rewards = torch.zeros(T)
        expected_rewards[bounds] = scores[b, :len(bounds)]
        torch.testing.assert_close(gae.rewards[b].cpu(), expected_rewards, rtol=0, atol=0)


@pytest.mark.parametrize("backend", backend_params())
def test_blank_line_split_into_several_tokens_closes_one_step(backend, device):
    texts = ["Step 1: 12 + 7 = 19.", "\n", ".\n", "\n\n", "Step 2: 38.", "", " ", "\n\n\n"]
    delim = StepDelimiter.from_token_texts(texts, "\n\n")
    rows = [[0, 1, 1, 4], [0, 2, 1, 4], [0, 3, 4], [0, 1, 3, 1, 4, 5], [0, 7, 4, 1, 6, 1, 5], [1, 1, 1], [4]]
    expected = [[2, 3], [2, 3], [1, 2], [3, 5], [1, 6], [2], [0]]
    T = max(len(r) for r in rows)
    tok = torch.tensor([r + [0] * (T - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows])
    seg = rltrain_kernels.segment_steps(tok.to(device), mask.to(device), delim, backend=backend)
    assert [torch.nonzero(r).flatten().tolist() for r in seg.is_boundary.cpu()] == expected


@pytest.mark.parametrize("backend", backend_params())
def test_id_lists_keep_their_meaning(backend, device):
    """A plain id set: each maximal run of these ids closes one step, no text rule."""
    tok = torch.tensor([[5, 1, 1, 6, 2, 0], [1, 1, 1, 0, 0, 0]])
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3])
    for ids in ([1, 2], torch.tensor([2, 1]), StepDelimiter.from_ids([1, 2])):
        seg = rltrain_kernels.segment_steps(tok.to(device), mask.to(device), ids, backend=backend)
        assert seg.num_steps.cpu().tolist() == [3, 1]
        assert seg.step_index.cpu().tolist() == [[0, 0, 0, 1, 1, 2], [0, 0, 0, -1, -1, -1]]


def test_delimiter_errors():
    with pytest.raises(ValueError, match="delimiter"):
        StepDelimiter.from_token_texts(["a"], "")
    with pytest.raises(ValueError, match="no text delimiter"):
        StepDelimiter.from_ids([1]).split_text("a")
