"""Step delimiters: which tokens close a reasoning step, whatever the tokenizer's split.

A step ends where the response TEXT has the delimiter (DESIGN.md "Step segmentation"). The
text rule, over the UTF-8 bytes of the text and of the delimiter D:

- occurrences of D are found left to right without overlap; when D is one byte repeated
  ("\\n\\n", "\\n"), a longer run of that byte is one occurrence ("\\n\\n\\n" closes one step);
- a step ends after each occurrence, unless only ASCII whitespace follows it (a trailing
  blank line, or nothing, never opens an empty last step);
- the text is cut there; the pieces concatenate back to the text.

Token level, the same rule is a small automaton over bytes, run token by token: state
0 .. m-1 is how much of D is matched (KMP), state m ("run") means the text so far ends with a
complete occurrence. Each vocabulary token gets one int64 table entry (`StepDelimiter.table`):

    bits 4s .. 4s+3   the state after the token when it starts in state s (s < 12)
    bit 48 + s        a run ends strictly inside the token when it starts in state s
    bit 60            the token's first byte would continue a run (D is one byte repeated)
    bit 61            the token's text is empty or ASCII whitespace ("blank")
    bit 62            the state map is "add": s -> min(s + v, m) with v = the state from 0
                      (otherwise it is constant); `simple` tables only have these two kinds

A valid token t closes a step when a run ends inside it, or the state after it is "run" and
the next valid token does not continue the run; such an end counts only when a non-blank token
follows it. The last valid token always closes a step. A plain set of separator ids is the
same automaton with two states: a separator token sets "run" and continues one.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch

from rltrain_kernels.options import MAX_STATES, MAX_TOKEN_ID

INTERNAL_SHIFT = 48
CONTINUES_BIT = 60
BLANK_BIT = 61
ADD_BIT = 62
_ASCII_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")


class _ByteAutomaton:
    """The text rule as a byte automaton: `step(state, byte) -> (state, a run ended before byte)`."""

    def __init__(self, delimiter: bytes):
        self.delimiter = delimiter
        self.run = len(delimiter)
        self.repeat = len(set(delimiter)) == 1
        fail = [0] * len(delimiter)
        k = 0
        for i in range(1, len(delimiter)):
            while k and delimiter[i] != delimiter[k]:
                k = fail[k - 1]
            if delimiter[i] == delimiter[k]:
                k += 1
            fail[i] = k
        self.fail = fail

    def step(self, state: int, byte: int) -> tuple[int, bool]:
        ended = False
        if state == self.run:
            if self.repeat and byte == self.delimiter[-1]:
                return state, False
            state, ended = 0, True
        d = self.delimiter
        while state and d[state] != byte:
            state = self.fail[state - 1]
        if d[state] == byte:
            state += 1
        return state, ended

    def run_token(self, data: bytes, state: int) -> tuple[int, bool]:
        """(state after `data`, whether a run ends strictly inside `data`) from `state`."""
        internal = False
        for i, byte in enumerate(data):
            state, ended = self.step(state, byte)
            internal |= ended and i > 0
        return state, internal

    def cut_points(self, data: bytes) -> list[int]:
        """Byte offsets where a step ends (the run before each offset is complete)."""
        cuts, state = [], 0
        for i, byte in enumerate(data):
            state, ended = self.step(state, byte)
            if ended:
                cuts.append(i)
        return cuts


def _is_blank(data: bytes) -> bool:
    return all(b in _ASCII_WHITESPACE for b in data)


def delimiter_bytes(delimiter: object) -> bytes:
    """The UTF-8 bytes of a valid delimiter; ValueError for an empty or over-long one."""
    if isinstance(delimiter, str):
        delimiter = delimiter.encode("utf-8")
    if not isinstance(delimiter, bytes) or not delimiter:
        raise ValueError(f"StepDelimiter: `delimiter` must be a non-empty string, got {delimiter!r}")
    if len(delimiter) >= MAX_STATES:
        raise ValueError(f"StepDelimiter: `delimiter` may be at most {MAX_STATES - 1} bytes long (UTF-8), "
                         f"got {len(delimiter)}: {delimiter!r}")
    return delimiter


def split_text(text: str, delimiter: str) -> list[str]:
    """Split `text` into steps by the text rule (module docstring); the pieces concatenate to
    `text`; "" -> []. Raises ValueError for an empty or over-long delimiter."""
    data = text.encode("utf-8")
    auto = _ByteAutomaton(delimiter_bytes(delimiter))
    cuts = [c for c in auto.cut_points(data) if not _is_blank(data[c:])]
    bounds = [0, *cuts, len(data)]
    return [data[a:b].decode("utf-8") for a, b in zip(bounds, bounds[1:]) if b > a]


def _pack_entry(states: Sequence[int], internal: Sequence[bool], *, continues: bool, blank: bool,
                add: bool) -> int:
    entry = 0
    for s, (nxt, inside) in enumerate(zip(states, internal)):
        entry |= nxt << (4 * s)
        entry |= int(inside) << (INTERNAL_SHIFT + s)
    entry |= int(continues) << CONTINUES_BIT | int(blank) << BLANK_BIT | int(add) << ADD_BIT
    return entry


def _map_kind(states: Sequence[int], run: int) -> str | None:
    """"const" / "add" when the state map has one of the two `simple` forms, else None."""
    if len(set(states)) == 1:
        return "const"
    v = states[0]
    if all(nxt == min(s + v, run) for s, nxt in enumerate(states)):
        return "add"
    return None


@dataclass(frozen=True, eq=False)
class StepDelimiter:
    """What the step kernels take as `separator_ids` when steps follow the response text.

    table: [V + 1] int64 on CPU, one entry per token id (layout: module docstring); the last
    entry is used for ids outside [0, V) (negative padding ids, unknown ids).
    num_states: m + 1 for a delimiter of m bytes (2 for a plain id set); `run` = m.
    simple: every state map is constant or a saturating add (true for a delimiter of one
    repeated byte and for id sets), which the kernels scan with a cheaper operator.
    delimiter: the text delimiter, or None for a plain id set.

    Build with `from_token_texts` (rltrain: `rltrain.data.separator_token_ids(tokenizer)`)
    or `from_ids`. Equal ids / texts give equal results on every backend.
    """

    table: torch.Tensor
    num_states: int
    simple: bool
    delimiter: str | None = None
    _on_device: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def run_state(self) -> int:
        return self.num_states - 1

    @property
    def vocab_size(self) -> int:
        return self.table.numel() - 1

    @classmethod
    def from_token_texts(cls, texts: Iterable[str | bytes], delimiter: str) -> "StepDelimiter":
        """One text per token id (str or the token's exact bytes; special tokens: "").

        Raises ValueError for an empty delimiter or one of MAX_STATES bytes or more.
        """
        raw = delimiter_bytes(delimiter)
        auto = _ByteAutomaton(raw)
        run, starts = auto.run, range(auto.run + 1)
        relevant = frozenset(raw)
        plain = _pack_entry([0] * (run + 1), [False] * (run + 1), continues=False, blank=False, add=False)
        entries, simple = [], True
        for text in texts:
            data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
            blank = _is_blank(data)
            if not relevant.intersection(data):
                entries.append(plain | (int(blank) << BLANK_BIT) if data else cls._empty_entry(run))
                continue
            ends = [auto.run_token(data, s) for s in starts]
            states = [e[0] for e in ends]
            kind = _map_kind(states, run)
            simple &= kind is not None
            entries.append(_pack_entry(states, [e[1] for e in ends], blank=blank, add=kind == "add",
                                       continues=auto.repeat and data[0] == raw[-1]))
        entries.append(cls._empty_entry(run))
        return cls(torch.tensor(entries, dtype=torch.int64), run + 1, simple, raw.decode("utf-8"))

    @staticmethod
    def _empty_entry(run: int) -> int:
        """A token without text: the identity map (an "add" of 0), blank."""
        return _pack_entry(list(range(run + 1)), [False] * (run + 1), continues=False, blank=True, add=True)

    @classmethod
    def from_ids(cls, separator_ids: Iterable[int]) -> "StepDelimiter":
        """A plain separator set: each maximal run of these ids closes one step at its last token.
        Raises ValueError for an id outside [0, MAX_TOKEN_ID]."""
        ids = tuple(sorted(set(int(i) for i in separator_ids)))
        if ids and not 0 <= ids[0] <= ids[-1] <= MAX_TOKEN_ID:
            raise ValueError(f"StepDelimiter: separator ids must be in [0, {MAX_TOKEN_ID}] (a vocabulary id), "
                             f"got {ids[0] if ids[0] < 0 else ids[-1]}")
        return _from_ids_cached(ids)

    def split_text(self, text: str) -> list[str]:
        """The text rule for this delimiter (see `split_text`); id sets have no text rule."""
        if self.delimiter is None:
            raise ValueError("StepDelimiter.split_text: built from token ids, it has no text delimiter")
        return split_text(text, self.delimiter)

    @property
    def constant_maps(self) -> bool:
        """Every token sets the state whatever it was (plain id sets): no scan is needed."""
        return self._derived()["constant"]

    @property
    def has_internal_ends(self) -> bool:
        """Some token holds a whole run end inside it (e.g. "\n\n " for "\n\n")."""
        return self._derived()["internal_ends"]

    @property
    def has_blank_tokens(self) -> bool:
        """Some token has no text or only whitespace (never for plain id sets)."""
        return self._derived()["blank_tokens"]

    def table_on(self, device: torch.device) -> torch.Tensor:
        """The table on `device` (copied once per device)."""
        return self._on(device, "table")

    def small_tables_on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The table split into narrow per-token fields, for the torch reference, on `device`:
        codes [V + 1] uint8 (bits 0-3 the state from state 0, 4 "add", 5 "continues", 6 "blank")
        and internal [V + 1] int16 (bit s: a run ends inside the token from state s)."""
        return self._on(device, "codes"), self._on(device, "internal")

    def _derived(self) -> dict:
        if "cpu:codes" not in self._on_device:
            t = self.table
            codes = ((t & 15) | ((t >> ADD_BIT) & 1) << 4 | ((t >> CONTINUES_BIT) & 1) << 5
                     | ((t >> BLANK_BIT) & 1) << 6)
            self._on_device["cpu:codes"] = codes.to(torch.uint8)
            self._on_device["cpu:internal"] = ((t >> INTERNAL_SHIFT) & ((1 << MAX_STATES) - 1)).to(torch.int16)
            self._on_device["cpu:table"] = t
            self._on_device["constant"] = not bool(((t >> ADD_BIT) & 1).any()) and self.simple
            self._on_device["internal_ends"] = bool(self._on_device["cpu:internal"].any())
            self._on_device["blank_tokens"] = bool(((t >> BLANK_BIT) & 1).any())
        return self._on_device

    def _on(self, device: torch.device, name: str) -> torch.Tensor:
        derived = self._derived()
        key = f"{device}:{name}"
        if key not in derived:
            derived[key] = derived[f"cpu:{name}"].to(device)
        return derived[key]


@functools.lru_cache(maxsize=64)
def _from_ids_cached(ids: tuple[int, ...]) -> StepDelimiter:
    sep = _pack_entry([1, 1], [False, False], continues=True, blank=False, add=False)
    other = _pack_entry([0, 0], [False, False], continues=False, blank=False, add=False)
    table = torch.full((max(ids, default=-1) + 2,), other, dtype=torch.int64)
    if ids:
        table[list(ids)] = sep
    return StepDelimiter(table, 2, True, None)
