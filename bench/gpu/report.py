"""The GPU check's output: one markdown table and the same rows as JSON."""
from __future__ import annotations

import json
from pathlib import Path

from bench.gpu.rows import Row


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def write_report(out_dir: Path, header: dict, rows: list[Row], failing: list[str], errors: list[str]) -> Path:
    """Write gpu_check.md and gpu_check.json into `out_dir`; returns the markdown path."""
    lines = [f"# GPU check, {header['date']}", "",
             *(f"- {k}: {v}" for k, v in header.items() if k != "date"), "",
             "| check | value | unit | goal | met | detail |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        met = "" if r.ok is None else ("yes" if r.ok else "**no**")
        lines.append(f"| {r.check} | {_fmt(r.value)} | {r.unit} | {r.goal} | {met} | {r.detail} |")
    if failing:
        lines += ["", "Failing tests:", "", *(f"- `{f}`" for f in failing)]
    if errors:
        lines += ["", "Steps that did not finish:", "", *(f"- {e}" for e in errors)]
    md = out_dir / "gpu_check.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out_dir / "gpu_check.json").write_text(json.dumps(
        {"header": header, "rows": [r.to_dict() for r in rows], "failing_tests": failing, "errors": errors},
        indent=2) + "\n", encoding="utf-8")
    return md
