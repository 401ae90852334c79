"""Results table (Markdown + CSV) and curves (PNG) of the reward-design experiment.

Per run (`<out>/runs/<design>/seed<k>/`):
- final greedy / sampling accuracy: the held-out `"kind": "eval"` line at the end of training
  (`run.eval_problems` generated problems, disjoint from the training stream);
- steps per response, response length (tokens), repeated-step fraction, PRM return (raw sum of
  the step checker's scores; only designs with a PRM have one), train success and the training
  time per iteration (estimate + train phases): means over the last `TAIL_FRACTION` of the
  training iterations (the policy's sampled responses at the end of training, as the trainer
  logs them).
Plots: PPO-GAE designs solid, critic-free (GRPO) designs dashed.
Per design: mean +- std (sample std, ddof = 1) over the seeds that finished.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from rltrain.metrics.records import metrics_path, read_metrics

TAIL_FRACTION = 0.2
METRICS = (  # column, source, label in the Markdown table
    ("greedy_acc", "eval:greedy_success", "greedy acc (final)"),
    ("sampling_acc", "eval:sampling_success", "sampling acc (final)"),
    ("steps_per_response", "train:steps_per_response", "steps / response"),
    ("response_length", "train:response_length", "response length (tokens)"),
    ("repeated_step_fraction", "train:repeated_step_fraction", "repeated-step fraction"),
    ("prm_return", "train:prm_return_raw", "PRM return (raw)"),
    ("train_success", "train:success_rate", "train success"),
    ("train_seconds", "train:time_training", "training s / iteration"),
)
# (baseline design, its raw-PRM design, its bounded designs): the checks of `acceptance`
CHECKED = (("success", "prm_raw", ("prm_clip", "prm_delta", "prm_clip_delta", "prm_min_form")),
           ("grpo_success", "grpo_prm_raw", ("grpo_prm_clip_delta", "grpo_prm_min_form")))
CURVES = ("success_rate", "steps_per_response", "repeated_step_fraction", "response_length")


def uses_reward_model(overrides: dict) -> bool:
    """The design scores with the PRM stand-in (`reward.prm: rule`) or an ORM."""
    return overrides.get("reward.prm") == "rule" or overrides.get("reward.orm", "none") != "none"


def run_dir_of(out: Path, design, seed: int, learned: bool) -> Path:
    """`<out>/runs/<design>/seed<k>`; with learned reward models `<out>/runs_learned/...` (designs that
    use no reward model, e.g. success only, share the `runs/` folder of both)."""
    return out / ("runs_learned" if learned else "runs") / design.name / f"seed{seed}"


def _dir_for(out: Path, rewards: str):
    return lambda d, seed: run_dir_of(out, d, seed, rewards == "learned" and uses_reward_model(d.overrides))


def suffix_of(rewards: str) -> str:
    """File-name suffix of a report: "" for the rule-based reward models, "_learned" for learned ones."""
    return "" if rewards == "rule" else f"_{rewards}"


def read_run(run_dir: Path) -> dict | None:
    """{'train': [...], 'eval': [...], 'summary': {...}} of a finished run, else None."""
    summary = run_dir / "summary.json"
    if not (metrics_path(run_dir).is_file() and summary.is_file()):
        return None
    return {"train": read_metrics(run_dir, "train"),
            "eval": read_metrics(run_dir, "eval"),
            "summary": json.loads(summary.read_text()),
            "config": (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").is_file() else ""}


def _uses_prm(run: dict) -> bool:
    import yaml

    cfg = yaml.safe_load(run["config"]) if run["config"] else {}
    return (cfg.get("reward") or {}).get("prm", "none") != "none"


def run_values(run: dict) -> dict:
    train, evals = run["train"], run["eval"]
    k = max(1, math.ceil(len(train) * TAIL_FRACTION))
    tail = train[-k:]
    out = {"initial_greedy_acc": evals[0]["greedy_success"] if evals else float("nan")}
    for col, source, _ in METRICS:
        kind, key = source.split(":")
        if kind == "eval":
            out[col] = evals[-1][key] if evals else float("nan")
        elif col == "prm_return" and not _uses_prm(run):
            out[col] = float("nan")
        else:
            out[col] = sum(r[key] for r in tail) / len(tail) if tail else float("nan")
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan")
    m = sum(vals) / len(vals)
    s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, s


def _cell(m: float, s: float, digits: int) -> str:
    if math.isnan(m):
        return "-"
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def collect(out: Path, exp, rewards: str = "rule") -> tuple[list[dict], dict, list[dict]]:
    """(per-run rows, {design: {col: (mean, std), ...}}, failures)"""
    runs, agg, failed = [], {}, []
    dir_for = _dir_for(out, rewards)
    for d in exp.designs:
        values = []
        for seed in exp.seeds:
            run_dir = dir_for(d, seed)
            run = read_run(run_dir)
            if run is None:
                why = (run_dir / "failed.txt").read_text().splitlines()[0] if (run_dir / "failed.txt").is_file() else "not run"
                failed.append({"design": d.name, "seed": seed, "why": why})
                continue
            v = run_values(run)
            v["seconds"] = run["summary"].get("seconds", float("nan"))
            runs.append({"design": d.name, "label": d.label, "seed": seed, **v})
            values.append(v)
        agg[d.name] = {"label": d.label, "seeds_ok": len(values),
                       "seeds_failed": sum(1 for f in failed if f["design"] == d.name)}
        for col in ["initial_greedy_acc"] + [c for c, _, _ in METRICS]:
            agg[d.name][col] = mean_std([v[col] for v in values])
    return runs, agg, failed


def acceptance(agg: dict) -> list[tuple[str, bool | None, str]]:
    """The issue's criteria, evaluated on the table (None = cannot be evaluated), per estimator:
    each design against the success-only design of the same estimator (`CHECKED`). "Well above":
    >= 1.5x the steps and +0.10 repeated-step fraction; "within noise": within one seed std of the
    success-only runs (the design's own std is not used: a design whose seeds scatter widely must
    not pass because of it)."""
    out = []
    for base_name, raw_name, bounded in CHECKED:
        base = agg.get(base_name)
        if base is None or not base["seeds_ok"]:
            if any(agg.get(n) for n in (raw_name,) + bounded):
                out.append((f"needs the {base_name} design", None, "not run"))
            continue
        base_label = base["label"]
        bs, _ = base["steps_per_response"]
        ba, bas = base["greedy_acc"]
        br, _ = base["repeated_step_fraction"]
        raw = agg.get(raw_name)
        if raw and raw["seeds_ok"]:
            rs, _ = raw["steps_per_response"]
            rr, _ = raw["repeated_step_fraction"]
            ra, ras = raw["greedy_acc"]
            out.append((f"{raw['label']}: steps / response well above {base_label} (>= 1.5x)", rs >= 1.5 * bs,
                        f"{rs:.2f} vs {bs:.2f} ({rs / bs:.2f}x)"))
            out.append((f"{raw['label']}: repeated-step fraction well above {base_label} (>= +0.10)",
                        rr >= br + 0.10, f"{rr:.3f} vs {br:.3f}"))
            out.append((f"{raw['label']}: greedy accuracy does not improve over {base_label} (mean <= base mean + "
                        "base seed std)", ra <= ba + bas, f"{ra:.3f} ± {ras:.3f} vs {ba:.3f} ± {bas:.3f}"))
        for name in bounded:
            d = agg.get(name)
            if not d or not d["seeds_ok"]:
                continue
            s, _ = d["steps_per_response"]
            a, sa = d["greedy_acc"]
            out.append((f"{d['label']}: steps / response within 20% of {base_label}", abs(s - bs) <= 0.2 * bs,
                        f"{s:.2f} vs {bs:.2f} ({(s - bs) / bs:+.0%})"))
            out.append((f"{d['label']}: greedy accuracy >= {base_label} within noise (mean >= base mean - "
                        "base seed std)", a >= ba - bas, f"{a:.3f} ± {sa:.3f} vs {ba:.3f} ± {bas:.3f}"))
    return out


def write_tables(out: Path, exp, runs: list[dict], agg: dict, failed: list[dict], rewards: str = "rule",
                 preface: list[str] = ()) -> list[Path]:
    """results{suffix}.md / .csv and runs{suffix}.csv; `preface`: Markdown lines put before the table."""
    cols = ["initial_greedy_acc"] + [c for c, _, _ in METRICS]
    suffix = suffix_of(rewards)
    csv_path = out / f"results{suffix}.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["design", "label", "seeds_ok", "seeds_failed"] + [f"{c}_{s}" for c in cols for s in ("mean", "std")])
        for name, a in agg.items():
            w.writerow([name, a["label"], a["seeds_ok"], a["seeds_failed"]]
                       + [f"{x:.6g}" for c in cols for x in a[c]])
    runs_path = out / f"runs{suffix}.csv"
    with open(runs_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["design", "label", "seed", "seconds"] + cols)
        for r in runs:
            w.writerow([r["design"], r["label"], r["seed"], f"{r['seconds']:.1f}"] + [f"{r[c]:.6g}" for c in cols])
    lines = ["| design | seeds | " + " | ".join(label for _, _, label in METRICS) + " |",
             "| --- | --- | " + " | ".join("---" for _ in METRICS) + " |"]
    for name, a in agg.items():
        seeds = f"{a['seeds_ok']}" + (f" ({a['seeds_failed']} failed)" if a["seeds_failed"] else "")
        cells = [_cell(*a[c], 2 if c in ("steps_per_response", "response_length", "prm_return", "train_seconds")
                       else 3)
                 for c, _, _ in METRICS]
        lines.append(f"| {a['label']} | {seeds} | " + " | ".join(cells) + " |")
    title = "# Reward-design experiment: results" + (" with learned reward models" if rewards == "learned" else "")
    text = [title, "", *preface,
            f"Mean ± std over seeds {exp.seeds}. Accuracies: held-out problems at the end of training "
            f"(greedy, and one sample at T = 1). Steps, length, repeated-step fraction, PRM return, "
            f"train success, training time (the estimate + train phases of one iteration): the last "
            f"{TAIL_FRACTION:.0%} of training iterations.", "", *lines, ""]
    if failed:
        text += ["Runs missing from the table:", ""] + [f"- {f['design']} seed {f['seed']}: {f['why']}" for f in failed] + [""]
    checks = acceptance(agg)
    if checks:
        text += ["## Acceptance checks", ""]
        for what, ok, detail in checks:
            mark = "n/a" if ok is None else ("PASS" if ok else "FAIL")
            text.append(f"- **{mark}** {what}: {detail}")
        text.append("")
    md_path = out / f"results{suffix}.md"
    md_path.write_text("\n".join(text))
    return [md_path, csv_path, runs_path]


def _curve(train_rows: list[list[dict]], key: str) -> tuple[list[int], list[float]]:
    n = min(len(r) for r in train_rows)
    xs = list(range(1, n + 1))
    ys = [sum(r[i][key] for r in train_rows) / len(train_rows) for i in range(n)]
    return xs, ys


def _smooth(ys: list[float], window: int) -> list[float]:
    out = []
    for i in range(len(ys)):
        part = ys[max(0, i - window + 1):i + 1]
        out.append(sum(part) / len(part))
    return out


def _style(design) -> str:
    """Solid for PPO-GAE designs, dashed for the critic-free ones."""
    return "--" if "ppo.estimator" in design.overrides and design.overrides["ppo.estimator"] != "gae" else "-"


def write_plots(out: Path, exp, window: int = 5, rewards: str = "rule") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_design = {}
    dir_for, suffix = _dir_for(out, rewards), suffix_of(rewards)
    which = " (learned reward models)" if rewards == "learned" else ""
    for d in exp.designs:
        runs = [read_run(dir_for(d, s)) for s in exp.seeds]
        runs = [r for r in runs if r is not None and r["train"]]
        if runs:
            per_design[d.name] = (d, runs)
    if not per_design:
        return []
    # one colour per design (tab20 has 20; the default cycle repeats after 10)
    plt.rcParams["axes.prop_cycle"] = plt.cycler(color=plt.get_cmap("tab20").colors)
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
    for d, runs in per_design.values():
        xs, ys = _curve([r["train"] for r in runs], "success_rate")
        line, = axes[0].plot(xs, _smooth(ys, window), label=d.label, linestyle=_style(d))
        evals = {}
        for r in runs:
            for e in r["eval"]:
                evals.setdefault(e["iteration"], []).append(e["greedy_success"])
        its = sorted(i for i, v in evals.items() if len(v) == len(runs))
        axes[1].plot(its, [sum(evals[i]) / len(evals[i]) for i in its], marker="o", color=line.get_color(),
                     label=d.label, linestyle=_style(d))
    titles = ((f"train success (sampled, T=1; moving mean of {window})", "success rate"),
              ("held-out greedy accuracy", "accuracy"))
    paths = [_finish(fig, axes, titles, 1, f"accuracy over training{which} (mean over seeds {exp.seeds})",
                     out / f"accuracy{suffix}.png")]

    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
    for d, runs in per_design.values():
        for ax, key in zip(axes, ("steps_per_response", "repeated_step_fraction")):
            xs, ys = _curve([r["train"] for r in runs], key)
            ax.plot(xs, _smooth(ys, window), label=d.label, linestyle=_style(d))
    titles = (("steps per response (incl. the boxed line)", "steps"), ("repeated-step fraction", "fraction of steps"))
    paths.append(_finish(fig, axes, titles, 0, f"sampled responses over training{which} (moving mean of {window}; "
                         f"mean over seeds {exp.seeds})", out / f"steps{suffix}.png"))
    return paths


def _finish(fig, axes, titles, legend_on: int, suptitle: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    for ax, (title, ylabel) in zip(axes, titles):
        ax.set(title=title, xlabel="PPO iteration", ylabel=ylabel)
        ax.grid(alpha=0.3)
    axes[-1].legend(*axes[legend_on].get_legend_handles_labels(), fontsize=7, loc="upper left",
                    bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(suptitle)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def write_report(out: Path, exp, results=(), rewards: str = "rule") -> list[Path]:
    """The table, CSVs and plots of `rewards` ("rule" or "learned"; the learned report starts with the
    reward models' own table, `rm_report`); the Markdown table is the first path returned."""
    out.mkdir(parents=True, exist_ok=True)
    runs, agg, failed = collect(out, exp, rewards)
    preface, extra = [], []
    if rewards == "learned":
        from rltrain.experiments.rm_report import write_rm_report

        preface, extra = write_rm_report(out, exp.seeds)
    return write_tables(out, exp, runs, agg, failed, rewards, preface) + extra + write_plots(out, exp, rewards=rewards)
