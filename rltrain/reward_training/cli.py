"""Train a reward model: `python -m rltrain.rm_train --kind orm|prm [--model PATH] --out DIR SOURCE`.

SOURCE is one of
  --run RUN_DIR                                    a trainer run: its problems, prompt, rollout length and
                                                   temperature, and its policy RUN_DIR/hf_actor (default --model)
  --task arithmetic                                the built-in task as `torchrun rltrain/main.py` trains it
                                                   (configs/builtin.yaml: same generator settings and prompt)
  --data gsm8k=PATH (math, math500)                problems; labels come from rollouts of --policy
  --labelled math-shepherd=PATH | prm800k=PATH     existing step labels (PRM only)

ORM: n sampled solutions per problem, labelled by the grader, BCE at the last token.
Labels follow the trainer's success rule (rltrain.grading.responses): a solution or completion that
hit --max-new-tokens counts as wrong, and the last-number fallback is on for gsm8k / arithmetic only.
PRM: n sampled solutions per problem, split into steps at blank lines, each step prefix
completed m times by the rollout engine (Math-Shepherd labels: hard = any completion correct,
--soft-labels = fraction correct), BCE at the step positions. --prm-head value (default) puts a
value head on --model; --prm-head step-tag trains the LM's "+"/"-" logits at " ки" tags.
The checkpoint in --out is a Hugging Face model folder (plus value_head.* for value heads) with
the tokenizer, loadable by `rltrain.rewards.load_prm` / `load_orm` and by the trainer as reward.prm /
reward.orm; rm_train.json records the run (valid JSON: an undefined metric is null, with a warning).
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path
from typing import Any, Sequence

from rltrain.errors import ArgumentParser, check_output_dir, run_cli

KINDS = ("orm", "prm")
PRM_HEADS = ("value", "step-tag")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m rltrain.rm_train", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("--model", default=None, help="initial model folder (a causal LM, or a value-head checkpoint); "
                                                 "default with --run: RUN_DIR/hf_actor")
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", metavar="RUN_DIR", help="a trainer run directory: its problems, prompt and policy")
    src.add_argument("--task", choices=("arithmetic",), help="the built-in task (configs/builtin.yaml)")
    src.add_argument("--data", metavar="NAME=PATH", help="gsm8k / math / math500 problems to sample on")
    src.add_argument("--labelled", metavar="FORMAT=PATH", help="math-shepherd=PATH or prm800k=PATH (PRM only)")
    p.add_argument("--policy", default=None, help="rollout policy folder (default: --model)")
    p.add_argument("--prm-head", choices=PRM_HEADS, default="value")
    p.add_argument("--step-tag", default=" ки", help="step tag of a step-tag PRM (default: ' ки')")
    p.add_argument("--split", default=None, help="--data split (default train; with --run: the run's data.split)")
    p.add_argument("--limit", type=int, default=None, help="first N problems / labelled records")
    p.add_argument("--num-problems", type=int, default=256, help="--task: how many problems")
    p.add_argument("--n-samples", type=int, default=4, help="sampled solutions per problem")
    p.add_argument("--m-completions", type=int, default=4, help="PRM: completions per step prefix")
    p.add_argument("--soft-labels", action="store_true", help="PRM: fraction of correct completions")
    p.add_argument("--neutral", type=float, default=1.0, help="PRM800K: label of a rating-0 step")
    p.add_argument("--temperature", type=float, default=None,
                   help="sampling temperature (default: the run's / task's rollout.temperature, else 1.0)")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="longest solution / completion (default: the run's / task's rollout.max_new_tokens, else 256)")
    p.add_argument("--max-prompt-tokens", type=int, default=2048,
                   help="longest prompt, in tokens; longer ones keep their end (default: 2048)")
    p.add_argument("--token-budget", type=int, default=16384, help="padded tokens per generation batch")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--eval-frac", type=float, default=0.1, help="held-out fraction for the ROC-AUC report")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--grader-workers", type=int, default=2)
    p.add_argument("--allow-download", action="store_true", help="allow Hub ids for --model / --policy")
    p.add_argument("--no-progress", action="store_true")
    return p


def _spec(value: str, allowed: Sequence[str], flag: str) -> tuple[str, str]:
    name, sep, path = value.partition("=")
    if not sep or name not in allowed or not path:
        raise ValueError(f"{flag} must be NAME=PATH with NAME in {tuple(allowed)}, got {value!r}")
    return name, path


def _bounded_prompts(tok, texts: Sequence[str], where: Sequence[str], max_tokens: int) -> list[str]:
    """The prompt texts, each cut to its last `max_tokens` tokens (decoded back); a note per cut on stderr."""
    from rltrain.data.prompts import bound_prompts

    kept, ids, cuts = bound_prompts(tok, texts, max_tokens)
    for cut in cuts:
        kept[cut.index] = tok.decode(ids[cut.index])
        print(f"note: {cut.describe(where[cut.index], f'--max-prompt-tokens {max_tokens}')}", file=sys.stderr)
    return kept


def _source(args):
    """The `ProblemSource` of --run / --task / --data."""
    from rltrain.reward_training import problem_source

    if args.run:
        return problem_source.from_run(args.run, args.num_problems, args.seed, args.split, args.limit)
    if args.task == "arithmetic":
        return problem_source.builtin_task(args.num_problems, args.seed)
    from rltrain.data.loaders import DATASETS

    name, path = _spec(args.data, DATASETS, "--data")
    return problem_source.from_data(name, path, args.split or "train", args.limit)


def _rollout_examples(args, source, grader) -> list:
    """ORM or PRM examples labelled from rollouts of the policy, with a progress bar per phase."""
    from tqdm.auto import tqdm

    from rltrain.data.prompts import format_prompt
    from rltrain.grading.responses import number_fallback_for
    from rltrain.models.loading import load_model_and_tokenizer
    from rltrain.reward_training.auto_label import (RolloutCompleter, auto_label_steps, count_step_prefixes,
                                            outcome_examples, sample_solutions)
    from rltrain.rewards.value_head import resolve_model_path
    from rltrain.reward_training.training import StepExample
    from rltrain.rollout import HFRolloutEngine, SamplingParams

    policy_path = resolve_model_path(args.policy or args.model, allow_download=args.allow_download)
    policy, tok = load_model_and_tokenizer(policy_path, device=args.device)
    engine = HFRolloutEngine.from_tokenizer(policy, tok, token_budget=args.token_budget)
    length = args.max_new_tokens or source.max_new_tokens or 256
    temperature = args.temperature if args.temperature is not None else (source.temperature or 1.0)
    params = SamplingParams(n=args.n_samples, temperature=temperature, max_new_tokens=length, seed=args.seed)
    prompts = _bounded_prompts(tok, [format_prompt(tok, q, source.prompt) for q, _ in source.problems],
                               [f"problem {i}" for i in range(len(source.problems))], args.max_prompt_tokens)
    say(f"sampling {args.n_samples} solutions for each of {len(prompts)} problems ({source.dataset}, at most "
        f"{length} tokens, temperature {temperature})", args)
    samples = sample_solutions(prompts, [g for _, g in source.problems], engine, tok, params)
    fallback = number_fallback_for(source.dataset)
    if args.kind == "orm":
        return outcome_examples(samples, grader, number_fallback=fallback)
    solutions = [s for s, _ in samples]
    completer = RolloutCompleter(engine, tok, SamplingParams(temperature=temperature, max_new_tokens=length,
                                                             seed=args.seed))
    with tqdm(total=count_step_prefixes(solutions), desc=f"labelling steps (x{args.m_completions} completions)",
              unit="step", disable=args.no_progress, file=sys.stderr) as bar:
        examples = auto_label_steps(solutions, completer, grader, m=args.m_completions, soft=args.soft_labels,
                                    number_fallback=fallback, chunk=16, progress=bar.update)
    if args.prm_head == "step-tag":  # a step-tag PRM reads the bare question, at scoring time too
        question = {p: q for p, (q, _) in zip(prompts, source.problems)}
        examples = [StepExample(question[e.prompt], e.steps, e.labels, e.source) for e in examples]
    return examples


def say(line: str, args) -> None:
    if not args.no_progress:
        print(f"[rm_train] {line}", file=sys.stderr, flush=True)


def finite_or_none(value: Any) -> Any:
    """JSON-ready: NaN / infinite floats -> None (null), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def held_out_auc(scores: list[float], labels: list[float]) -> float | None:
    """ROC-AUC of the held-out positions, or None (with a warning on stderr) when it is undefined."""
    from rltrain.reward_training.training import roc_auc

    auc = roc_auc(scores, labels)
    if math.isfinite(auc):
        return auc
    positives = sum(y > 0.5 for y in labels)
    kind = "positive" if positives else "negative"
    print(f"warning: held-out ROC-AUC is undefined (written as null): all {len(labels)} held-out labels are {kind}; "
          "raise --eval-frac or --num-problems, or sample from a policy that is sometimes right and sometimes wrong",
          file=sys.stderr)
    return None


