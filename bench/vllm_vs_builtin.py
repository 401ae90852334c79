"""vLLM vs the built-in engine, one run on one machine: rollout tokens/s and weight-sync time per GB.

    OMP_NUM_THREADS=1 VLLM_ENABLE_V1_MULTIPROCESSING=0 python bench/vllm_vs_builtin.py [--out result.json]

Model: a random Qwen2 (tiny tokenizer, vocabulary 512) of --hidden / --layers, float32, saved to
a temporary folder that both engines load. Rollout: --prompts chat prompts x --n samples,
temperature 1, --max-new-tokens, same seed for both engines; tokens/s = generated tokens / wall
seconds (median of --rounds, after one warm-up call). Sync: the trainer-side model (a plain
module here; on GPU it would be FSDP2) is perturbed and pushed with `sync_weights` in buckets
of --bucket-mb; seconds per GB = median seconds / full bytes. The built-in engine's sync is the
same `sync_weights` into `HFRolloutEngine.update_weights` (an in-place copy).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

import torch  # noqa: E402

from rltrain.data import encode_prompts  # noqa: E402
from rltrain.models.tiny import TinyModelConfig, build_tiny, save_tiny  # noqa: E402
from rltrain.rollout import HFRolloutEngine, SamplingParams, VLLMEngine, VLLMEngineConfig, sync_weights  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}, load avg {os.getloadavg()[0]:.1f}"


def timed(fn, rounds: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def rollout_rate(engine, prompts, params, rounds: int) -> tuple[float, int]:
    engine.generate(prompts[:2], params)  # warm-up (vLLM compiles its sampler ops on first use)
    seconds, out = timed(lambda: engine.generate(prompts, params), rounds)
    tokens = sum(len(o.token_ids) for per in out for o in per)
    return tokens / seconds, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--bucket-mb", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

    cfg = TinyModelConfig(hidden_size=args.hidden, intermediate_size=args.hidden * 11 // 4,
                          num_hidden_layers=args.layers, num_attention_heads=args.hidden // 64,
                          num_key_value_heads=max(1, args.hidden // 256))
    model, tok = build_tiny(config=cfg, seed=0)
    questions = [f"What is {i} plus {2 * i + 3}, times {i % 7 + 2}? Think step by step." for i in range(args.prompts)]
    prompts = encode_prompts(tok, questions)
    params = SamplingParams(n=args.n, temperature=1.0, max_new_tokens=args.max_new_tokens, seed=0)
    result: dict = {"machine": machine(), "params": sum(p.numel() for p in model.parameters()), **vars(args)}

    with tempfile.TemporaryDirectory() as tmp:
        path = save_tiny(model, tok, tmp)
        start = time.perf_counter()
        vllm_engine = VLLMEngine.from_config(path, VLLMEngineConfig(dtype="float32", max_model_len=1024))
        result["vllm_startup_s"] = round(time.perf_counter() - start, 1)
        hf_engine = HFRolloutEngine.from_tokenizer(build_tiny(config=cfg, seed=0)[0], tok)

        for name, engine in (("vllm", vllm_engine), ("builtin", hf_engine)):
            rate, tokens = rollout_rate(engine, prompts, params, args.rounds)
            result[f"{name}_tokens_per_s"], result[f"{name}_tokens"] = round(rate, 1), tokens

        trainer = model
        for name, engine in (("vllm", vllm_engine), ("builtin", hf_engine)):
            def sync():
                with torch.no_grad():
                    for p in trainer.parameters():
                        p.mul_(1.0001)
                return sync_weights(engine, trainer, bucket_bytes=args.bucket_mb << 20)

            sync()  # warm-up
            seconds, stats = timed(sync, args.rounds)
            result[f"{name}_sync_s"] = round(seconds, 4)
            result[f"{name}_sync_s_per_gb"] = round(seconds / (stats.bytes / 1e9), 2)
            result[f"{name}_sync_buckets"] = stats.buckets
            result["sync_bytes"] = stats.bytes
    result["rollout_speedup_vllm_over_builtin"] = round(result["vllm_tokens_per_s"] / result["builtin_tokens_per_s"], 2)
    result["sync_time_ratio_vllm_over_builtin"] = round(result["vllm_sync_s"] / result["builtin_sync_s"], 2)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
