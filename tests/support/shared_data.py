"""Paths to the offline datasets beside the checkout (../shared/data) and skip markers for them."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def data_file(relative: str) -> Path:
    """The shared data file, or skip the test with the reason when it is absent."""
    path = DATA_DIR / relative
    if not path.is_file():
        pytest.skip(f"shared dataset {relative} not found at {path} (see DESIGN.md 'Data available to tests')")
    return path
