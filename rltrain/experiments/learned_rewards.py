"""Learned reward models for `reward_design --rewards learned`: a PRM and an ORM per seed, trained by
`rltrain.rm_train` (in-process, its own `run`) from the seed's warmed-up initial policy.

Pipeline (Gao et al. 2024, Sec. 3, and Math-Shepherd, Wang et al. 2024):
1. the initial policy samples solutions to the first `num_problems` problems of the trainer's own
   training stream (`run.seed + 1000`, as `rltrain.ppo.prompts.load_problems` generates it), with the
   trainer's prompt, rollout length and temperature;
2. PRM: each step prefix is completed `m_completions` times; a step is good if any completion reaches
   the right answer (hard labels); a value head on the policy's backbone learns them (BCE at step ends);
   ORM: `orm_samples` graded solutions per problem, BCE at the last token;
3. `restated_probe` scores reference solutions of problems from a stream of their own (`run.seed + 5000`;
   training uses + 1000, evaluation + 99991; the task's problem space is small, so a question may
   recur across streams) with each model as the trainer will: the score of a correct step the
   solution already made (restated right after itself) against that of new correct steps and wrong
   steps. A PRM that rates a restatement as good can be farmed by raw PRM rewards.

Everything lands in `<rm_dir>`: `prm/`, `orm/` (checkpoints the trainer loads as reward.prm / reward.orm),
`config.yaml` (the trainer config rm_train reads as `--run`), `reward_models.json` (rm_train's summaries,
the probe, seconds).
"""
from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Sequence

TRAIN_STREAM_OFFSET = 1000   # the trainer's training problems: make_problems(..., run.seed + 1000)
PROBE_STREAM_OFFSET = 5000   # the probe's problem stream (training uses +1000, evaluation +99991)
SUMMARY = "reward_models.json"


@dataclass(frozen=True)
class LearnedRMSettings:
    """rm_train settings of the experiment's learned reward models (the `learned:` block of the
    experiment config). Counts are problems / samples; lr is AdamW's peak learning rate."""

    num_problems: int = 256     # training problems sampled on (both models)
    prm_samples: int = 2        # sampled solutions per problem for the PRM
    m_completions: int = 4      # completions per step prefix (Math-Shepherd labels)
    orm_samples: int = 4        # sampled solutions per problem for the ORM
    epochs: int = 5
    lr: float = 3e-4
    batch_size: int = 8
    eval_frac: float = 0.1      # held-out fraction of rm_train's rows (ROC-AUC)
    probe_problems: int = 128   # problems of the restated-step probe (their own stream)

    @classmethod
    def from_dict(cls, data: dict | None) -> "LearnedRMSettings":
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        if set(data) - known:
            raise ValueError(f"learned: unknown keys {sorted(set(data) - known)}; known: {sorted(known)}")
        settings = cls(**data)
        small = [f.name for f in fields(cls) if f.name not in ("lr", "eval_frac") and getattr(settings, f.name) < 1]
        if small or settings.lr <= 0 or not 0 < settings.eval_frac < 1:
            raise ValueError(f"learned: need counts >= 1, lr > 0, 0 < eval_frac < 1, got {settings}")
        return settings


def rm_train_argv(kind: str, rm_dir: Path, init_dir: Path, seed: int, s: LearnedRMSettings) -> list[str]:
    """`python -m rltrain.rm_train` arguments of one model (rm_dir holds the trainer's config.yaml)."""
    samples = s.prm_samples if kind == "prm" else s.orm_samples
    return ["--kind", kind, "--run", str(rm_dir), "--model", str(init_dir), "--out", str(rm_dir / kind),
            "--num-problems", str(s.num_problems), "--n-samples", str(samples), "--m-completions",
            str(s.m_completions), "--epochs", str(s.epochs), "--lr", str(s.lr), "--batch-size", str(s.batch_size),
            "--eval-frac", str(s.eval_frac), "--seed", str(seed + TRAIN_STREAM_OFFSET), "--no-progress"]


