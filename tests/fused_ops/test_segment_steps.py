import pytest
import torch

import rltrain_kernels
from conftest import backend_params
from random_rows import SEPARATORS, random_batch
from reference_loops import loop_segments


def expected_segments(batch, separators):
    B, T = batch.shape
    step_index = torch.full((B, T), -1, dtype=torch.int32)
    boundary = torch.zeros((B, T), dtype=torch.bool)
    num_steps = torch.zeros(B, dtype=torch.int32)
    for b in range(B):
        L = int(batch.lengths[b])
        bounds = loop_segments(batch.tokens[b].tolist(), L, separators)
        num_steps[b] = len(bounds)
        for t in range(L):
            step_index[b, t] = sum(1 for p in bounds if p < t)
        boundary[b, bounds] = True
    return step_index, boundary, num_steps


def poison_outputs(monkeypatch):
    import rltrain_kernels.steps.triton_backend as mod

    monkeypatch.setattr(mod, "new_output", lambda shape, dtype, device: torch.full(shape, 77, dtype=dtype, device=device))


@pytest.mark.parametrize("backend", backend_params())
@pytest.mark.parametrize("B,T,block", [(9, 37, None), (6, 53, 16), (5, 1, None), (3, 16, 16)])
@pytest.mark.parametrize("separators", [SEPARATORS, (), tuple(range(7))])
def test_matches_loop(backend, B, T, block, separators, monkeypatch, device):
    if backend == "triton":
        poison_outputs(monkeypatch)
        if block is not None:
            import rltrain_kernels.steps.triton_backend as mod

            monkeypatch.setattr(mod, "block_size", lambda T: block)
    gen = torch.Generator().manual_seed(B * 1000 + T)
    batch = random_batch(B, T, gen)
    out = rltrain_kernels.segment_steps(batch.tokens.to(device), batch.mask.to(device), list(separators), backend=backend)
    step_index, boundary, num_steps = expected_segments(batch, separators)
    assert out.step_index.dtype == torch.int32 and out.num_steps.dtype == torch.int32
    assert out.is_boundary.dtype == torch.bool
    assert torch.equal(out.step_index.cpu(), step_index)
    assert torch.equal(out.is_boundary.cpu(), boundary)
    assert torch.equal(out.num_steps.cpu(), num_steps)


@pytest.mark.parametrize("backend", backend_params())
def test_runs_close_one_step_and_masks_of_any_dtype(backend, device):
    tokens = torch.tensor([[5, 1, 1, 1, 6, 2, 1, 6, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]], dtype=torch.int32)
    for mask in (tokens.new_tensor([[1] * 8 + [0, 0], [1] * 3 + [0] * 7]), ):
        for m in (mask.bool(), mask.float(), mask.to(torch.int64)):
            out = rltrain_kernels.segment_steps(tokens.to(device), m.to(device), torch.tensor([1, 2]), backend=backend)
            assert out.step_index.cpu().tolist() == [[0, 0, 0, 0, 1, 1, 1, 2, -1, -1], [0, 0, 0] + [-1] * 7]
            assert out.num_steps.cpu().tolist() == [3, 1]


@pytest.mark.parametrize("backend", backend_params())
def test_empty_batch_and_zero_length(backend, device):
    out = rltrain_kernels.segment_steps(torch.zeros((0, 5), dtype=torch.int64, device=device),
                                torch.zeros((0, 5), dtype=torch.bool, device=device), [1], backend=backend)
    assert out.step_index.shape == (0, 5) and out.num_steps.shape == (0,)
    out = rltrain_kernels.segment_steps(torch.zeros((2, 0), dtype=torch.int64, device=device),
                                torch.zeros((2, 0), dtype=torch.bool, device=device), [1], backend=backend)
    assert out.num_steps.cpu().tolist() == [0, 0]


@pytest.mark.parametrize("backend", backend_params())
def test_rejects_bad_input(backend, device):
    tok = torch.zeros((2, 4), dtype=torch.int64, device=device)
    mask = torch.ones((2, 4), dtype=torch.bool, device=device)
    with pytest.raises(ValueError, match="token_ids"):
        rltrain_kernels.segment_steps(tok.float(), mask, [1], backend=backend)
    with pytest.raises(ValueError, match="mask"):
        rltrain_kernels.segment_steps(tok, mask[:, :3], [1], backend=backend)
    with pytest.raises(ValueError, match="separator_ids"):
        rltrain_kernels.segment_steps(tok, mask, torch.tensor([[1]]), backend=backend)
    with pytest.raises(ValueError, match="separator_ids"):
        rltrain_kernels.segment_steps(tok, mask, ["a"], backend=backend)
    with pytest.raises(ValueError, match="right-padded"):
        rltrain_kernels.segment_steps(tok, torch.tensor([[1, 0, 1, 0], [1, 1, 0, 0]], device=device), [1], backend=backend)
    with pytest.raises(ValueError, match="backend"):
        rltrain_kernels.segment_steps(tok, mask, [1], backend="cuda")
