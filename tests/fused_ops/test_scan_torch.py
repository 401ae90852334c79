import pytest
import torch

from rltrain_kernels.scans.torch_backend import discounted_reverse_cumsum


@pytest.mark.parametrize("T", [0, 1, 5, 32, 33, 1025, 3000])
@pytest.mark.parametrize("g", [1.0, 0.99, 0.5, 0.0])
def test_matches_recurrence(T, g):
    x = torch.randn(3, T, dtype=torch.float64)
    expected = torch.zeros(3, T + 1, dtype=torch.float64)
    for t in reversed(range(T)):
        expected[:, t] = x[:, t] + g * expected[:, t + 1]
    got = discounted_reverse_cumsum(x.float(), g, chunk=32)
    scale = expected.abs().max().clamp(min=1.0)
    assert got.shape == (3, T)
    torch.testing.assert_close(got.double(), expected[:, :T], rtol=0, atol=float(2e-6 * scale))
