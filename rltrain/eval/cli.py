"""`python -m rltrain.eval --model PATH --data gsm8k=PATH [--data math500=PATH ...]`.

Writes <out>/samples_<dataset>.jsonl (one line per graded response: prompt, response,
extracted answer, score, reason, finish reason, ...) and <out>/summary.json, and prints a summary
table. Responses that hit --max-new-tokens score 0 with reason "truncated", as in the trainer.
Prompts longer than --max-prompt-tokens keep their end (a note on stderr names them).
The arguments, the model folder, the data files (every line) and --out are checked before the
model loads; a problem is one line on stderr (`error: ...`) and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from rltrain.data.loaders import DATASETS, load_math_dataset, parse_data_spec
from rltrain.data.prompts import DEFAULT_INSTRUCTION, PromptConfig
from rltrain.errors import ArgumentParser, UserError, check_output_dir, one_line, run_cli
from rltrain.eval.rerank import RERANK_MODES, Reranker
from rltrain.eval.runner import DatasetResult, EvalConfig, evaluate_dataset


TABLE_NOTE = ("truncated responses score 0 (hit --max-new-tokens; reason \"truncated\"), as in the trainer's "
              "reward; `truncated` is their fraction")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m rltrain.eval", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="local HF model folder or a .gguf file")
    p.add_argument("--data", action="append", required=True, metavar="NAME=PATH",
                   help=f"NAME in {DATASETS}; PATH a .jsonl file, a folder (<split>.jsonl) or hub:<repo>[@config]")
    p.add_argument("--split", default="test", help="split for folders and Hub datasets (default: test)")
    p.add_argument("--limit", type=_positive_int, default=None, help="first N problems of each dataset")
    p.add_argument("--n-samples", type=int, default=4, help="sampled responses per problem (default: 4)")
    p.add_argument("--pass-k", default=None, help="comma-separated k for pass@k (default: 1,N)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: 1.0)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--max-prompt-tokens", type=int, default=2048,
                   help="longest prompt, in tokens; longer ones keep their end (default: 2048)")
    p.add_argument("--no-greedy", action="store_true", help="skip the greedy pass")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--token-budget", type=int, default=16384, help="padded tokens per generation batch")
    p.add_argument("--chunk", type=int, default=8, help="prompts per engine call")
    p.add_argument("--instruction", default=DEFAULT_INSTRUCTION, help="the step-by-step instruction")
    p.add_argument("--system-prompt", default=None)
    p.add_argument("--grader-timeout", type=float, default=3.0, help="seconds per math-verify check")
    p.add_argument("--grader-workers", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--rerank", choices=RERANK_MODES, default=None,
                   help="best-of-N over the samples with a reward model (needs --rm)")
    p.add_argument("--rm", default=None, help="reward model folder for --rerank (ORM, or PRM: step-tag / value head)")
    p.add_argument("--rm-token-budget", type=int, default=16384, help="padded tokens per reward-model forward")
    p.add_argument("--rm-format", default="auto", help="layout of the --rm folder (auto: detected; "
                                                       "docs/reward_models.md lists the formats)")
    p.add_argument("--out", default="runs/eval", help="output folder (default: runs/eval)")
    p.add_argument("--no-progress", action="store_true")
    return p


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def format_table(results: Sequence[DatasetResult]) -> str:
    """A plain-text table: one row per dataset, one column per metric."""
    columns: list[str] = []
    for r in results:
        columns += [k for k in r.summary if k not in columns]
    rows = [["dataset"] + columns]
    for r in results:
        rows.append([r.name] + [_cell(r.summary.get(c)) for c in columns])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}"


def _eval_config(args: argparse.Namespace) -> EvalConfig:
    if args.pass_k:
        pass_k = tuple(int(k) for k in args.pass_k.split(","))
    else:
        pass_k = tuple(sorted({1, args.n_samples})) if args.n_samples else ()
    return EvalConfig(n_samples=args.n_samples, temperature=args.temperature, top_p=args.top_p,
                      max_new_tokens=args.max_new_tokens, pass_k=pass_k, greedy=not args.no_greedy,
                      seed=args.seed, chunk=args.chunk, max_prompt_tokens=args.max_prompt_tokens,
                      prompt=PromptConfig(instruction=args.instruction, system_prompt=args.system_prompt))


def _check_model_path(path: str, flag: str) -> None:
    """A Hugging Face model folder (config.json) or a .gguf file; UserError naming `flag` otherwise."""
    p = Path(path)
    if p.is_file() and p.suffix == ".gguf":
        return
    if not p.exists():
        raise UserError(f"{flag} {path}: no such file or directory")
    if not p.is_dir() or not (p / "config.json").is_file():
        raise UserError(f"{flag} {path}: not a Hugging Face model folder (no config.json) nor a .gguf file")


def _load_model(path: str, device: str):
    from rltrain.models.loading import load_model_and_tokenizer

    try:
        return load_model_and_tokenizer(path, device=device)
    except (OSError, ValueError, KeyError) as exc:  # a folder transformers cannot read
        raise UserError(f"--model {path}: cannot load it ({type(exc).__name__}: {one_line(exc)})") from None


def _reranker(args: argparse.Namespace, tokenizer) -> Reranker:
    from rltrain.data.separators import separator_token_ids
    from rltrain.rewards.scorers import load_orm, load_prm

    load = load_orm if args.rerank == "orm" else load_prm
    scorer = load(args.rm, format=args.rm_format, policy_tokenizer=tokenizer, device=args.device,
                  token_budget=args.rm_token_budget)
    return Reranker(args.rerank, scorer, tokenizer, separator_token_ids(tokenizer))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(lambda: _run(args), args.out)  # a bad argument, model, data file or --out: one line


def _run(args: argparse.Namespace) -> int:
    try:
        specs = [parse_data_spec(s) for s in args.data]
        cfg = _eval_config(args)
        if args.rerank and (not args.rm or cfg.n_samples < 1):
            raise ValueError("--rerank needs --rm PATH and --n-samples >= 1")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    _check_model_path(args.model, "--model")
    if args.rerank:
        _check_model_path(args.rm, "--rm")
    out = check_output_dir(args.out, "--out")
    datasets = [(name, load_math_dataset(name, source, split=args.split, limit=args.limit))
                for name, source in specs]  # every line read: a bad one fails here, before the model loads

    from tqdm.auto import tqdm

    from rltrain.grading.grader import Grader, GraderConfig
    from rltrain.rollout.hf_engine import HFRolloutEngine

    model, tokenizer = _load_model(args.model, args.device)
    engine = HFRolloutEngine.from_tokenizer(model, tokenizer, token_budget=args.token_budget)
    reranker = _reranker(args, tokenizer) if args.rerank else None
    out.mkdir(parents=True, exist_ok=True)
    total = sum(len(problems) for _, problems in datasets) * cfg.generations_per_problem()
    results = []
    with Grader(GraderConfig(timeout_s=args.grader_timeout, workers=args.grader_workers)) as grader, \
            tqdm(total=total, unit="resp", desc="eval", disable=args.no_progress, file=sys.stderr) as bar:
        for name, problems in datasets:
            bar.set_postfix_str(name)
            result = evaluate_dataset(name, problems, engine, tokenizer, grader, cfg, progress=bar.update,
                                      reranker=reranker)
            for note in result.notes:
                bar.write(f"note: {note}", file=sys.stderr)
            with (out / f"samples_{name}.jsonl").open("w", encoding="utf-8") as f:
                for sample in result.samples:
                    f.write(json.dumps(sample, ensure_ascii=False) + "\n")
            results.append(result)
    summary = {"model": str(args.model), "config": {k: v for k, v in vars(args).items() if k != "data"},
               "data": args.data, "results": {r.name: r.summary for r in results}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(format_table(results))
    print(TABLE_NOTE)
    print(f"per-sample records and summary.json in {out}")
    return 0
