"""`check_environment`: what the config names exists on this machine, checked before torch or any
model loads (importable modules, local paths, the world size); `checked_config`: the command line's
config, loaded and checked.

A model source (`model.policy`, `model.critic_init`, `reward.prm`, `reward.orm`) is a local
folder or a Hugging Face Hub id (`org/name`). A Hub id is fetched only when its section opts in
(`model.allow_download`, `reward.allow_download`); a value that looks like a local path (starts
with /, ./, ../ or ~, or its first component exists here) must exist; `~` is expanded when
the config is read. `data.source` is a local
file / folder, or `hub:<repo>` (an explicit opt-in, which needs the `datasets` package); each local
data file the run reads (a folder's `<data.split>.jsonl` and `<data.eval_split>.jsonl`) must exist
and hold something. `run.out_dir` must be a folder that can be written, or made.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

from rltrain.config.engines import ROLLOUT_ENGINES
from rltrain.config.errors import ConfigError
from rltrain.config.loader import DEFAULT_CONFIG, load_config
from rltrain.config.schema import Config
from rltrain.config.sources import BUILTIN_SCORERS, HUB_PREFIX, LOCAL_PREFIXES, looks_local
from rltrain.errors import output_dir_problem



def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _fail(key: str, value: str, message: str) -> None:
    raise ConfigError(f"config key `{key}` = {value!r}: {message}")


def check_model_source(key: str, value: str, allow_download: bool, opt_in_key: str) -> None:
    """An existing local path, or a Hub id that `opt_in_key` allows to download."""
    if Path(value).exists():
        return
    if looks_local(value):
        _fail(key, value, "no such file or directory")
    if not allow_download:
        _fail(key, value, f"not a local path; to fetch this Hugging Face Hub id set {opt_in_key}=true")


def _check_data_source(cfg: Config) -> None:
    d = cfg.data
    if d.dataset == "arithmetic" or d.source is None:
        return
    if d.source.startswith(HUB_PREFIX):
        if not _has_module("datasets"):
            _fail("data.source", d.source, "a Hub dataset needs the `datasets` package (pip install datasets)")
        return
    source = Path(d.source)
    if not source.exists():
        _fail("data.source", d.source, "no such file or directory")
    if not source.is_dir():
        if _is_blank(source):
            _fail("data.source", d.source, "the file is empty: no problems to train or evaluate on")
        return
    present = sorted(p.name for p in source.glob("*.jsonl"))
    for key, split in (("data.split", d.split), ("data.eval_split", d.eval_split)):
        path = source / f"{split}.jsonl"
        if not path.is_file():
            _fail(key, split, f"{path} does not exist (data.source is a folder; it holds "
                              f"{', '.join(present) if present else 'no .jsonl file'})")
        if _is_blank(path):
            _fail(key, split, f"{path} is empty: no problems to {'train' if key == 'data.split' else 'evaluate'} on")


def _is_blank(path: Path, probe: int = 1 << 16) -> bool:
    """The file holds nothing but white space (read up to `probe` bytes; a larger file counts as not blank)."""
    with path.open("rb") as f:
        head = f.read(probe)
    return not head.strip() and len(head) < probe


def _check_reward_layout(key: str, value: str, fmt: str) -> None:
    """A local reward-model folder must be a layout rltrain reads (checked before any model loads)."""
    folder = Path(value).expanduser()
    if fmt != "auto" or not folder.is_dir():
        return
    from rltrain.rewards.formats import UnknownRewardModelError, detect_format

    try:
        detect_format(folder, key.rsplit(".", 1)[1])
    except UnknownRewardModelError as exc:
        raise ConfigError(f"config key `{key}`: {exc}") from None


def _check_models(cfg: Config) -> None:
    m, rw = cfg.model, cfg.reward
    if m.policy != "builtin":
        check_model_source("model.policy", m.policy, m.allow_download, "model.allow_download")
    if m.critic_init != "actor" and cfg.ppo.estimator.critic:  # the critic-free estimators build no critic
        check_model_source("model.critic_init", m.critic_init, m.allow_download, "model.allow_download")
    learned = [(k, v) for k, v in (("reward.prm", rw.prm), ("reward.orm", rw.orm)) if v not in ("none", "rule")]
    for key, value in learned:
        if not _has_module(f"rltrain.rewards.{rw.scorer_module}"):
            raise ConfigError(f"config key `{key}`: a learned scorer needs rltrain.rewards.{rw.scorer_module} "
                              "(reward.scorer_module), which is not installed")
        if rw.scorer_module == BUILTIN_SCORERS:
            check_model_source(key, value, rw.allow_download, "reward.allow_download")
            _check_reward_layout(key, value, rw.prm_format if key == "reward.prm" else rw.orm_format)
        elif value.startswith(LOCAL_PREFIXES) and not Path(value).exists():
            _fail(key, value, "no such file or directory")
    if rw.implicit_reference is not None:
        check_model_source("reward.implicit_reference", rw.implicit_reference, rw.allow_download,
                           "reward.allow_download")


def check_world_size(cfg: Config, world: int) -> None:
    """The prompts split evenly over the ranks, and every mini-batch holds rows on each rank."""
    if cfg.rollout.prompts % world:
        raise ConfigError(f"config key `rollout.prompts`: {cfg.rollout.prompts} is not divisible by the world "
                          f"size {world}")
    rows = cfg.rollout.prompts * cfg.rollout.n // world
    if cfg.ppo.mini_batches > rows:
        raise ConfigError(f"config key `ppo.mini_batches`: {cfg.ppo.mini_batches} exceeds the {rows} samples each of "
                          f"the {world} ranks holds (rollout.prompts * rollout.n / world size); a mini-batch would "
                          "have no rows")


def check_environment(cfg: Config, world_size: int | None = None) -> None:
    """Raise ConfigError naming the key if something the config needs is missing here (no torch import).
    world_size: processes of the run (None: $WORLD_SIZE, which torchrun sets, else 1)."""
    _check_models(cfg)
    _check_data_source(cfg)
    problem = output_dir_problem(cfg.run.out_dir)
    if problem:
        _fail("run.out_dir", cfg.run.out_dir, problem)
    check_world_size(cfg, world_size if world_size is not None else int(os.environ.get("WORLD_SIZE") or 1))
    attn = cfg.model.attn_implementation
    if attn.startswith("flash_attention") and not _has_module("flash_attn" if attn == "flash_attention_2"
                                                              else "flash_attn_interface"):
        raise ConfigError(f"config key `model.attn_implementation`: {attn} needs the flash-attn package, which is "
                          "not installed here; use sdpa")
    engine = ROLLOUT_ENGINES[cfg.rollout.engine]
    missing = [m for m in (*engine.requires, engine.builder.partition(":")[0]) if not _has_module(m)]
    if missing:
        raise ConfigError(f"config key `rollout.engine`: {cfg.rollout.engine} needs "
                          f"{' and '.join(f'`{m}`' for m in missing)}, which cannot be imported here; "
                          "use rollout.engine=builtin")


def checked_config(args: argparse.Namespace, world_size: int | None = None) -> Config:
    """The config the arguments name, validated and checked against this machine (no torch import)."""
    path = args.config if args.config is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    cfg = load_config(path, args.overrides)
    check_environment(cfg, world_size)
    return cfg
