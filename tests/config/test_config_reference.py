"""The config reference is generated from the models: `--help` prints it, docs/trainer.md holds it."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from rltrain.config.reference import doc_section, markdown_reference, rows

REPO = Path(__file__).resolve().parents[2]


def test_every_key_has_a_description_and_a_default():
    table = rows()
    assert len(table) > 80 and len({r.key for r in table}) == len(table)
    assert [r.key for r in table if not r.description or not r.default] == []
    by_key = {r.key: r for r in table}
    assert by_key["ppo.actor_lr"].constraint == "finite, > 0"
    assert by_key["rollout.vllm.dtype"].type.startswith("one of trainer, auto")
    assert by_key["reward.step_delimiter"].default == '"\\n\\n"'


def test_the_trainer_doc_holds_the_generated_reference():
    doc = doc_section((REPO / "docs" / "trainer.md").read_text())
    assert doc, "docs/trainer.md lost its generated config reference"
    assert doc == markdown_reference(), "stale: run python -m rltrain.config.reference --write docs/trainer.md"


def test_help_prints_every_key():
    out = subprocess.run([sys.executable, str(REPO / "rltrain" / "main.py"), "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    printed = {m.group(1) for m in re.finditer(r"^  (\S+) = ", out.stdout, re.MULTILINE)}
    assert printed == {r.key for r in rows()}
