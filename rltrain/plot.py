"""`python -m rltrain.plot RUN_DIR [--out FILE]`: draw a run's metrics.jsonl curves to a PNG.

One panel per metric (success rate, PRM returns, KL, entropy, losses, lengths, repeated-step
fraction, phase times); held-out greedy / sampling success are drawn on the success panel.
A missing or malformed metrics.jsonl (file:line) or an --out that cannot be written is one line
on stderr, exit status 2.
"""
from __future__ import annotations

import sys
from pathlib import Path

from rltrain.errors import ArgumentParser, UserError, output_dir_problem, run_cli
from rltrain.metrics.records import read_metrics

PANELS = (
    ("success", ("success_rate",)),
    ("PRM return", ("prm_return_raw", "prm_return_shaped")),
    ("ORM score", ("orm_score",)),
    ("KL per response", ("kl_per_response",)),
    ("entropy", ("entropy",)),
    ("clip fraction", ("clip_fraction",)),
    ("value loss", ("value_loss",)),
    ("explained variance", ("explained_variance",)),
    ("response length", ("response_length",)),
    ("steps per response", ("steps_per_response",)),
    ("repeated-step fraction", ("repeated_step_fraction",)),
    ("time per phase (s)", ("time_rollout", "time_scoring", "time_training", "time_sync")),
)


def plot_run(run_dir: Path, out: Path | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, evals = read_metrics(run_dir, "train"), read_metrics(run_dir, "eval")
    cols = 4
    rows = (len(PANELS) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, (title, keys) in zip(axes.flat, PANELS):
        for key in keys:
            pts = [(r["iteration"], r[key]) for r in train if r.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), label=key)
        if title == "success":
            for key in ("greedy_success", "sampling_success"):
                pts = [(r["iteration"], r[key]) for r in evals if r.get(key) is not None]
                if pts:
                    ax.plot(*zip(*pts), marker="o", linestyle="--", label=f"held-out {key}")
        ax.set_title(title)
        ax.set_xlabel("iteration")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(PANELS):]:
        ax.axis("off")
    fig.tight_layout()
    target = out or run_dir / "curves.png"
    fig.savefig(target, dpi=80)
    plt.close(fig)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m rltrain.plot", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default: RUN_DIR/curves.png)")
    args = parser.parse_args(argv)

    def plot() -> int:
        if args.out is not None:
            problem = output_dir_problem(args.out.parent)
            if problem:
                raise UserError(f"--out {args.out}: its folder {args.out.parent}: {problem}")
            args.out.parent.mkdir(parents=True, exist_ok=True)
        print(plot_run(args.run_dir, args.out))
        return 0

    return run_cli(plot, args.out, catch=(FileNotFoundError, ValueError))  # no metrics.jsonl, a bad line


if __name__ == "__main__":
    sys.exit(main())
