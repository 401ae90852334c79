"""The whole GPU verification in one command, one markdown table (+ JSON) in OUT_DIR.

    python bench/gpu_check.py --prepare .gpu          # here: tokenizer, GSM8K slice, wheels the GPU image lacks
    python bench/gpu_check.py OUT_DIR --assets .gpu   # on a CUDA machine: everything, <= 8 min on one H100 / H200
    python bench/gpu_check.py OUT_DIR                 # without CUDA: says what it would run, exits 0
    python bench/gpu_check.py OUT_DIR --device cpu --tiny --assets .gpu   # every step at toy sizes on CPU

Steps, each with its own time limit (a step that fails or runs out is reported, the others go on):
1. the kernel test suite on the device (compiled Triton against the float64 references; pass / fail);
2. the device's ceilings: copy bandwidth and bf16 matmul rate;
3. fused_reward_gae at 1024 x 4096 (>= 60% of copy bandwidth, >= 500x the per-step GAE loop),
   ppo_policy_loss from logits (>= 70% of copy bandwidth), linear_ppo_policy_loss fwd+bwd at
   N = 16k, H = 1536, V = 151,936 bf16 (>= 55% of the matmul rate, <= 1/10 of eager's memory),
   each beside eager PyTorch (and Liger-Kernel where installed);
4. five trainer iterations: a random Qwen2 (hidden 1024, 8 layers, Qwen's vocabulary), GSM8K
   prompts, bf16 mixed precision, FSDP2 over NCCL on one rank, activation checkpointing.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "kernels")]

STEP_LIMITS_S = {"kernel tests": 200, "ceilings": 30, "kernel benchmarks": 90, "trainer": 170}


def plan(device: str, tiny: bool, assets: Path | None) -> list[str]:
    from bench.gpu.kernel_bench import Sizes
    from bench.gpu.kernel_tests import KERNEL_TESTS, TINY_TESTS
    from bench.gpu.trainer_run import ModelShape

    sizes, shape = (Sizes.tiny(), ModelShape.tiny()) if tiny else (Sizes(), ModelShape())
    tests = TINY_TESTS if device == "cpu" else KERNEL_TESTS
    return [
        f"kernel tests on {device}: {', '.join(tests)}",
        "ceilings: copy bandwidth, matmul rate",
        f"fused_reward_gae {sizes.gae_b} x {sizes.gae_t}; ppo_policy_loss [{sizes.logits_n}, {sizes.vocab}]; "
        f"linear_ppo_policy_loss N={sizes.linear_n}, H={sizes.hidden}, V={sizes.vocab}",
        f"trainer: {shape.iterations} iterations, Qwen2 h{shape.hidden} x {shape.layers} layers, "
        f"{shape.prompts} x {shape.samples} samples" + ("" if assets else " (skipped: no --assets folder)"),
    ]


def _step(name: str, fn: Callable[[], list], rows: list, errors: list[str]) -> None:
    start = time.monotonic()
    print(f"[gpu_check] {name} ...", flush=True)
    try:
        rows.extend(fn())
        print(f"[gpu_check] {name}: {time.monotonic() - start:.0f} s", flush=True)
    except Exception as exc:  # noqa: BLE001 - one failed step must not lose the others' numbers
        errors.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        traceback.print_exc()


def run(out_dir: Path, device_name: str, tiny: bool, assets: Path | None, workers: int) -> tuple[Path, bool]:
    """(the report, whether every step ran and every kernel test passed)."""
    import torch

    from bench.gpu.ceilings import copy_bandwidth_gbs, matmul_tflops
    from bench.gpu.kernel_bench import Sizes, linear_loss_rows, logits_loss_rows, reward_gae_rows
    from bench.gpu.kernel_tests import run_kernel_tests
    from bench.gpu.report import write_report
    from bench.gpu.rows import Row
    from bench.gpu.trainer_run import ModelShape, build_random_qwen2, run_trainer, trainer_rows

    device = torch.device(device_name)
    on_gpu = device.type == "cuda"
    sizes, shape = (Sizes.tiny(), ModelShape.tiny()) if tiny else (Sizes(), ModelShape())
    out_dir.mkdir(parents=True, exist_ok=True)
    header = {"date": datetime.date.today().isoformat(),
              "device": torch.cuda.get_device_name(device) if on_gpu else f"CPU ({platform.processor() or platform.machine()})",
              "torch": torch.__version__, "python": platform.python_version(), "sizes": "tiny" if tiny else "full"}
    try:
        import triton
        header["triton"] = triton.__version__
    except ImportError:
        header["triton"] = "not installed"
    rows: list = []
    errors: list[str] = []
    failing: list[str] = []

    def kernel_tests():
        found, bad = run_kernel_tests(out_dir, on_gpu, STEP_LIMITS_S["kernel tests"], workers)
        failing.extend(bad)
        return found

    ceilings: dict[str, float] = {}

    def measure_ceilings():
        ceilings["copy"] = copy_bandwidth_gbs(device, 1024 if on_gpu and not tiny else 64)
        ceilings["matmul"] = matmul_tflops(device, 8192 if on_gpu and not tiny else 512)
        return [Row("copy bandwidth (read + write)", ceilings["copy"], "GB/s"),
                Row("matmul rate" + (" bf16" if on_gpu else " fp32"), ceilings["matmul"], "TFLOP/s")]

    def kernel_benchmarks():
        found = reward_gae_rows(device, sizes, ceilings["copy"])
        found += logits_loss_rows(device, sizes, ceilings["copy"])
        return found + linear_loss_rows(device, sizes, ceilings["matmul"])

    def trainer():
        if assets is None:
            return [Row("trainer run", None, "", detail="skipped: no --assets folder (see --prepare)")]
        model = build_random_qwen2(out_dir / "random_qwen2", assets / "tokenizer", shape)
        return trainer_rows(run_trainer(out_dir, model, assets / "gsm8k", shape, STEP_LIMITS_S["trainer"]), shape)

    _step("kernel tests", kernel_tests, rows, errors)
    _step("ceilings", measure_ceilings, rows, errors)
    if ceilings:
        _step("kernel benchmarks", kernel_benchmarks, rows, errors)
    _step("trainer", trainer, rows, errors)
    return write_report(out_dir, header, rows, failing, errors), not (failing or errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", help="where gpu_check.md / .json and logs go")
    parser.add_argument("--prepare", type=Path, metavar="ASSETS", help="gather the assets into this folder and exit")
    parser.add_argument("--assets", type=Path, help="the folder --prepare filled (tokenizer, GSM8K slice)")
    parser.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    parser.add_argument("--tiny", action="store_true", help="toy sizes (a smoke test of every step)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    parser.add_argument("--workers", type=int, default=8, help="pytest-xdist workers for the kernel tests on a GPU")
    parser.add_argument("--no-wheels", action="store_true", help="with --prepare: skip downloading wheels")
    args = parser.parse_args(argv)
    if args.prepare is not None:
        from bench.gpu.assets import prepare

        prepare(args.prepare, REPO.parent / "shared" / "data", wheels=not args.no_wheels)
        print(f"[gpu_check] assets in {args.prepare}")
        return 0
    if args.out_dir is None:
        parser.error("OUT_DIR is required (or --prepare ASSETS)")
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else None)
    if args.dry_run or device is None:
        why = "dry run" if args.dry_run else "no CUDA device (use --device cpu --tiny for a CPU smoke run)"
        print(f"[gpu_check] {why}; on {device or 'a CUDA machine'} it would run:")
        for line in plan(device or "cuda", args.tiny, args.assets):
            print(f"  - {line}")
        return 0
    report, ok = run(args.out_dir, device, args.tiny, args.assets, args.workers)
    print(report.read_text(encoding="utf-8"))
    return 0 if ok else 1  # performance goals missed are in the table, not the status


if __name__ == "__main__":
    sys.exit(main())
