"""PRM / ORM scoring throughput: responses/s and reward-model tokens/s, per checkpoint format.

    OMP_NUM_THREADS=1 python bench/bench_reward_scoring.py                      # CPU, every format, tiny models
    python bench/bench_reward_scoring.py --device cuda --dtype bfloat16 --hidden 1024 --layers 8 --responses 1024

A random checkpoint of each format is written in its published layout (`tests/support/tiny_checkpoints.py`,
sized by --hidden / --layers; the tokenizer is the built-in task's BPE with "<extra_0>" added) and
loaded with `load_prm` / `load_orm` as the trainer does. The responses are the built-in task's
reference solutions (3-4 steps each), tokenized by the same tokenizer as the policy's. Each format
scores the same batch --repeats times after one warm-up call; the table gives the median time,
responses/s and the reward model's own tokens/s (the rows it reads: its prompt format + steps).
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "kernels"), str(REPO / "tests" / "support")]  # tiny_checkpoints

import torch  # noqa: E402

FORMATS = ("value-head", "step-tag", "qwen-prm", "token-classification", "implicit", "sequence-classification")


def scoring_batch(tok, count: int, seed: int):
    from rltrain.data import separator_token_ids
    from rltrain.rewards import build_scoring_batch
    from rltrain.tasks.arithmetic import ArithmeticConfig, make_problems

    problems = make_problems(count, seed, ArithmeticConfig(min_ops=2, max_ops=3))
    rows = [tok(p.solution, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for p in problems]
    width = max(len(r) for r in rows)
    ids = torch.full((count, width), tok.pad_token_id)
    mask = torch.zeros((count, width), dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = True
    prompts = [tok.apply_chat_template([{"role": "user", "content": p.question}], tokenize=False,
                                       add_generation_prompt=True) for p in problems]
    return build_scoring_batch(prompts, ids, mask, separator_token_ids(tok), tok,
                               questions=[p.question for p in problems])


def write_checkpoint(fmt: str, root: Path, tok, size: dict) -> dict:
    """load_prm / load_orm keyword arguments (path included) for a fresh `fmt` checkpoint."""
    from rltrain.rewards import ValueHeadModel
    from tiny_checkpoints import (write_causal_lm, write_qwen_prm, write_sequence_classifier,
                                                  write_token_classifier)

    if fmt == "qwen-prm":
        return {"path": write_qwen_prm(root / fmt, tok, size=size)[0]}
    if fmt == "token-classification":
        return {"path": write_token_classifier(root / fmt, tok, size=size)[0]}
    if fmt == "sequence-classification":
        return {"path": write_sequence_classifier(root / fmt, tok, size=size)[0]}
    lm, _ = write_causal_lm(root / "lm", tok, seed=1, size=size)
    if fmt == "step-tag":
        return {"path": lm}
    if fmt == "value-head":
        return {"path": ValueHeadModel.from_backbone(lm).save_pretrained(root / fmt, tokenizer=tok)}
    ref, _ = write_causal_lm(root / "ref", tok, seed=2, size=size)
    return {"path": lm, "format": "implicit", "implicit_reference": ref}


def bench_format(fmt: str, options: dict, batch, args, pack: bool = True) -> dict:
    from rltrain.rewards import load_orm, load_prm

    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    load = load_orm if fmt == "sequence-classification" else load_prm
    scorer = load(options["path"], device=args.device, dtype=dtype, token_budget=args.token_budget, pack_sequences=pack,
                  **{k: v for k, v in options.items() if k != "path"})
    run = scorer.score if fmt == "sequence-classification" else scorer.score_steps
    tokens = sum(len(r.input_ids) for r in scorer.rows(batch))
    run(batch)  # warm-up
    times = []
    for _ in range(args.repeats):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        run(batch)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"format": fmt, "seconds": median, "responses_per_s": batch.size / median, "tokens_per_s": tokens / median,
            "tokens_per_response": tokens / batch.size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--responses", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--token-budget", type=int, default=16384)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, choices=("float32", "bfloat16"),
                        help="default: bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", choices=("packed", "padded", "both"), default="packed",
                        help="padding-free (reward.scoring.pack_sequences, the default) or padded micro-batches; "
                             "both: each format in both, with the padded / packed time ratio")
    args = parser.parse_args()
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    from rltrain.models.tiny import build_tiny_tokenizer
    from tiny_checkpoints import as_qwen_prm_tokenizer

    tok = as_qwen_prm_tokenizer(build_tiny_tokenizer())
    tok.add_tokens([" ки"])
    heads = max(2, args.hidden // 64)
    size = dict(hidden_size=args.hidden, intermediate_size=2 * args.hidden, num_hidden_layers=args.layers,
                num_attention_heads=heads, num_key_value_heads=1)
    batch = scoring_batch(tok, args.responses, args.seed)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"{args.responses} responses (mean {float(batch.segments.num_steps.float().mean()):.1f} steps), hidden "
          f"{args.hidden}, {args.layers} layers, vocab {len(tok)}, {args.dtype} on {args.device} ({device}), "
          f"token budget {args.token_budget}, layout {args.layout}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}\n")
    both = args.layout == "both"
    extra = " padded s | padded / packed |" if both else ""
    print("| format | median s | responses/s | reward-model tokens/s | tokens / response |" + extra)
    print("| --- | --- | --- | --- | --- |" + (" --- | --- |" if both else ""))
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats:
            options = write_checkpoint(fmt, Path(tmp), tok, size)
            r = bench_format(fmt, options, batch, args, pack=args.layout != "padded")
            line = (f"| {fmt} | {r['seconds']:.3f} | {r['responses_per_s']:.0f} | {r['tokens_per_s']:.0f} | "
                    f"{r['tokens_per_response']:.0f} |")
            if both:
                padded = bench_format(fmt, options, batch, args, pack=False)["seconds"]
                line += f" {padded:.3f} | {padded / r['seconds']:.2f}x |"
            print(line, flush=True)


if __name__ == "__main__":
    main()
