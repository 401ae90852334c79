"""What a config value names: a local path or a Hugging Face Hub id (model sources), a `hub:` dataset,
the built-in scorer module."""
from __future__ import annotations

import re
from pathlib import Path

HUB_PREFIX = "hub:"  # data.source = hub:<repo>[@<config>]
BUILTIN_SCORERS = "scorers"  # reward.scorer_module: rltrain's own reward-model loaders
LOCAL_PREFIXES = ("/", "./", "../", "~")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def looks_local(value: str) -> bool:
    """A path rather than a Hub id: an explicit local prefix, not of the form org/name, or a first
    component that exists here."""
    return value.startswith(LOCAL_PREFIXES) or not _HUB_ID.match(value) or Path(value.split("/")[0]).exists()
