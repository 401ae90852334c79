"""`python -m rltrain.experiments.reward_design`: the paper's reward-design comparison on the
built-in arithmetic task (Gao et al. 2024, "On Designing Effective RL Reward at Training Time
for LLM Reasoning").

Fifteen designs, the same budget (iterations, prompts, samples) and the same warmed-up initial
model per seed: with PPO-GAE, success reward only, + ORM, + raw PRM step rewards, + PRM with
Clip, Delta, Clip-Delta, min-form; with the critic-free GRPO, success only, + raw PRM, + PRM
Clip-Delta, min-form, and four normalisation variants under Clip / Clip-Delta. `--designs` takes
design names and the config's named sets (`paper`, `estimators`, `grpo`, `normalisation`,
`all`); without it the config's `default` set runs, else all. Runs go to `--jobs` worker
processes (`rltrain.experiments.run_one --worker`, `OMP_NUM_THREADS=1`), each running
`rltrain.ppo.run.run_training` in-process from the seed's shared initial model, one run after another
(imports and start-up paid once per worker). A failed run is reported and the others go on; a
rerun skips runs whose `summary.json` exists for the same resolved config. At the end `rltrain.experiments.report`
writes results.md / results.csv / runs.csv and accuracy.png / steps.png into --out.

`--rewards learned` (the default) replaces the rule-based PRM / ORM by models trained per seed from the
seed's initial policy (`rltrain.experiments.learned_rewards`: rollouts, Math-Shepherd step labels and
graded samples, rm_train's training, a restated-step probe; one worker task per seed, cached in
`--out/reward_models/seed<k>`); those designs run in `--out/runs_learned/`, designs without a reward
model share `--out/runs/`, and the report files carry a `_learned` suffix (plus reward_models.csv).
`--rewards rule` is the experiment with the rule-based stand-ins.

    python -m rltrain.experiments.reward_design                       # the default designs x 3 seeds, learned RMs
    python -m rltrain.experiments.reward_design --rewards rule        # the same with the rule-based PRM / ORM
    python -m rltrain.experiments.reward_design --designs estimators  # min-form and the GRPO rows
    python -m rltrain.experiments.reward_design --seeds 1 --iterations 5 --designs success,prm_raw
    python -m rltrain.experiments.reward_design --set rollout.prompts=8 --set warmup.steps=20
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rltrain.experiments.learned_rewards import LearnedRMSettings
from rltrain.experiments.report import run_dir_of, uses_reward_model
from rltrain.metrics.records import metrics_path, read_metrics

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "configs" / "experiments" / "reward_design.yaml"
DESIGN_ORDER = ("success", "orm", "prm_raw", "prm_clip", "prm_delta", "prm_clip_delta", "prm_min_form",
                "grpo_success", "grpo_prm_raw", "grpo_prm_clip_delta", "grpo_prm_min_form", "grpo_prm_clip",
                "grpo_prm_clip_per_reward", "grpo_prm_clip_mean_only", "grpo_prm_clip_delta_mean_only")
# settings that decide the warmed-up initial model (shared by every design of a seed)
INIT_KEYS = ("run.seed", "model", "data.arithmetic", "warmup")
# settings that decide a seed's learned reward models (besides its initial model and `learned:`)
RM_KEYS = ("run.seed", "data", "rollout.max_new_tokens", "rollout.temperature", "reward.step_delimiter")
REWARDS = ("rule", "learned")


def learned_overrides(overrides: dict, rm_dir: Path) -> dict:
    """A design's overrides with the seed's learned models in place of the rule-based ones: the
    step checker -> `rm_dir/prm`, the consistency ORM -> `rm_dir/orm` (the trainer's own loaders)."""
    out = dict(overrides)
    if out.get("reward.prm") == "rule":
        out["reward.prm"] = str(rm_dir / "prm")
    if out.get("reward.orm", "none") != "none":
        out["reward.orm"] = str(rm_dir / "orm")
        out["reward.scorer_module"] = "scorers"
    return out


@dataclass
class Design:
    name: str
    label: str
    overrides: dict


@dataclass
class Experiment:
    base: Path
    seeds: list[int]
    common: dict
    designs: list[Design]
    restated_step_prob: float = 0.0
    restated_more_prob: float = 0.0
    sets: dict = field(default_factory=dict)  # name -> design names (`--designs`); "all" is implied
    learned: LearnedRMSettings = field(default_factory=LearnedRMSettings)  # --rewards learned: rm_train settings

    def select(self, spec: str | None) -> list[Design]:
        """The designs a `--designs` value names (comma list of designs and sets, in config order);
        None: the `default` set if the config has one, else every design. ValueError if unknown."""
        if spec is None:
            spec = "default" if "default" in self.sets else "all"
        known = {d.name for d in self.designs}
        sets = {**self.sets, "all": [d.name for d in self.designs]}
        wanted: set[str] = set()
        for word in (w.strip() for w in spec.split(",") if w.strip()):
            if word not in known and word not in sets:
                raise ValueError(f"unknown {word!r}; designs: {sorted(known)}; sets: {sorted(sets)}")
            wanted.update(sets.get(word, [word]))
        return [d for d in self.designs if d.name in wanted]


@dataclass
class RunResult:
    design: str
    seed: int
    status: str  # done | skipped (already done) | failed
    seconds: float = 0.0
    message: str = ""
    extra: dict = field(default_factory=dict)


def load_experiment(path: Path) -> Experiment:
    data = yaml.safe_load(Path(path).read_text()) or {}
    unknown = set(data) - {"base", "seeds", "common", "designs", "init", "sets", "learned"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    base = Path(data.get("base", "configs/builtin.yaml"))
    base = base if base.is_absolute() else REPO_ROOT / base
    designs = [Design(name, spec.get("label", name), dict(spec.get("overrides") or {}))
               for name, spec in (data.get("designs") or {}).items()]
    init = dict(data.get("init") or {})
    init_keys = {"restated_step_prob", "restated_more_prob"}
    if set(init) - init_keys:
        raise ValueError(f"{path}: unknown init keys {sorted(set(init) - init_keys)}")
    sets = {name: list(members) for name, members in (data.get("sets") or {}).items()}
    names = {d.name for d in designs}
    for name, members in sets.items():
        if set(members) - names or name in names or name == "all":
            raise ValueError(f"{path}: set {name!r} must name designs only and not clash with a design or 'all'; "
                             f"unknown {sorted(set(members) - names)}")
    try:
        learned = LearnedRMSettings.from_dict(data.get("learned"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return Experiment(base, list(data.get("seeds", [0, 1, 2])), dict(data.get("common") or {}), designs,
                      float(init.get("restated_step_prob", 0.0)), float(init.get("restated_more_prob", 0.0)), sets,
                      learned)


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def as_overrides(mapping: dict) -> list[str]:
    return [f"{k}={_fmt(v)}" for k, v in mapping.items()]


def parse_seeds(text: str) -> list[int]:
    """"3" -> [0, 1, 2] (a count); "0,5,7" -> those seeds."""
    if "," in text:
        return [int(s) for s in text.split(",") if s.strip()]
    return list(range(int(text)))


def _dig(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Runner:
    def __init__(self, exp: Experiment, out: Path, jobs: int, extra: list[str], timeout: float | None,
                 python: str = sys.executable, log=None, rewards: str = "rule"):
        if rewards not in REWARDS:
            raise ValueError(f"rewards must be one of {REWARDS}, got {rewards!r}")
        self.exp, self.out, self.jobs, self.extra, self.timeout = exp, out, jobs, extra, timeout
        self.rewards = rewards
        self.python, self.log = python, log or self._print
        self._print_lock = threading.Lock()
        self.lock = threading.Lock()
        self.local = threading.local()
        self.workers: list[subprocess.Popen] = []
        self.stopping = False
        self.active: dict[str, tuple[float, Path, int]] = {}
        self.finished = 0
        self.total = 0
        self.t0 = time.perf_counter()

    def _print(self, msg: str) -> None:
        with self._print_lock:  # one whole line at a time from the pool's threads
            print(msg, flush=True)

    # ---- configs ---------------------------------------------------------------------------
    def learned(self, design: Design) -> bool:
        """This design runs with the seed's learned reward models (else as under --rewards rule)."""
        return self.rewards == "learned" and uses_reward_model(design.overrides)

    def run_dir(self, design: Design, seed: int) -> Path:
        return run_dir_of(self.out, design, seed, self.learned(design))

    def init_dir(self, seed: int) -> Path:
        return self.out / "init" / f"seed{seed}"

    def rm_dir(self, seed: int) -> Path:
        return self.out / "reward_models" / f"seed{seed}"

    def trainer_args(self, design: Design | None, seed: int, out_dir: Path) -> list[str]:
        overrides = design.overrides if design else {}
        if design is not None and self.learned(design):
            overrides = learned_overrides(overrides, self.rm_dir(seed))
        return ["--config", str(self.exp.base), *as_overrides(self.exp.common), *as_overrides(overrides),
                *self.extra, f"run.seed={seed}", f"run.out_dir={out_dir}"]

    def resolved(self, args: list[str]) -> dict:
        from rltrain.config import config_to_dict, load_config

        return config_to_dict(load_config(args[1], args[2:]))

    def _env(self) -> dict:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "kernels")]) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.pop("TRITON_INTERPRET", None)
        return env

    # ---- one task on this thread's worker process ------------------------------------------
    def _worker(self) -> subprocess.Popen:
        if self.stopping:
            raise RuntimeError("the experiment is stopping")
        w = getattr(self.local, "worker", None)
        if w is None or w.poll() is not None:
            w = subprocess.Popen([self.python, "-m", "rltrain.experiments.run_one", "--worker"], cwd=REPO_ROOT,
                                 env=self._env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 bufsize=1)
            self.local.worker = w
            with self.lock:
                self.workers.append(w)
        return w

    def _kill_worker(self) -> None:
        w = getattr(self.local, "worker", None)
        if w is not None and w.poll() is None:
            w.kill()
            w.wait()
        self.local.worker = None

    def _spawn(self, key: str, task: dict, log_path: Path, watch: Path | None, iterations: int) -> tuple[int, str]:
        """Run `task` on this thread's worker (one process per --jobs slot, reused), logging to log_path;
        watch: the run folder whose metrics.jsonl the progress line counts (None: no progress)."""
        import select

        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("$ python -m rltrain.experiments.run_one --worker <<< " + json.dumps(task) + "\n")
        with self.lock:
            self.active[key] = (time.perf_counter(), watch, iterations)
        try:
            w = self._worker()
            rc = None
            try:
                w.stdin.write(json.dumps({**task, "log": str(log_path)}) + "\n")
                w.stdin.flush()
                deadline = None if self.timeout is None else time.monotonic() + self.timeout
                while rc is None:
                    wait = 5.0 if deadline is None else max(0.0, min(5.0, deadline - time.monotonic()))
                    ready, _, _ = select.select([w.stdout], [], [], wait)
                    if ready:
                        line = w.stdout.readline()
                        if not line:  # the worker died (e.g. killed for memory)
                            rc = w.wait()
                            rc = rc if rc else -1
                            self.local.worker = None
                        else:
                            rc = int(json.loads(line)["rc"])
                    elif deadline is not None and time.monotonic() >= deadline:
                        self._kill_worker()
                        rc = -9
                        with open(log_path, "a") as fh:
                            fh.write(f"\n[reward_design] stopped after --timeout {self.timeout}s\n")
            except (BrokenPipeError, OSError) as exc:
                self._kill_worker()
                rc = -1
                with open(log_path, "a") as fh:
                    fh.write(f"\n[reward_design] worker failed: {exc}\n")
            tail = log_path.read_text(errors="replace")[-1500:] if rc != 0 else ""
            return rc, tail
        finally:
            with self.lock:
                self.active.pop(key, None)

    def close(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                try:
                    w.stdin.close()
                    w.wait(timeout=30)
                except (OSError, subprocess.TimeoutExpired):
                    w.kill()
                    w.wait()

    def init_fingerprint(self, seed: int) -> str:
        cfg = self.resolved(self.trainer_args(None, seed, self.out / "init" / f"seed{seed}.cfg"))
        return fingerprint({**{k: _dig(cfg, k) for k in INIT_KEYS}, "restated": self.exp.restated_step_prob,
                            "restated_more": self.exp.restated_more_prob})

    def build_init(self, seed: int) -> Path:
        init = self.init_dir(seed)
        args = self.trainer_args(None, seed, self.out / "init" / f"seed{seed}.cfg")
        want = self.init_fingerprint(seed)
        stamp = init / "experiment_init.json"
        if stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == want:
            self.log(f"[reward_design] init seed {seed}: reusing {init}")
            return init
        self.log(f"[reward_design] init seed {seed}: building + warming up the initial model")
        task = {"build_init": str(init), "restated_step_prob": self.exp.restated_step_prob,
                "restated_more_prob": self.exp.restated_more_prob, "args": args}
        rc, tail = self._spawn(f"init/seed{seed}", task, self.out / "init" / f"seed{seed}.log", None, 0)
        if rc != 0:
            raise RuntimeError(f"building the initial model of seed {seed} failed (rc {rc}):\n{tail}")
        stamp.write_text(json.dumps({"fingerprint": want}) + "\n")
        return init

    def rm_fingerprint(self, seed: int) -> str:
        """What decides the seed's learned reward models: the initial model, the rollout / task settings
        and `learned:`."""
        from dataclasses import asdict

        cfg = self.resolved(self.trainer_args(None, seed, self.rm_dir(seed) / "config.cfg"))
        return fingerprint({**{k: _dig(cfg, k) for k in RM_KEYS}, "init": self.init_fingerprint(seed),
                            "learned": asdict(self.exp.learned)})

    def build_reward_models(self, seed: int, init: Future) -> Path:
        """The seed's learned PRM and ORM (rm_train from its initial model), reused when the stamp in
        the folder matches `rm_fingerprint`."""
        from dataclasses import asdict

        rm_dir = self.rm_dir(seed)
        args = self.trainer_args(None, seed, rm_dir / "config.cfg")
        want = self.rm_fingerprint(seed)
        stamp = rm_dir / "experiment_rms.json"
        if stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == want:
            self.log(f"[reward_design] reward models seed {seed}: reusing {rm_dir}")
            return rm_dir
        init_dir = init.result()
        self.log(f"[reward_design] reward models seed {seed}: sampling, auto-labelling, training the PRM and ORM")
        task = {"reward_models": str(rm_dir), "init": str(init_dir), "settings": asdict(self.exp.learned),
                "args": args}
        start = time.perf_counter()
        log = self.out / "reward_models" / f"seed{seed}.log"
        log.unlink(missing_ok=True)
        rc, tail = self._spawn(f"reward_models/seed{seed}", task, log, None, 0)
        if rc != 0:
            raise RuntimeError(f"training the reward models of seed {seed} failed (rc {rc}):\n{tail}")
        stamp.write_text(json.dumps({"fingerprint": want, "seconds": time.perf_counter() - start}) + "\n")
        self.log(f"[reward_design] reward models seed {seed}: done in {time.perf_counter() - start:.0f}s")
        return rm_dir

    def run(self, design: Design, seed: int, init: Future, rms: Future | None = None) -> RunResult:
        run_dir = self.run_dir(design, seed)
        args = self.trainer_args(design, seed, run_dir)
        cfg = self.resolved(args)
        # a run with learned reward models is stale once they are retrained (their path stays the same)
        want = fingerprint({"config": cfg, "reward_models": self.rm_fingerprint(seed)} if self.learned(design) else cfg)
        stamp = run_dir / "experiment_run.json"
        if (run_dir / "summary.json").is_file() and stamp.is_file() \
                and json.loads(stamp.read_text()).get("fingerprint") == want:
            self._done(design.name, seed, "skipped (finished earlier)")
            return RunResult(design.name, seed, "skipped")
        try:
            init_dir = init.result()
        except Exception as exc:  # noqa: BLE001 - reported in the table, the others continue
            self._done(design.name, seed, "FAILED (no initial model)")
            return RunResult(design.name, seed, "failed", message=str(exc)[-1500:])
        if rms is not None and self.learned(design):
            try:
                rms.result()
            except Exception as exc:  # noqa: BLE001 - as above
                self._done(design.name, seed, "FAILED (no reward models)")
                return RunResult(design.name, seed, "failed", message=str(exc)[-1500:])
        stamp.unlink(missing_ok=True)
        (run_dir / "summary.json").unlink(missing_ok=True)
        task = {"init": str(init_dir), "args": args}
        cmd = [self.python, "-m", "rltrain.experiments.run_one", "--init", str(init_dir), "--", *args]
        start = time.perf_counter()
        rc, tail = self._spawn(f"{design.name}/seed{seed}", task, run_dir / "run.log", run_dir,
                               cfg["run"]["iterations"])
        seconds = time.perf_counter() - start
        if rc == 0 and (run_dir / "summary.json").is_file():
            stamp.write_text(json.dumps({"fingerprint": want, "seconds": seconds, "command": cmd}) + "\n")
            self._done(design.name, seed, f"done in {seconds:.0f}s")
            return RunResult(design.name, seed, "done", seconds)
        (run_dir / "failed.txt").write_text(f"rc {rc}\n{tail}\n")
        self._done(design.name, seed, f"FAILED (rc {rc}, see {run_dir / 'run.log'})")
        return RunResult(design.name, seed, "failed", seconds, f"rc {rc}: {tail.strip().splitlines()[-1:]}")

    def _done(self, design: str, seed: int, what: str) -> None:
        with self.lock:
            self.finished += 1
            n = self.finished
        self.log(f"[reward_design] {n}/{self.total} {design} seed {seed}: {what} "
                 f"(elapsed {time.perf_counter() - self.t0:.0f}s)")

    def _progress(self, stop: threading.Event, every: float) -> None:
        while not stop.wait(every):
            with self.lock:
                active = dict(self.active)
            parts = []
            for key, (start, watch, iters) in active.items():
                done = 0
                if watch is not None and metrics_path(watch).is_file():
                    done = len(read_metrics(watch, "train"))
                parts.append(f"{key} {done}/{iters} it" if iters else f"{key} warming up")
            self.log(f"[reward_design] {self.finished}/{self.total} runs finished, "
                     f"{time.perf_counter() - self.t0:.0f}s; running: {', '.join(parts) or '-'}")

    def run_all(self, progress_every: float = 30.0) -> list[RunResult]:
        self.out.mkdir(parents=True, exist_ok=True)
        # fail fast on a bad config, before anything is launched
        for seed in self.exp.seeds:
            for d in self.exp.designs:
                self.resolved(self.trainer_args(d, seed, self.run_dir(d, seed)))
        self.total = len(self.exp.seeds) * len(self.exp.designs)
        stop = threading.Event()
        ticker = threading.Thread(target=self._progress, args=(stop, progress_every), daemon=True)
        ticker.start()
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            inits = {s: pool.submit(self.build_init, s) for s in self.exp.seeds}
            rms = {s: pool.submit(self.build_reward_models, s, inits[s]) for s in self.exp.seeds
                   if any(self.learned(d) for d in self.exp.designs)}
            futures = [pool.submit(self.run, d, s, inits[s], rms.get(s)) for s in self.exp.seeds
                       for d in self.exp.designs]
            results = [f.result() for f in futures]
        except BaseException:  # Ctrl-C / SIGTERM: stop the workers, keep what finished
            self.stopping = True
            pool.shutdown(wait=False, cancel_futures=True)
            for w in list(self.workers):
                if w.poll() is None:
                    w.kill()
            raise
        finally:
            stop.set()
        pool.shutdown()
        self.close()
        return results


def _check_overrides(parser: argparse.ArgumentParser, exp: Experiment, extra: list[str]) -> None:
    """Every design's trainer config, with --set applied, must load: a bad key or value is one line, exit 2."""
    from rltrain.config import load_config
    from rltrain.config.errors import ConfigError

    for design in exp.designs:
        overrides = as_overrides({**exp.common, **design.overrides}) + list(extra)
        try:
            load_config(exp.base, overrides)
        except ConfigError as exc:
            parser.error(f"design {design.name}: {exc}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="experiment config (default: %(default)s)")
    p.add_argument("--seeds", default=None, help='number of seeds ("3" = 0,1,2) or a list "0,4,5" (default: config)')
    p.add_argument("--iterations", type=int, default=None, help="PPO iterations per run (default: config)")
    p.add_argument("--out", type=Path, default=Path("runs/reward_design"), help="output dir (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=2, help="runs at once, one CPU core each (default: %(default)s)")
    p.add_argument("--designs", default=None, help="comma list of designs and sets of the config (e.g. paper, "
                   f"estimators, grpo, all; designs {','.join(DESIGN_ORDER)}); default: the config's default set, "
                   "else all")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra trainer override for every run (repeatable), e.g. --set rollout.prompts=8")
    p.add_argument("--timeout", type=float, default=None, help="seconds per run before it is stopped (failed)")
    p.add_argument("--rewards", choices=REWARDS, default="learned",
                   help="learned: a PRM and an ORM trained per seed by rm_train from the seed's initial policy "
                        "(the config's `learned:` settings, cached in --out/reward_models); rule: the step "
                        "checker as PRM and the consistency ORM (default: %(default)s)")
    p.add_argument("--report-only", action="store_true", help="only (re)write the table and plots from --out")
    args = p.parse_args(argv)

    if not args.config.is_file():
        p.error(f"--config: {args.config}: no such file")
    try:
        exp = load_experiment(args.config)
    except (ValueError, yaml.YAMLError) as exc:
        p.error(f"--config: {exc}".replace("\n", " "))
    if args.seeds is not None:
        try:
            exp.seeds = parse_seeds(args.seeds)
        except ValueError:
            p.error(f"--seeds: a count or a comma list of seeds, got {args.seeds!r}")
    if not exp.seeds:
        p.error(f"--seeds: names no seed ({args.seeds!r})")
    for flag, value in (("--iterations", args.iterations), ("--jobs", args.jobs), ("--timeout", args.timeout)):
        if value is not None and value <= 0:
            p.error(f"{flag} must be > 0, got {value}")
    if args.iterations is not None:
        exp.common["run.iterations"] = args.iterations
    try:
        exp.designs = exp.select(args.designs)
    except ValueError as exc:
        p.error(f"--designs: {exc}")
    if not exp.designs:
        p.error(f"--designs: {args.designs!r} names no design")
    _check_overrides(p, exp, args.set)
    out = args.out.resolve()
    import signal

    def on_sigterm(*_):
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_sigterm)
    from rltrain.experiments.report import write_report

    results: list[RunResult] = []
    if not args.report_only:
        runner = Runner(exp, out, max(1, args.jobs), list(args.set), args.timeout, rewards=args.rewards)
        print(f"[reward_design] {len(exp.designs)} designs x {len(exp.seeds)} seeds, {args.rewards} reward models "
              f"-> {out} ({args.jobs} at once)", flush=True)
        t0 = time.perf_counter()
        results = runner.run_all()
        wall = time.perf_counter() - t0
        record = {"argv": sys.argv if argv is None else argv, "wall_seconds": wall, "seeds": exp.seeds,
                  "designs": [d.name for d in exp.designs], "rewards": args.rewards, "jobs": args.jobs,
                  "extra": args.set, "load_average": list(os.getloadavg()),
                  "results": [vars(r) for r in results]}
        suffix = "" if args.rewards == "rule" else f"_{args.rewards}"
        (out / f"experiment{suffix}.json").write_text(json.dumps(record, indent=2) + "\n")  # the latest invocation
        with open(out / "invocations.jsonl", "a") as fh:  # every invocation, e.g. a rerun that skipped all
            fh.write(json.dumps(record) + "\n")
        print(f"[reward_design] all runs finished in {wall:.0f}s", flush=True)
    paths = write_report(out, exp, results, rewards=args.rewards)
    for path in paths:
        print(f"[reward_design] wrote {path}", flush=True)
    print(paths[0].read_text(), flush=True)
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
