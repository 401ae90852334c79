"""Where `rm_train` gets the problems it samples solutions for, and how the policy is prompted.

Reward-model labels are only as good as the policy's rollouts: the policy must see the prompts and
the problems it was trained on. So the problems and the prompt come from the trainer's config:
- `from_run(run_dir)`: a trainer run's `config.yaml` (its dataset, the built-in task's settings,
  its instruction, its rollout length and temperature) and its exported policy `hf_actor`;
- `builtin_task()`: the built-in task as `torchrun rltrain/main.py` trains it (configs/builtin.yaml
  when present, as the trainer reads it, else the config defaults);
- `from_data(name, path)`: a GSM8K / MATH / MATH500 file with the default prompt.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rltrain.data.prompts import PromptConfig


@dataclass(frozen=True)
class ProblemSource:
    """dataset: its grading rule's name ("arithmetic", "gsm8k", ...); problems: (question, gold answer);
    prompt: how the policy was prompted; max_new_tokens / temperature: the trainer's rollout settings
    (None: not known); policy: the run's exported policy folder (None: not from a run)."""

    dataset: str
    problems: list[tuple[str, str]]
    prompt: PromptConfig
    max_new_tokens: int | None = None
    temperature: float | None = None
    policy: Path | None = None


def _from_config(cfg, count: int, seed: int, split: str | None, limit: int | None, policy: Path | None) -> ProblemSource:
    from rltrain.ppo.prompts import prompt_config

    d, ro = cfg.data, cfg.rollout
    if d.dataset == "arithmetic":
        from rltrain.tasks.arithmetic import make_problems

        problems = [(p.question, str(p.answer)) for p in make_problems(count, seed, d.arithmetic)]
    else:
        from rltrain.data.loaders import load_math_dataset

        records = load_math_dataset(d.dataset, d.source, split=split or d.split, limit=limit or count)
        problems = [(p.question, p.answer) for p in records]
    return ProblemSource(d.dataset, problems, prompt_config(cfg), ro.max_new_tokens, ro.temperature, policy)


def from_run(run_dir: str | Path, count: int, seed: int, split: str | None = None,
             limit: int | None = None) -> ProblemSource:
    """The problems, prompt and rollout settings of a trainer run, and its exported policy."""
    from rltrain.config import load_config

    run = Path(run_dir)
    if not (run / "config.yaml").is_file():
        raise FileNotFoundError(f"--run {run}: no config.yaml (a trainer run directory holds one: run "
                                "`torchrun rltrain/main.py run.out_dir=...` first)")
    policy = run / "hf_actor"
    return _from_config(load_config(run / "config.yaml", []), count, seed, split, limit,
                        policy if (policy / "config.json").is_file() else None)


def builtin_task(count: int, seed: int) -> ProblemSource:
    """The built-in task as the trainer's default config defines it."""
    from rltrain.config import load_config
    from rltrain.config.loader import DEFAULT_CONFIG

    cfg = load_config(DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None, [])
    return _from_config(cfg, count, seed, None, None, None)


def from_data(name: str, path: str, split: str, limit: int | None) -> ProblemSource:
    from rltrain.data.loaders import load_math_dataset

    records = load_math_dataset(name, path, split=split, limit=limit)
    return ProblemSource(name, [(p.question, p.answer) for p in records], PromptConfig())
