"""The learned reward models' table of `reward_design --rewards learned`: per seed, what rm_train
trained on and its held-out ROC-AUC, and the restated-step probe (`learned_rewards.restated_probe`):
mean PRM score of new correct steps, a restated correct step (its first and third copy), the boxed
answer and wrong steps; mean ORM score of correct, restated-correct and wrong solutions.

Reads `<out>/reward_models/seed<k>/reward_models.json`; writes `<out>/reward_models.csv` and
returns the Markdown lines the learned results page starts with.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from rltrain.experiments.learned_rewards import SUMMARY

COLUMNS = (  # column, path in reward_models.json, header, digits
    ("prm_step_labels", "prm.labels", "PRM step labels", 0),
    ("prm_positive", "prm.positive_fraction", "good-step fraction", 3),
    ("prm_auc", "prm.held_out_roc_auc", "PRM held-out ROC-AUC", 3),
    ("orm_labels", "orm.labels", "ORM labels", 0),
    ("orm_positive", "orm.positive_fraction", "correct fraction", 3),
    ("orm_auc", "orm.held_out_roc_auc", "ORM held-out ROC-AUC", 3),
    ("prm_new", "probe.prm.new.mean", "PRM: new correct step", 3),
    ("prm_restated", "probe.prm.restated.mean", "PRM: restated correct step", 3),
    ("prm_restated_3", "probe.prm.restated_3.mean", "PRM: 3rd restatement", 3),
    ("prm_answer", "probe.prm.answer.mean", "PRM: boxed answer", 3),
    ("prm_wrong", "probe.prm.wrong.mean", "PRM: wrong step", 3),
    ("prm_restated_ge_new", "probe.prm_restated_ge_new_fraction", "restated >= new (fraction)", 3),
    ("orm_correct", "probe.orm.correct.mean", "ORM: correct solution", 3),
    ("orm_restated", "probe.orm.restated.mean", "ORM: correct, 1 step restated", 3),
    ("orm_wrong", "probe.orm.wrong.mean", "ORM: wrong solution", 3),
    ("seconds", None, "rm_train + probe s", 0),
)


def _get(tree: dict, dotted: str) -> float:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return float("nan")
        tree = tree[part]
    return float("nan") if tree is None else float(tree)


def rm_values(summary: dict) -> dict[str, float]:
    """One seed's row: every COLUMNS value (NaN where the summary lacks it)."""
    row = {col: _get(summary, path) for col, path, _, _ in COLUMNS if path}
    row["seconds"] = sum(_get(summary, f"{k}.seconds") for k in ("prm", "orm", "probe"))
    return row


def _fmt(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def write_rm_report(out: Path, seeds: list[int]) -> tuple[list[str], list[Path]]:
    """(Markdown lines: the reward models' table with a mean row, [reward_models.csv]); ([], []) when no
    seed has reward models yet."""
    rows = []
    for seed in seeds:
        path = out / "reward_models" / f"seed{seed}" / SUMMARY
        if path.is_file():
            rows.append((seed, rm_values(json.loads(path.read_text()))))
    if not rows:
        return [], []
    csv_path = out / "reward_models.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["seed"] + [c for c, _, _, _ in COLUMNS])
        for seed, r in rows:
            w.writerow([seed] + [f"{r[c]:.6g}" for c, _, _, _ in COLUMNS])
    lines = ["## The learned reward models", "",
             "Trained per seed by rm_train from the seed's initial policy (value heads on its backbone); the "
             "probe scores reference solutions of problems from their own stream as the trainer does (scores in "
             "(0, 1)).", "",
             "| seed | " + " | ".join(h for _, _, h, _ in COLUMNS) + " |",
             "| --- | " + " | ".join("---" for _ in COLUMNS) + " |"]
    for seed, r in rows:
        lines.append(f"| {seed} | " + " | ".join(_fmt(r[c], d) for c, _, _, d in COLUMNS) + " |")
    if len(rows) > 1:
        means = {c: sum(r[c] for _, r in rows) / len(rows) for c, _, _, _ in COLUMNS}
        lines.append("| mean | " + " | ".join(_fmt(means[c], d) for c, _, _, d in COLUMNS) + " |")
    return lines + ["", "## PPO with the learned reward models", ""], [csv_path]