def train_reward_models(rm_dir: Path, trainer_args: list[str], init_dir: Path, settings: LearnedRMSettings) -> dict:
    """Train the seed's PRM and ORM into rm_dir (replacing what is there), probe them, write and
    return the summary. trainer_args: the seed's trainer arguments (`--config X key=value ...`)."""
    import yaml

    from rltrain.reward_training import cli as rm_train
    from rltrain.config import config_to_dict, load_config
    from rltrain.config.arguments import parse_args

    args = parse_args(trainer_args)
    cfg = load_config(args.config, args.overrides)
    if cfg.data.dataset != "arithmetic":
        raise ValueError("--rewards learned needs the built-in arithmetic task (data.dataset=arithmetic)")
    shutil.rmtree(rm_dir, ignore_errors=True)
    rm_dir.mkdir(parents=True)
    (rm_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    summary: dict = {"settings": asdict(settings), "init": str(init_dir)}
    for kind in ("prm", "orm"):
        start = time.perf_counter()
        args = rm_train.build_parser().parse_args(rm_train_argv(kind, rm_dir, init_dir, cfg.run.seed, settings))
        result = rm_train.run(args)
        result.pop("config", None)
        summary[kind] = {**result, "seconds": time.perf_counter() - start}
        print(f"[learned] {kind}: {json.dumps(summary[kind])}", flush=True)
    start = time.perf_counter()
    summary["probe"] = restated_probe(rm_dir, cfg, settings.probe_problems)
    summary["probe"]["seconds"] = time.perf_counter() - start
    print(f"[learned] probe: {json.dumps(summary['probe'])}", flush=True)
    (rm_dir / SUMMARY).write_text(json.dumps(rm_train.finite_or_none(summary), indent=2, allow_nan=False) + "\n")
    return summary


def probe_solutions(problems, rng: random.Random) -> list[tuple[str, list[str], list[str]]]:
    """(question, step texts, step kinds) of four solutions per problem: the reference ("new" equation
    steps, "answer"); the reference with one equation restated once ("restated" = the copy) and three
    times ("restated_3" = the third copy); one wrong result carried forward ("wrong" from it on, the
    boxed line included). Steps end in "\\n\\n" except the last."""
    from rltrain.tasks.arithmetic import STEP_DELIMITER, corrupt_solution

    def texts(lines: Sequence[str]) -> list[str]:
        return [line + STEP_DELIMITER for line in lines[:-1]] + [lines[-1]]

    out = []
    for p in problems:
        boxed = f"\\boxed{{{p.answer}}}"
        out.append((p.question, texts(list(p.steps) + [boxed]), ["new"] * len(p.steps) + ["answer"]))
        k = rng.randrange(len(p.steps))
        for times, tag in ((1, "restated"), (3, "restated_3")):
            steps = list(p.steps[:k + 1]) + [p.steps[k]] * times + list(p.steps[k + 1:])
            kinds = ["new"] * (k + 1) + ["restated_more"] * (times - 1) + [tag] + ["new"] * (len(p.steps) - k - 1)
            out.append((p.question, texts(steps + [boxed]), kinds + ["answer"]))
        wrong, good = corrupt_solution(p, rng)
        out.append((p.question, texts(wrong), ["new" if g else "wrong" for g in good]))
    return out


def restated_probe(rm_dir: Path, cfg, count: int) -> dict:
    """Mean PRM score per step kind ("new", "restated", "restated_3", "answer", "wrong") and mean ORM
    score of correct, restated-correct and wrong solutions, on `count` problems of the probe's stream, scored by
    the trainer's loaders (`rltrain.rewards.scorers`) from token ids, as at PPO time."""
    import torch

    from rltrain.data import separator_token_ids
    from rltrain.data.prompts import format_prompt
    from transformers import AutoTokenizer
    from rltrain.ppo.prompts import prompt_config
    from rltrain.rewards.base import build_scoring_batch
    from rltrain.rewards.scorers import load_orm, load_prm
    from rltrain.tasks.arithmetic import make_problems

    tok = AutoTokenizer.from_pretrained(rm_dir / "prm", local_files_only=True)  # the policy's, saved with it
    problems = make_problems(count, cfg.run.seed + PROBE_STREAM_OFFSET, cfg.data.arithmetic)
    items = probe_solutions(problems, random.Random(cfg.run.seed))
    rows = [tok("".join(steps), add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for _, steps, _ in items]
    ids = torch.full((len(rows), max(map(len, rows))), tok.pad_token_id, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
    mask = ids.ne(tok.pad_token_id)
    prompt = prompt_config(cfg)
    batch = build_scoring_batch([format_prompt(tok, q, prompt) for q, _, _ in items], ids, mask,
                                separator_token_ids(tok, cfg.reward.step_delimiter), tok,
                                questions=[q for q, _, _ in items])
    for (_, steps, _), found in zip(items, batch.step_texts):
        if [s.strip() for s in found] != [s.strip() for s in steps]:
            raise RuntimeError(f"probe: the trainer's segmentation split {steps!r} as {list(found)!r}")
    prm = load_prm(rm_dir / "prm", policy_tokenizer=tok).score_steps(batch)
    orm = load_orm(rm_dir / "orm", policy_tokenizer=tok).score(batch)
    by_kind: dict[str, list[float]] = {}
    for b, (_, _, kinds) in enumerate(items):
        for k, kind in enumerate(kinds):
            by_kind.setdefault(kind, []).append(float(prm[b, k]))
    solution_kinds = ["correct", "restated", "restated_3", "wrong"] * len(problems)
    by_solution: dict[str, list[float]] = {}
    for kind, score in zip(solution_kinds, orm.tolist()):
        by_solution.setdefault(kind, []).append(score)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    # fraction of restatements the PRM rates at least as high as the same solution's new steps' mean
    restated = [(float(prm[b, kinds.index("restated")]),
                 mean([float(prm[b, k]) for k, kind in enumerate(kinds) if kind == "new"]))
                for b, (_, _, kinds) in enumerate(items) if "restated" in kinds]
    return {"problems": len(problems),
            "prm": {kind: {"mean": mean(v), "count": len(v)} for kind, v in by_kind.items()},
            "prm_restated_ge_new_fraction": mean([float(r >= n) for r, n in restated]),
            "orm": {kind: {"mean": mean(v), "count": len(v)} for kind, v in by_solution.items()}}