def _scorer_model(args):
    """(token-logit model, tokenizer, tag id or None, RenderConfig) to train (float32 weights)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rltrain.rewards.render import RenderConfig
    from rltrain.rewards.step_tag import StepTagLM, StepTagTokens
    from rltrain.rewards.value_head import ValueHeadModel, has_value_head, resolve_model_path

    folder = resolve_model_path(args.model, allow_download=args.allow_download)
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if args.kind == "prm" and args.prm_head == "step-tag":
        lm = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32).to(args.device)
        tokens = StepTagTokens.resolve(tok, args.step_tag, vocab_size=lm.get_input_embeddings().weight.shape[0])
        return StepTagLM(lm, tokens), tok, tokens.tag, RenderConfig.math_shepherd()
    meta = {"role": args.kind, "render": RenderConfig().to_dict()}
    if has_value_head(folder):
        model = ValueHeadModel.from_pretrained(folder, device=args.device, dtype=torch.float32)
        model.metadata.update(meta)
    else:
        model = ValueHeadModel.from_backbone(folder, device=args.device, dtype=torch.float32, metadata=meta)
    return model, tok, None, RenderConfig()


def run(args) -> dict:
    from tqdm.auto import tqdm

    from rltrain.data.prompts import format_prompt
    from rltrain.grading import Grader, GraderConfig
    from rltrain.rewards.batched import read_logits
    from rltrain.reward_training.labelled_data import FORMATS, load_step_labelled
    from rltrain.reward_training.training import (RMTrainConfig, StepExample, encode_outcome_examples, encode_step_examples,
                                          train_token_scorer)

    if args.labelled and args.kind != "prm":
        raise ValueError("--labelled data has step labels: use it with --kind prm")
    source = None if args.labelled else _source(args)
    if args.model is None:
        if source is None or source.policy is None:
            raise ValueError("--model is needed (a causal LM or value-head folder); with --run it defaults to "
                             "RUN_DIR/hf_actor, which this run does not have")
        args.model = str(source.policy)
    config = RMTrainConfig(lr=args.lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    model, tok, tag_id, render = _scorer_model(args)
    with Grader(GraderConfig(workers=args.grader_workers)) as grader:
        if args.labelled:
            fmt, path = _spec(args.labelled, FORMATS, "--labelled")
            examples = load_step_labelled(fmt, path, limit=args.limit, neutral=args.neutral)
            if tag_id is None:  # a value-head PRM scores the policy's prompts: use the chat template
                examples = [StepExample(format_prompt(tok, e.prompt), e.steps, e.labels, e.source) for e in examples]
            bounded = _bounded_prompts(tok, [e.prompt for e in examples], [e.source for e in examples],
                                       args.max_prompt_tokens)
            examples = [StepExample(p, e.steps, e.labels, e.source) for p, e in zip(bounded, examples)]
        else:
            examples = _rollout_examples(args, source, grader)
    if not examples:
        raise ValueError("no training examples")
    random.Random(args.seed).shuffle(examples)
    if args.kind == "orm":
        rows = encode_outcome_examples(tok, examples)
    else:
        rows = encode_step_examples(tok, examples, render, tag_id)
    held = int(len(rows) * args.eval_frac) if len(rows) > 1 else 0
    train, held_out = rows[held:], rows[:held]
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    total = -(-len(train) // config.batch_size) * config.epochs
    with tqdm(total=total, desc="train", disable=args.no_progress, file=sys.stderr) as bar:
        def progress(step: int, loss: float) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")

        losses = train_token_scorer(model, train, config, pad_id=pad, progress=progress)
    labels = [y for r in rows for y in r.labels]
    summary = {"kind": args.kind, "prm_head": args.prm_head if args.kind == "prm" else None,
               "examples": len(examples), "train_rows": len(train), "held_out_rows": len(held_out),
               "labels": len(labels), "positive_fraction": sum(y > 0.5 for y in labels) / max(1, len(labels)),
               "final_loss": losses[-1], "optimizer_steps": len(losses)}
    if held_out:
        scores = read_logits(model, [r.row for r in held_out], pad_id=pad, device=args.device)
        summary["held_out_roc_auc"] = held_out_auc([float(s) for row in scores for s in row],
                                                   [y for r in held_out for y in r.labels])
    out = Path(args.out)
    model.save_pretrained(out, tokenizer=tok)
    summary["config"] = {k: v for k, v in vars(args).items()}
    summary = finite_or_none(summary)
    (out / "rm_train.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return summary


def _one_thread_on_a_shared_cpu(device: str) -> None:
    """As the trainer does: tiny CPU models gain nothing from intra-op threads, and threads contending
    for busy cores make a run several times slower. OMP_NUM_THREADS set explicitly wins."""
    import os

    if device == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(1)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _one_thread_on_a_shared_cpu(args.device)

    def train() -> int:
        check_output_dir(args.out, "--out")
        summary = run(args)
        print(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2, allow_nan=False))
        return 0

    return run_cli(train, args.out, catch=(ValueError, FileNotFoundError))  # a bad argument, path, data line


if __name__ == "__main__":
    sys.exit(main())
