"""The kernel test suite on the check's device: on a GPU the tests' `device` fixture gives CUDA
tensors and `backend="triton"` runs compiled kernels (fp32, bf16 and fp16 inputs, against the
float64 references); pass / fail counts come from pytest's JUnit XML."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from bench.gpu.rows import Row

REPO = Path(__file__).resolve().parents[2]
KERNEL_TESTS = ("test_segment_steps.py", "test_step_delimiter.py", "test_step_segmentation_qwen.py",
                "test_reward_gae.py", "test_reward_gae_errors.py", "test_reward_gae_properties.py",
                "test_reward_gae_process_return.py", "test_reward_gae_shaping.py", "test_policy_loss.py",
                "test_linear_policy_loss.py", "test_scan_torch.py", "test_reward_advantages.py",
                "test_reward_advantages_properties.py", "test_kernels_packed.py")
TINY_TESTS = ("test_segment_steps.py", "test_reward_gae_errors.py")


def run_kernel_tests(out_dir: Path, on_gpu: bool, timeout_s: float, workers: int) -> tuple[list[Row], list[str]]:
    """Rows with the counts per test file, and the ids of failing tests."""
    files = KERNEL_TESTS if on_gpu else TINY_TESTS
    xml = out_dir / "kernel_tests.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
           *[str(REPO / "tests" / "fused_ops" / f) for f in files]]
    if on_gpu and workers > 1:
        cmd += ["-n", str(workers)]  # pytest-xdist: Triton compiles in parallel
    env = {k: v for k, v in os.environ.items() if not (on_gpu and k == "TRITON_INTERPRET")}
    if not on_gpu:
        env["TRITON_INTERPRET"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(REPO / "kernels"), str(REPO / "tests" / "support"), env.get("PYTHONPATH")]))
    with open(out_dir / "kernel_tests.log", "w") as log:
        subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s)
    return _rows_from_junit(xml)


def _rows_from_junit(xml: Path) -> tuple[list[Row], list[str]]:
    if not xml.is_file():
        return [Row("kernel tests", None, "tests", "all pass", False, "pytest wrote no report")], []
    counts: dict[str, list[int]] = {}
    failing = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        module = (case.get("classname") or "?").split(".")[-1]
        tally = counts.setdefault(module, [0, 0, 0])  # passed, failed, skipped
        if case.find("failure") is not None or case.find("error") is not None:
            tally[1] += 1
            failing.append(f"{case.get('classname')}::{case.get('name')}")
        elif case.find("skipped") is not None:
            tally[2] += 1
        else:
            tally[0] += 1
    rows = [Row(f"kernel tests {module}", passed, "passed", "0 failed", failed == 0,
                f"{failed} failed, {skipped} skipped")
            for module, (passed, failed, skipped) in sorted(counts.items())]
    return rows, failing
