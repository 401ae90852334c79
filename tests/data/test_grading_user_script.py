"""`Grader().grade(...)` from a user's plain script without an `if __name__ == "__main__":` guard: the
math-verify workers must not import the script again (they would grade and start workers of their own)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from trainer_runs import REPO, env

pytestmark = pytest.mark.slow  # starts processes or trains models

SCRIPT = """\
from rltrain.grading import Grader

grader = Grader()
result = grader.grade(["so the answer is \\\\boxed{\\\\frac{\\\\sqrt{2}}{2}}"], ["\\\\frac{1}{\\\\sqrt{2}}"])[0]
print("graded", result.score, result.reason)
grader.close()
"""


@pytest.mark.parametrize("how", ["script", "module"])
def test_unguarded_user_script_grades_with_workers(tmp_path, how):
    (tmp_path / "grade_it.py").write_text(SCRIPT)
    cmd = [sys.executable, "grade_it.py"] if how == "script" else [sys.executable, "-m", "grade_it"]
    proc = subprocess.run(cmd, cwd=tmp_path, env={**env(), "PYTHONPATH": f"{REPO}:{REPO / 'kernels'}:{tmp_path}"}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["graded 1.0 math_verify"]  # once: no worker ran the script again
