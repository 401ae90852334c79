import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


def triton_skip_reason() -> str | None:
    from rltrain_kernels.dispatch import triton_installed, triton_interpreting

    if not triton_installed():
        return "triton is not installed"
    if not (torch.cuda.is_available() or triton_interpreting()):
        return "Triton needs a CUDA GPU or TRITON_INTERPRET=1 (the CPU interpreter)"
    return None


def backend_params() -> list:
    reason = triton_skip_reason()
    triton = pytest.param("triton", marks=pytest.mark.skipif(reason is not None, reason=reason or ""))
    return ["torch", triton]


@pytest.fixture
def device() -> torch.device:
    """CUDA when present (Triton compiled), else CPU (Triton interpreted)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
