"""Tensor names shared by the trainer and the rollout engine, and the check between them.

vLLM's `reload_weights(..., is_checkpoint_format=True)` takes tensors under the names of the
Hugging Face checkpoint it was loaded from. `checkpoint_shapes(model_dir)` reads those names
and shapes from the checkpoint's safetensors headers (no tensor data is read);
`trainer_name` strips the wrapper prefixes that FSDP, activation checkpointing and
torch.compile insert into a module's parameter names; `check_names` turns any name the engine
does not know, a shape mismatch, or (for a full sync) a missing name into a ValueError.
"""
from __future__ import annotations

import json
import re
import struct
from difflib import get_close_matches
from pathlib import Path
from typing import Iterable, Mapping

# Path components inserted by wrappers: FSDP1, torch.distributed checkpoint_wrapper, torch.compile.
WRAPPER_COMPONENTS = ("_fsdp_wrapped_module", "_checkpoint_wrapped_module", "_orig_mod")

# Tied output embedding: a checkpoint saved with tie_word_embeddings omits it, yet vLLM
# accepts (and on CPU needs, to repack its lm_head) the shared tensor under this name.
TIED_ALIASES = {"lm_head.weight": "model.embed_tokens.weight"}


_LAYER_KEY = re.compile(r"^(.*?\.\d+)(\.|$)")


def layer_key(name: str) -> str:
    """The unit vLLM must receive whole in one reload call: the name up to its first numeric
    component ("model.layers.3.mlp.up_proj.weight" -> "model.layers.3"), else the whole name."""
    m = _LAYER_KEY.match(name)
    return m.group(1) if m else name


def trainer_name(name: str) -> str:
    """`name` with wrapper components removed, e.g. "_orig_mod.model._fsdp_wrapped_module.norm.weight"
    -> "model.norm.weight"."""
    return ".".join(part for part in name.split(".") if part not in WRAPPER_COMPONENTS)


def _safetensors_header(path: Path) -> dict:
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))


def checkpoint_shapes(model_dir: str | Path) -> dict[str, tuple[int, ...]]:
    """{tensor name: shape} of every tensor in `model_dir`'s *.safetensors files, plus the tied
    aliases of `tied_aliases(model_dir)` (shape of their target).

    ValueError when the directory holds no safetensors file (names could not be checked).
    """
    directory = Path(model_dir)
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise ValueError(f"checkpoint_shapes: no *.safetensors file in {str(directory)!r}; "
                         "save the model with `save_pretrained(..., safe_serialization=True)`")
    shapes: dict[str, tuple[int, ...]] = {}
    for path in files:
        for name, meta in _safetensors_header(path).items():
            if name != "__metadata__":
                shapes[name] = tuple(int(d) for d in meta["shape"])
    for alias, target in _tied(directory, shapes).items():
        shapes[alias] = shapes[target]
    return shapes


def _tied(directory: Path, stored: Mapping[str, object]) -> dict[str, str]:
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if not config.get("tie_word_embeddings", False):
        return {}
    return {alias: target for alias, target in TIED_ALIASES.items() if target in stored and alias not in stored}


def tied_aliases(model_dir: str | Path) -> dict[str, str]:
    """{alias: target} for tied tensors the checkpoint stores once (e.g. lm_head.weight ->
    model.embed_tokens.weight when config.json has tie_word_embeddings)."""
    directory = Path(model_dir)
    stored = {n for path in sorted(directory.glob("*.safetensors")) for n in _safetensors_header(path)}
    return _tied(directory, dict.fromkeys(stored))


def check_names(sent: Mapping[str, tuple[int, ...]], expected: Mapping[str, tuple[int, ...]], *,
                require_all: bool = False) -> None:
    """ValueError if a name in `sent` is not in `expected`, a shape differs, or (require_all)
    an expected name (tied aliases excepted) is not sent."""
    unknown = [n for n in sent if n not in expected]
    if unknown:
        hints = {n: get_close_matches(n, list(expected), n=1) for n in unknown[:5]}
        detail = "; ".join(f"{n!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for n, h in hints.items())
        raise ValueError(f"weight sync: {len(unknown)} tensor name(s) unknown to the rollout engine's "
                         f"checkpoint: {detail}. Map trainer names to the checkpoint's names "
                         "(wrapper prefixes are stripped by `trainer_name`).")
    for name, shape in sent.items():
        if tuple(shape) != tuple(expected[name]):
            raise ValueError(f"weight sync: `{name}` has shape {tuple(shape)}, the rollout engine "
                             f"expects {tuple(expected[name])}")
    if require_all:
        missing = sorted(n for n in expected if n not in sent and n not in TIED_ALIASES)
        if missing:
            raise ValueError(f"weight sync: {len(missing)} tensor(s) of the rollout engine were not sent "
                             f"(the engine would keep stale values): {missing[:5]}")


def check_whole_layers(sent: Iterable[str], expected: Mapping[str, tuple[int, ...]],
                       tied: Mapping[str, str]) -> None:
    """ValueError unless, for every layer (`layer_key`) that `sent` touches, all of the layer's
    expected tensors are sent (vLLM leaves a fused layer such as qkv_proj half-loaded otherwise)."""
    names = set(sent)
    by_layer: dict[str, list[str]] = {}
    for name in expected:
        if name not in tied:
            by_layer.setdefault(layer_key(name), []).append(name)
    for key in sorted({layer_key(n) for n in names}):
        missing = [n for n in by_layer.get(key, []) if n not in names]
        if missing:
            raise ValueError(f"weight sync: layer {key!r} is incomplete in this reload (missing {missing[:4]}); "
                             "vLLM would leave it half-loaded. Send each layer's tensors in one bucket.")


def names_and_shapes(named_tensors: Iterable[tuple[str, object]]) -> dict[str, tuple[int, ...]]:
    """{name: shape} of (name, tensor) pairs; ValueError on a repeated name."""
    out: dict[str, tuple[int, ...]] = {}
    for name, tensor in named_tensors:
        if name in out:
            raise ValueError(f"weight sync: tensor name {name!r} given twice")
        out[name] = tuple(tensor.shape)  # type: ignore[attr-defined]
    return out
